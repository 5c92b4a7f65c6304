//go:build !amd64

package kernels

import "github.com/lrchip/lrchip/firmware/isa"

// Available reports whether this machine runs the vector kernels: never on this architecture.
var Available = false

// Exec reports false: there are no vector kernels on this architecture.
func Exec(op isa.Opcode, d, a, b, c []int32, n int32) bool { return false }

// Spike is never called where Available is false.
func Spike(spiked, payload, cond, val []int32) {
	panic("kernels: no vector kernels on this architecture")
}
