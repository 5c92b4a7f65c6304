//go:build amd64

package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/lrchip/lrchip/firmware/isa"
)

// Available reports whether this machine runs the vector kernels (AVX2 at least).
var Available = cpu.X86.HasAVX2

// Set is one family of kernels.
type Set struct {
	Name                                                      string
	add, sub, mul, min, max, and, or, xor, shl, shr, sra, ash func(d, a, b *int32, n int)
	rand                                                      func(d, a, b *int32, n int)
	seq, sne, slt, sle, sgt, sge                              func(d, a, b *int32, n int)
	neg, abs, not                                             func(d, a *int32, n int)
	sel                                                       func(d, a, b, c *int32, n int)
	mulz                                                      func(d, a, b *int32, n int, s uint64)
	sat, wrap                                                 func(d, a *int32, n int, x int32)
	spike                                                     func(mask *uint8, payload, cond, val *int32, n int, binary bool)
}

var avx2 = &Set{Name: "avx2",
	add: addAVX2, sub: subAVX2, mul: mulAVX2, min: minAVX2, max: maxAVX2, and: andAVX2, or: orAVX2, xor: xorAVX2,
	shl: shlAVX2, shr: shrAVX2, sra: sraAVX2, ash: ashAVX2, rand: randAVX2,
	seq: seqAVX2, sne: sneAVX2, slt: sltAVX2, sle: sleAVX2, sgt: sgtAVX2, sge: sgeAVX2,
	neg: negAVX2, abs: absAVX2, not: notAVX2, sel: selAVX2, mulz: mulzAVX2, sat: satAVX2, wrap: wrapAVX2, spike: spikeAVX2}

var avx512 = &Set{Name: "avx512",
	add: addAVX512, sub: subAVX512, mul: mulAVX512, min: minAVX512, max: maxAVX512, and: andAVX512, or: orAVX512, xor: xorAVX512,
	shl: shlAVX512, shr: shrAVX512, sra: sraAVX512, ash: ashAVX512, rand: randAVX512,
	seq: seqAVX512, sne: sneAVX512, slt: sltAVX512, sle: sleAVX512, sgt: sgtAVX512, sge: sgeAVX512,
	neg: negAVX512, abs: absAVX512, not: notAVX512, sel: selAVX512, mulz: mulzAVX512, sat: satAVX512, wrap: wrapAVX512, spike: spikeAVX512}

// Sets lists the kernel families this machine can run, fastest first.
func Sets() []*Set {
	var out []*Set
	if cpu.X86.HasAVX512F {
		out = append(out, avx512)
	}
	if cpu.X86.HasAVX2 {
		out = append(out, avx2)
	}
	return out
}

// Best is the fastest family this machine runs, or nil.
func Best() *Set {
	if s := Sets(); len(s) > 0 {
		return s[0]
	}
	return nil
}

// Exec runs op over the len(d) elements of a tile, len(d) a positive multiple of Lanes, and
// reports whether op has a vector kernel (false: the caller runs it another way). Operands an
// opcode reads must be at least as long as d; that is checked, because the kernels would
// otherwise read past them.
func (k *Set) Exec(op isa.Opcode, d, a, b, c []int32, n int32) bool {
	m := len(d)
	if m == 0 || m%Lanes != 0 {
		panic("kernels: tile length is not a positive multiple of Lanes")
	}
	switch op {
	case isa.OpNeg, isa.OpAbs, isa.OpNot, isa.OpSat, isa.OpWrap, isa.OpMov:
		_ = a[m-1]
	case isa.OpSel:
		_, _, _ = a[m-1], b[m-1], c[m-1]
	default:
		if op.Info() != nil && (op.Info().Shape == isa.ShapeDSS || op.Info().Shape == isa.ShapeDSSN) {
			_, _ = a[m-1], b[m-1]
		}
	}
	var f func(d, a, b *int32, n int)
	switch op {
	case isa.OpMov:
		copy(d, a[:m])
		return true
	case isa.OpAdd:
		f = k.add
	case isa.OpSub:
		f = k.sub
	case isa.OpMul:
		f = k.mul
	case isa.OpMin:
		f = k.min
	case isa.OpMax:
		f = k.max
	case isa.OpAnd:
		f = k.and
	case isa.OpOr:
		f = k.or
	case isa.OpXor:
		f = k.xor
	case isa.OpShl:
		f = k.shl
	case isa.OpShr:
		f = k.shr
	case isa.OpSra:
		f = k.sra
	case isa.OpAsh:
		f = k.ash
	case isa.OpRand:
		f = k.rand
	case isa.OpSeq:
		f = k.seq
	case isa.OpSne:
		f = k.sne
	case isa.OpSgt:
		f = k.sgt
	case isa.OpSle:
		f = k.sle
	case isa.OpSlt:
		f = k.slt
	case isa.OpSge:
		f = k.sge
	case isa.OpNeg:
		k.neg(&d[0], &a[0], m)
		return true
	case isa.OpAbs:
		k.abs(&d[0], &a[0], m)
		return true
	case isa.OpNot:
		k.not(&d[0], &a[0], m)
		return true
	case isa.OpSel:
		k.sel(&d[0], &a[0], &b[0], &c[0], m)
		return true
	case isa.OpMulZ:
		k.mulz(&d[0], &a[0], &b[0], m, uint64(n))
		return true
	case isa.OpSat:
		k.sat(&d[0], &a[0], m, int32(int64(1)<<(n-1)-1))
		return true
	case isa.OpWrap:
		k.wrap(&d[0], &a[0], m, int32(1)<<(n-1))
		return true
	default:
		return false
	}
	f(&d[0], &a[0], &b[0], m)
	return true
}

// Spike records spikes where cond != 0: it sets the neuron's bit in mask (neuron i of the
// tile is bit i%8 of mask[i/8]) and payload = val (all 32 bits), or 1 when val is nil
// (a binary spike). Lengths as for Exec; mask has len(payload)/8 bytes.
func (k *Set) Spike(mask []uint8, payload, cond, val []int32) {
	m := len(payload)
	if m == 0 || m%Lanes != 0 {
		panic("kernels: tile length is not a positive multiple of Lanes")
	}
	_, _ = mask[m/8-1], cond[m-1]
	if val == nil {
		k.spike(&mask[0], &payload[0], &cond[0], &cond[0], m, true)
		return
	}
	_ = val[m-1]
	k.spike(&mask[0], &payload[0], &cond[0], &val[0], m, false)
}

// Binary returns the kernel of a two-operand opcode that takes only d, a, b and the length,
// or nil. The caller guarantees that d, a and b hold n elements, n a positive multiple of
// Lanes: it saves Exec's dispatch and checks where the interpreter has already sliced the
// operands to the tile.
func (k *Set) Binary(op isa.Opcode) func(d, a, b *int32, n int) {
	switch op {
	case isa.OpAdd:
		return k.add
	case isa.OpSub:
		return k.sub
	case isa.OpMul:
		return k.mul
	case isa.OpMin:
		return k.min
	case isa.OpMax:
		return k.max
	case isa.OpAnd:
		return k.and
	case isa.OpOr:
		return k.or
	case isa.OpXor:
		return k.xor
	case isa.OpShl:
		return k.shl
	case isa.OpShr:
		return k.shr
	case isa.OpSra:
		return k.sra
	case isa.OpAsh:
		return k.ash
	case isa.OpRand:
		return k.rand
	case isa.OpSeq:
		return k.seq
	case isa.OpSne:
		return k.sne
	case isa.OpSlt:
		return k.slt
	case isa.OpSle:
		return k.sle
	case isa.OpSgt:
		return k.sgt
	case isa.OpSge:
		return k.sge
	}
	return nil
}

// Other returns the kernel of an opcode that Binary does not cover, with its immediate n bound,
// as a function of every operand (those the opcode does not read are ignored), or nil. The
// caller guarantees the lengths as for Binary.
func (k *Set) Other(op isa.Opcode, n int32) func(d, a, b, c *int32, m int) {
	switch op {
	case isa.OpNeg:
		return func(d, a, _, _ *int32, m int) { k.neg(d, a, m) }
	case isa.OpAbs:
		return func(d, a, _, _ *int32, m int) { k.abs(d, a, m) }
	case isa.OpNot:
		return func(d, a, _, _ *int32, m int) { k.not(d, a, m) }
	case isa.OpSel:
		return k.sel
	case isa.OpMulZ:
		s := uint64(n)
		return func(d, a, b, _ *int32, m int) { k.mulz(d, a, b, m, s) }
	case isa.OpSat:
		lim := int32(int64(1)<<(n-1) - 1)
		return func(d, a, _, _ *int32, m int) { k.sat(d, a, m, lim) }
	case isa.OpWrap:
		h := int32(1) << (n - 1)
		return func(d, a, _, _ *int32, m int) { k.wrap(d, a, m, h) }
	}
	return nil
}

// GatherRows copies, for each source neuron s in fired, its synapse row — rows[s·stride] is
// the row's offset in data and rows[s·stride+1] its synapses, of width units each — into dst,
// one row after another, and returns the units copied, or false where this machine has no
// kernel for it. It copies whole chunks of 32 units, at least one per row, without looking at
// the bits: the caller guarantees 32 spare units in dst past the total and in data past every
// row, and that every index is in range.
func GatherRows(dst, data []uint16, rows, fired []int32, stride, width int) (int, bool) {
	if !Available {
		return 0, false
	}
	if len(fired) == 0 {
		return 0, true
	}
	return gatherRowsAVX2(&dst[0], &data[0], &rows[0], &fired[0], len(fired), stride, width), true
}
