// Package firmware holds what runs on the board, as data: the neuron-microcode instruction
// set and its assembler (isa, asm), the standard neuron programs (programs), synapse formats
// (syn), and the board protocol's register map and record formats (regmap). It is the single
// source of truth for every number that crosses the wire; the tables in docs/, the C header
// include/lrchip_regmap.h and the udev rules in ../udev are generated from it with
// `go generate ./firmware/...`.
package firmware

//go:generate go run ./internal/gendoc/cmd -header include/lrchip_regmap.h -udev ../udev/70-lrchip.rules ../docs/chip.md ../docs/regmap.md
