// Package firmware holds what runs on the board, as data: the neuron-microcode instruction
// set and its assembler (isa, asm), the standard neuron programs (programs), synapse formats
// (syn). It is the single source of truth for every number that crosses the wire; the tables
// in docs/ are generated from it with `go generate ./firmware/...`.
package firmware

//go:generate go run ./internal/gendoc/cmd ../docs/chip.md
