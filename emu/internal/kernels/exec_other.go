//go:build !amd64

package kernels

import "github.com/lrchip/lrchip/firmware/isa"

// Available reports whether this machine runs the vector kernels: never on this architecture.
var Available = false

// Set is one family of kernels; there are none on this architecture.
type Set struct{ Name string }

// Sets lists the kernel families this machine can run: none.
func Sets() []*Set { return nil }

// Best returns nil: there are no vector kernels on this architecture.
func Best() *Set { return nil }

// Exec is never called where Available is false.
func (k *Set) Exec(op isa.Opcode, d, a, b, c []int32, n int32) bool { return false }

// Spike is never called where Available is false.
func (k *Set) Spike(mask []uint8, payload, cond, val []int32) {
	panic("kernels: no vector kernels on this architecture")
}

// Binary returns nil: there are no vector kernels on this architecture.
func (k *Set) Binary(op isa.Opcode) func(d, a, b *int32, n int) { return nil }

// Other returns nil: there are no vector kernels on this architecture.
func (k *Set) Other(op isa.Opcode, n int32) func(d, a, b, c *int32, m int) { return nil }

// GatherRows reports false: there are no kernels on this architecture.
func GatherRows(dst, data []uint16, rows, fired []int32, stride, width int) (int, bool) {
	return 0, false
}
