//go:build amd64

package kernels

import (
	"golang.org/x/sys/cpu"

	"github.com/lrchip/lrchip/firmware/isa"
)

// Available reports whether this machine runs the vector kernels.
var Available = cpu.X86.HasAVX2

// Exec runs op over the len(d) elements of a tile, len(d) a positive multiple of Lanes, and
// reports whether op has a vector kernel (false: the caller runs it another way). Operands an
// opcode reads must be at least as long as d; that is checked, because the kernels would
// otherwise read past them.
func Exec(op isa.Opcode, d, a, b, c []int32, n int32) bool {
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
	switch op {
	case isa.OpMov:
		copy(d, a[:m])
	case isa.OpAdd:
		addAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSub:
		subAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpMul:
		mulAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpMin:
		minAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpMax:
		maxAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpAnd:
		andAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpOr:
		orAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpXor:
		xorAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpShl:
		shlAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpShr:
		shrAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSra:
		sraAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpAsh:
		ashAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpNeg:
		negAVX2(&d[0], &a[0], m)
	case isa.OpAbs:
		absAVX2(&d[0], &a[0], m)
	case isa.OpNot:
		notAVX2(&d[0], &a[0], m)
	case isa.OpSeq:
		seqAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSne:
		sneAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSgt:
		sgtAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSle:
		sleAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSlt:
		sltAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSge:
		sgeAVX2(&d[0], &a[0], &b[0], m)
	case isa.OpSel:
		selAVX2(&d[0], &a[0], &b[0], &c[0], m)
	case isa.OpMulZ:
		mulzAVX2(&d[0], &a[0], &b[0], m, uint64(n))
	case isa.OpSat:
		satAVX2(&d[0], &a[0], m, int32(int64(1)<<(n-1)-1))
	case isa.OpWrap:
		wrapAVX2(&d[0], &a[0], m, int32(1)<<(n-1))
	default:
		return false
	}
	return true
}

// Spike records spikes where cond != 0: spiked = 1 and payload = val saturated to 24 bits,
// or 1 when val is nil (a binary spike). Lengths as for Exec.
func Spike(spiked, payload, cond, val []int32) {
	m := len(spiked)
	if m == 0 || m%Lanes != 0 {
		panic("kernels: tile length is not a positive multiple of Lanes")
	}
	_, _ = payload[m-1], cond[m-1]
	if val == nil {
		spikeAVX2(&spiked[0], &payload[0], &cond[0], &cond[0], m, true)
		return
	}
	_ = val[m-1]
	spikeAVX2(&spiked[0], &payload[0], &cond[0], &val[0], m, false)
}
