package emu

import "github.com/lrchip/lrchip/firmware/isa"

// executor runs one per-neuron instruction over a tile: d = op(a, b, c, n), element by element.
// Every slice has the length of d (operands a instruction does not read are nil).
type executor func(op isa.Opcode, d, a, b, c []int32, n int32)

// execGo is the portable executor: one loop per opcode, so the dispatch is paid once per
// instruction and tile, and each loop is simple enough for the compiler to drop bounds checks.
func execGo(op isa.Opcode, d, a, b, c []int32, n int32) {
	switch op {
	case isa.OpMov:
		copy(d, a[:len(d)])
	case isa.OpNeg:
		a = a[:len(d)]
		for i := range d {
			d[i] = -a[i]
		}
	case isa.OpAbs:
		a = a[:len(d)]
		for i := range d {
			x := a[i]
			if x < 0 {
				x = -x
			}
			d[i] = x
		}
	case isa.OpNot:
		a = a[:len(d)]
		for i := range d {
			d[i] = ^a[i]
		}
	case isa.OpAdd:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] + b[i]
		}
	case isa.OpSub:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] - b[i]
		}
	case isa.OpMul:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] * b[i]
		}
	case isa.OpMin:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = min(a[i], b[i])
		}
	case isa.OpMax:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = max(a[i], b[i])
		}
	case isa.OpAnd:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] & b[i]
		}
	case isa.OpOr:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] | b[i]
		}
	case isa.OpXor:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] ^ b[i]
		}
	case isa.OpSel:
		a, b, c = a[:len(d)], b[:len(d)], c[:len(d)]
		for i := range d {
			if a[i] != 0 {
				d[i] = b[i]
			} else {
				d[i] = c[i]
			}
		}
	case isa.OpSeq, isa.OpSne, isa.OpSlt, isa.OpSle, isa.OpSgt, isa.OpSge:
		compare(op, d, a[:len(d)], b[:len(d)])
	case isa.OpShl:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = isa.Shl(a[i], b[i])
		}
	case isa.OpSra:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = isa.Sra(a[i], b[i])
		}
	case isa.OpAsh:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = isa.Ash(a[i], b[i])
		}
	case isa.OpMulZ:
		a, b = a[:len(d)], b[:len(d)]
		s := uint(n)
		for i := range d {
			p := int64(a[i]) * int64(b[i])
			// Truncate toward zero: add 2^s − 1 to negative products before the shift.
			p += (p >> 63) & (1<<s - 1)
			d[i] = int32(p >> s)
		}
	case isa.OpMulF:
		a, b = a[:len(d)], b[:len(d)]
		s := uint(n)
		for i := range d {
			d[i] = int32((int64(a[i]) * int64(b[i])) >> s)
		}
	case isa.OpSat:
		a = a[:len(d)]
		lim := int32(int64(1)<<(n-1) - 1)
		for i := range d {
			d[i] = max(-lim, min(lim, a[i]))
		}
	case isa.OpWrap:
		a = a[:len(d)]
		for i := range d {
			d[i] = isa.Wrap(a[i], n)
		}
	case isa.OpRand:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = isa.Rand(a[i], b[i])
		}
	default:
		// The rest (shifts by per-neuron amounts, division, saturating add) use the reference
		// ALU directly: rare in neuron programs and full of edge cases.
		execRef(op, d, a, b, c, n)
	}
}

func compare(op isa.Opcode, d, a, b []int32) {
	switch op {
	case isa.OpSeq:
		for i := range d {
			d[i] = b2i(a[i] == b[i])
		}
	case isa.OpSne:
		for i := range d {
			d[i] = b2i(a[i] != b[i])
		}
	case isa.OpSlt:
		for i := range d {
			d[i] = b2i(a[i] < b[i])
		}
	case isa.OpSle:
		for i := range d {
			d[i] = b2i(a[i] <= b[i])
		}
	case isa.OpSgt:
		for i := range d {
			d[i] = b2i(a[i] > b[i])
		}
	default:
		for i := range d {
			d[i] = b2i(a[i] >= b[i])
		}
	}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// execRef runs an instruction through the reference ALU, one neuron at a time.
func execRef(op isa.Opcode, d, a, b, c []int32, n int32) {
	for i := range d {
		var x, y, z int32
		if a != nil {
			x = a[i]
		}
		if b != nil {
			y = b[i]
		}
		if c != nil {
			z = c[i]
		}
		d[i] = isa.ALU(op, x, y, z, n)
	}
}
