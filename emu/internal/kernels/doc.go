// Package kernels holds the vector kernels of the emulator's neuron-program interpreter: one
// function per instruction, each running over a tile of neurons. The amd64 AVX2 kernels are
// generated with avo (gen/); Available reports whether this machine can run them.
// Every kernel processes n elements, n a positive multiple of Lanes; callers pad their arrays.
package kernels

//go:generate go run ./gen -out kernels_amd64.s -stubs kernels_amd64.go -pkg kernels

// Lanes is the granularity of every kernel: n must be a positive multiple of it.
const Lanes = 16
