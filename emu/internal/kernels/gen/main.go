// Command gen writes the AVX2 kernels of package kernels with avo. Run `go generate` in
// emu/internal/kernels; the generated assembly is committed, so a default build needs nothing.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

const lanes = 8 // int32 lanes in a YMM register

// loop emits the body once per 8 lanes: n must be a positive multiple of 8. ptrs are advanced
// by 32 bytes per iteration.
func loop(name string, n reg.Register, ptrs []reg.Register, body func()) {
	Label(name + "_loop")
	body()
	for _, p := range ptrs {
		ADDQ(Imm(4*lanes), p)
	}
	SUBQ(Imm(lanes), n)
	JG(LabelRef(name + "_loop"))
	VZEROUPPER()
	RET()
}

// unary: d[i] = f(a[i]).
func unary(name, doc string, f func(x, out reg.VecVirtual)) {
	TEXT(name, NOSPLIT, "func(d, a *int32, n int)")
	Pragma("noescape")
	Doc(doc)
	d, a, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("n"), GP64())
	loop(name, n, []reg.Register{d, a}, func() {
		x, out := YMM(), YMM()
		VMOVDQU(Mem{Base: a}, x)
		f(x, out)
		VMOVDQU(out, Mem{Base: d})
	})
}

// binary: d[i] = f(a[i], b[i]).
func binary(name, doc string, f func(x, y, out reg.VecVirtual)) {
	TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc(doc)
	d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
	loop(name, n, []reg.Register{d, a, b}, func() {
		x, y, out := YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: a}, x)
		VMOVDQU(Mem{Base: b}, y)
		f(x, y, out)
		VMOVDQU(out, Mem{Base: d})
	})
}

// ones returns a register of 32-bit ones (value 1 per lane) and one of all-ones bits.
func constants() (one, allOnes reg.VecVirtual) {
	allOnes, one = YMM(), YMM()
	VPCMPEQD(allOnes, allOnes, allOnes)
	VPSRLD(Imm(31), allOnes, one)
	return one, allOnes
}

func compare(name, doc string, f func(x, y, out reg.VecVirtual), invert bool) {
	TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc(doc)
	d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
	one, _ := constants()
	loop(name, n, []reg.Register{d, a, b}, func() {
		x, y, m := YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: a}, x)
		VMOVDQU(Mem{Base: b}, y)
		f(x, y, m) // m: all-ones where the relation holds
		if invert {
			VPANDN(one, m, m) // (^m) & 1
		} else {
			VPAND(one, m, m)
		}
		VMOVDQU(m, Mem{Base: d})
	})
}

// gatherRows writes gatherRowsAVX2, the emulator's copy of the synapse rows of a step's
// spikes into one list (see GatherRows).
func gatherRows() {
	TEXT("gatherRowsAVX2", NOSPLIT, "func(dst, data *uint16, rows, fired *int32, n, stride, width int) int")
	Pragma("noescape")
	Doc("gatherRowsAVX2 is GatherRows.")
	dst, data := Load(Param("dst"), GP64()), Load(Param("data"), GP64())
	rows, fired := Load(Param("rows"), GP64()), Load(Param("fired"), GP64())
	n, stride, width := Load(Param("n"), GP64()), Load(Param("stride"), GP64()), Load(Param("width"), GP64())
	total := GP64()
	XORQ(total, total)
	SHLQ(Imm(3), stride) // bytes per source neuron in rows: 8 per slot
	TESTQ(n, n)
	JZ(LabelRef("gather_done"))
	Label("gather_spike")
	s, r, m, src, d := GP64(), GP64(), GP64(), GP64(), GP64()
	MOVLQSX(Mem{Base: fired}, s)
	IMULQ(stride, s)
	MOVLQSX(Mem{Base: rows, Index: s, Scale: 1}, r)          // off
	MOVLQSX(Mem{Base: rows, Index: s, Scale: 1, Disp: 4}, m) // synapses
	IMULQ(width, m)
	LEAQ(Mem{Base: data, Index: r, Scale: 2}, src)
	LEAQ(Mem{Base: dst, Index: total, Scale: 2}, d)
	ADDQ(m, total)
	// Whole chunks of 32 units, at least one: the caller leaves room after the end of both.
	Label("gather_chunk")
	x, y := YMM(), YMM()
	VMOVDQU(Mem{Base: src}, x)
	VMOVDQU(Mem{Base: src, Disp: 32}, y)
	VMOVDQU(x, Mem{Base: d})
	VMOVDQU(y, Mem{Base: d, Disp: 32})
	ADDQ(Imm(64), src)
	ADDQ(Imm(64), d)
	SUBQ(Imm(32), m)
	JG(LabelRef("gather_chunk"))
	ADDQ(Imm(4), fired)
	DECQ(n)
	JNZ(LabelRef("gather_spike"))
	Label("gather_done")
	VZEROUPPER()
	Store(total, ReturnIndex(0))
	RET()
}

func main() {
	// No Package(): the signatures use only built-in types, so avo need not load (and
	// type-check) this package, which would fail whenever a signature changes.
	ConstraintExpr("amd64")

	gatherRows()

	binary("addAVX2", "addAVX2 sets d = a + b (wrapping).", func(x, y, o reg.VecVirtual) { VPADDD(y, x, o) })
	binary("subAVX2", "subAVX2 sets d = a - b (wrapping).", func(x, y, o reg.VecVirtual) { VPSUBD(y, x, o) })
	binary("mulAVX2", "mulAVX2 sets d = low 32 bits of a * b.", func(x, y, o reg.VecVirtual) { VPMULLD(y, x, o) })
	binary("minAVX2", "minAVX2 sets d = min(a, b).", func(x, y, o reg.VecVirtual) { VPMINSD(y, x, o) })
	binary("maxAVX2", "maxAVX2 sets d = max(a, b).", func(x, y, o reg.VecVirtual) { VPMAXSD(y, x, o) })
	binary("andAVX2", "andAVX2 sets d = a & b.", func(x, y, o reg.VecVirtual) { VPAND(y, x, o) })
	binary("orAVX2", "orAVX2 sets d = a | b.", func(x, y, o reg.VecVirtual) { VPOR(y, x, o) })
	binary("xorAVX2", "xorAVX2 sets d = a ^ b.", func(x, y, o reg.VecVirtual) { VPXOR(y, x, o) })
	randKernel("randAVX2", false)

	// Shifts: amounts are clamped at 0 from below; the variable shifts already give 0 (or the
	// sign for sra) for amounts of 32 or more.
	shift := func(name, doc string, op func(cnt, src, dst Op)) {
		TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
		Pragma("noescape")
		Doc(doc)
		d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		zero := YMM()
		VPXOR(zero, zero, zero)
		loop(name, n, []reg.Register{d, a, b}, func() {
			x, y := YMM(), YMM()
			VMOVDQU(Mem{Base: a}, x)
			VMOVDQU(Mem{Base: b}, y)
			VPMAXSD(zero, y, y)
			op(y, x, x)
			VMOVDQU(x, Mem{Base: d})
		})
	}
	shift("shlAVX2", "shlAVX2 sets d = a << clamp(b, 0, 32).", func(c, s, d Op) { VPSLLVD(c, s, d) })
	shift("shrAVX2", "shrAVX2 sets d = a >>> clamp(b, 0, 32) (logical).", func(c, s, d Op) { VPSRLVD(c, s, d) })
	shift("sraAVX2", "sraAVX2 sets d = a >> clamp(b, 0, 32) (arithmetic).", func(c, s, d Op) { VPSRAVD(c, s, d) })

	// ash: left by b when b >= 0, else arithmetic right by -b (any -b >= 32, and -MinInt32,
	// read as unsigned, fills with the sign).
	TEXT("ashAVX2", NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc("ashAVX2 sets d = b >= 0 ? a << b : a >> -b (arithmetic).")
	{
		d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		zero := YMM()
		VPXOR(zero, zero, zero)
		loop("ashAVX2", n, []reg.Register{d, a, b}, func() {
			x, y, l, r, neg, m := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
			VMOVDQU(Mem{Base: a}, x)
			VMOVDQU(Mem{Base: b}, y)
			VPMAXSD(zero, y, l)
			VPSLLVD(l, x, l)
			VPSUBD(y, zero, neg)
			VPSRAVD(neg, x, r)
			VPCMPGTD(y, zero, m) // m = b < 0
			VPBLENDVB(m, r, l, l)
			VMOVDQU(l, Mem{Base: d})
		})
	}

	unary("negAVX2", "negAVX2 sets d = -a (wrapping).", func(x, o reg.VecVirtual) {
		VPXOR(o, o, o)
		VPSUBD(x, o, o)
	})
	unary("absAVX2", "absAVX2 sets d = |a| (|MinInt32| = MinInt32).", func(x, o reg.VecVirtual) { VPABSD(x, o) })
	unary("notAVX2", "notAVX2 sets d = ^a.", func(x, o reg.VecVirtual) {
		VPCMPEQD(o, o, o)
		VPXOR(o, x, o)
	})

	compare("seqAVX2", "seqAVX2 sets d = a == b ? 1 : 0.", func(x, y, m reg.VecVirtual) { VPCMPEQD(y, x, m) }, false)
	compare("sneAVX2", "sneAVX2 sets d = a != b ? 1 : 0.", func(x, y, m reg.VecVirtual) { VPCMPEQD(y, x, m) }, true)
	compare("sgtAVX2", "sgtAVX2 sets d = a > b ? 1 : 0.", func(x, y, m reg.VecVirtual) { VPCMPGTD(y, x, m) }, false)
	compare("sleAVX2", "sleAVX2 sets d = a <= b ? 1 : 0.", func(x, y, m reg.VecVirtual) { VPCMPGTD(y, x, m) }, true)
	compare("sltAVX2", "sltAVX2 sets d = a < b ? 1 : 0.", func(x, y, m reg.VecVirtual) { VPCMPGTD(x, y, m) }, false)
	compare("sgeAVX2", "sgeAVX2 sets d = a >= b ? 1 : 0.", func(x, y, m reg.VecVirtual) { VPCMPGTD(x, y, m) }, true)

	// sel: d = a != 0 ? b : c.
	TEXT("selAVX2", NOSPLIT, "func(d, a, b, c *int32, n int)")
	Pragma("noescape")
	Doc("selAVX2 sets d = a != 0 ? b : c.")
	{
		d, a, b, c, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("c"), GP64()), Load(Param("n"), GP64())
		zero := YMM()
		VPXOR(zero, zero, zero)
		loop("selAVX2", n, []reg.Register{d, a, b, c}, func() {
			x, y, z, m := YMM(), YMM(), YMM(), YMM()
			VMOVDQU(Mem{Base: a}, x)
			VMOVDQU(Mem{Base: b}, y)
			VMOVDQU(Mem{Base: c}, z)
			VPCMPEQD(zero, x, m) // m = a == 0
			VPBLENDVB(m, z, y, y)
			VMOVDQU(y, Mem{Base: d})
		})
	}

	// mulz: sign(p)·(|p| >> s), low 32 bits, p = a·b exact. |a| and |b| are exact as unsigned
	// (|MinInt32| = 2^31), so the unsigned 32×32→64 products of the magnitudes are |p|.
	TEXT("mulzAVX2", NOSPLIT, "func(d, a, b *int32, n int, s uint64)")
	Pragma("noescape")
	Doc("mulzAVX2 sets d = low 32 bits of trunc(a·b / 2^s), rounding toward zero.")
	{
		d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		s := Load(Param("s"), GP64())
		cnt := XMM()
		MOVQ(s, cnt)
		loop("mulzAVX2", n, []reg.Register{d, a, b}, func() {
			x, y, ax, bx, sg, pe, po := YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
			VMOVDQU(Mem{Base: a}, x)
			VMOVDQU(Mem{Base: b}, y)
			VPABSD(x, ax)
			VPABSD(y, bx)
			VPXOR(y, x, sg)
			VPSRAD(Imm(31), sg, sg) // -1 where the product is negative
			VPMULUDQ(bx, ax, pe)    // even lanes
			VPSRLQ(cnt, pe, pe)
			VPSRLQ(Imm(32), ax, ax)
			VPSRLQ(Imm(32), bx, bx)
			VPMULUDQ(bx, ax, po) // odd lanes
			VPSRLQ(cnt, po, po)
			VPSLLQ(Imm(32), po, po)
			VPBLENDD(Imm(0xAA), po, pe, pe)
			VPXOR(sg, pe, pe)
			VPSUBD(sg, pe, pe)
			VMOVDQU(pe, Mem{Base: d})
		})
	}

	// sat: clamp to ±lim.
	TEXT("satAVX2", NOSPLIT, "func(d, a *int32, n int, lim int32)")
	Pragma("noescape")
	Doc("satAVX2 sets d = clamp(a, -lim, lim).")
	{
		d, a, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("n"), GP64())
		l := Load(Param("lim"), GP32())
		hi, lo := YMM(), YMM()
		MOVD(l, hi.AsX())
		VPBROADCASTD(hi.AsX(), hi)
		VPXOR(lo, lo, lo)
		VPSUBD(hi, lo, lo)
		loop("satAVX2", n, []reg.Register{d, a}, func() {
			x := YMM()
			VMOVDQU(Mem{Base: a}, x)
			VPMINSD(hi, x, x)
			VPMAXSD(lo, x, x)
			VMOVDQU(x, Mem{Base: d})
		})
	}

	// wrap: subtract 2h above h, add 2h at or below -h (h = 2^(n-1)); arithmetic mod 2^32.
	TEXT("wrapAVX2", NOSPLIT, "func(d, a *int32, n int, h int32)")
	Pragma("noescape")
	Doc("wrapAVX2 applies Loihi's single wrap with half-range h.")
	{
		d, a, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("n"), GP64())
		hr := Load(Param("h"), GP32())
		h, nh, two := YMM(), YMM(), YMM()
		MOVD(hr, h.AsX())
		VPBROADCASTD(h.AsX(), h)
		VPADDD(h, h, two) // 2h (wraps to MinInt32 for h = 2^30; the arithmetic is mod 2^32)
		one, _ := constants()
		VPXOR(nh, nh, nh)
		VPSUBD(h, nh, nh)
		VPADDD(one, nh, nh) // -h + 1
		loop("wrapAVX2", n, []reg.Register{d, a}, func() {
			x, m1, m2 := YMM(), YMM(), YMM()
			VMOVDQU(Mem{Base: a}, x)
			VPCMPGTD(h, x, m1)  // x > h
			VPCMPGTD(x, nh, m2) // -h+1 > x, i.e. x <= -h
			VPAND(two, m1, m1)
			VPAND(two, m2, m2)
			VPSUBD(m1, x, x)
			VPADDD(m2, x, x)
			VMOVDQU(x, Mem{Base: d})
		})
	}

	// spike: where cond != 0, set the neuron's bit in mask (8 neurons a byte, little-endian)
	// and payload = val (all 32 bits, as Lava's int32 payloads), or 1 for the binary form.
	TEXT("spikeAVX2", NOSPLIT, "func(mask *uint8, payload, cond, val *int32, n int, binary bool)")
	Pragma("noescape")
	Doc("spikeAVX2 records spikes where cond != 0: mask bits are set, graded payloads are val, unsaturated.")
	{
		mk, pay, c, v, n := Load(Param("mask"), GP64()), Load(Param("payload"), GP64()), Load(Param("cond"), GP64()), Load(Param("val"), GP64()), Load(Param("n"), GP64())
		bin := Load(Param("binary"), GP8())
		one, _ := constants()
		zero := YMM()
		VPXOR(zero, zero, zero)
		CMPB(bin, Imm(0))
		JNE(LabelRef("spike_binary"))
		Label("spike_graded_loop")
		{
			x, m, p, y := YMM(), YMM(), YMM(), YMM()
			bits := GP32()
			VMOVDQU(Mem{Base: c}, x)
			VMOVDQU(Mem{Base: v}, y)
			VPCMPEQD(zero, x, m) // keep where cond == 0
			VMOVDQU(Mem{Base: pay}, p)
			VPBLENDVB(m, p, y, p)
			VMOVDQU(p, Mem{Base: pay})
			VMOVMSKPS(m, bits)
			NOTL(bits)
			ORB(bits.As8(), Mem{Base: mk})
			ADDQ(Imm(32), pay)
			ADDQ(Imm(32), c)
			ADDQ(Imm(32), v)
			ADDQ(Imm(1), mk)
			SUBQ(Imm(8), n)
			JG(LabelRef("spike_graded_loop"))
			VZEROUPPER()
			RET()
		}
		Label("spike_binary")
		Label("spike_bin_loop")
		{
			x, m, p := YMM(), YMM(), YMM()
			bits := GP32()
			VMOVDQU(Mem{Base: c}, x)
			VPCMPEQD(zero, x, m)
			VMOVDQU(Mem{Base: pay}, p)
			VPBLENDVB(m, p, one, p)
			VMOVDQU(p, Mem{Base: pay})
			VMOVMSKPS(m, bits)
			NOTL(bits)
			ORB(bits.As8(), Mem{Base: mk})
			ADDQ(Imm(32), pay)
			ADDQ(Imm(32), c)
			ADDQ(Imm(1), mk)
			SUBQ(Imm(8), n)
			JG(LabelRef("spike_bin_loop"))
			VZEROUPPER()
			RET()
		}
	}

	avx512()
	Generate()
}

// The AVX-512 kernels: the same operations on 16 lanes, with compares into mask registers.
const lanes512 = 16

func loop512(name string, n reg.Register, ptrs []reg.Register, body func()) {
	Label(name + "_loop")
	body()
	for _, p := range ptrs {
		ADDQ(Imm(4*lanes512), p)
	}
	SUBQ(Imm(lanes512), n)
	JG(LabelRef(name + "_loop"))
	VZEROUPPER()
	RET()
}

func binary512(name, doc string, f func(x, y, out reg.VecVirtual)) {
	TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc(doc)
	d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
	loop512(name, n, []reg.Register{d, a, b}, func() {
		x, y, out := ZMM(), ZMM(), ZMM()
		VMOVDQU32(Mem{Base: a}, x)
		VMOVDQU32(Mem{Base: b}, y)
		f(x, y, out)
		VMOVDQU32(out, Mem{Base: d})
	})
}

func unary512(name, doc string, f func(x, out reg.VecVirtual)) {
	TEXT(name, NOSPLIT, "func(d, a *int32, n int)")
	Pragma("noescape")
	Doc(doc)
	d, a, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("n"), GP64())
	loop512(name, n, []reg.Register{d, a}, func() {
		x, out := ZMM(), ZMM()
		VMOVDQU32(Mem{Base: a}, x)
		f(x, out)
		VMOVDQU32(out, Mem{Base: d})
	})
}

// one512 returns a register holding 1 in every lane.
func one512() reg.VecVirtual {
	one := ZMM()
	VPTERNLOGD(Imm(0xFF), one, one, one) // all ones
	VPSRLD(Imm(31), one, one)
	return one
}

// Predicates of VPCMPD.
const (
	cmpEQ, cmpLT, cmpLE, cmpNE, cmpGE, cmpGT = 0, 1, 2, 4, 5, 6
)

func compare512(name, doc string, pred uint64) {
	TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc(doc)
	d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
	one := one512()
	zero := ZMM()
	VPXORD(zero, zero, zero)
	loop512(name, n, []reg.Register{d, a, b}, func() {
		x, y := ZMM(), ZMM()
		k := K()
		VMOVDQU32(Mem{Base: a}, x)
		VMOVDQU32(Mem{Base: b}, y)
		VPCMPD(Imm(pred), y, x, k) // k = x pred y
		VPBLENDMD(one, zero, k, x)
		VMOVDQU32(x, Mem{Base: d})
	})
}

// randKernel writes the rand instruction, d = fmix32(fmix32(a) ^ b) (isa.Rand), for YMM
// (wide false) or ZMM registers: shifts, xors and two 32-bit multiplies per fmix32.
func randKernel(name string, wide bool) {
	TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc(name + " sets d = fmix32(fmix32(a) ^ b), the rand instruction.")
	d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
	vec, mov, xor := YMM, func(src, dst Op) { VMOVDQU(src, dst) }, func(x, y, o Op) { VPXOR(x, y, o) }
	if wide {
		vec, mov, xor = ZMM, func(src, dst Op) { VMOVDQU32(src, dst) }, func(x, y, o Op) { VPXORD(x, y, o) }
	}
	constant := func(v uint32) reg.VecVirtual {
		c, g := vec(), GP32()
		MOVL(U32(v), g)
		VMOVD(g, c.AsX())
		VPBROADCASTD(c.AsX(), c)
		return c
	}
	c1, c2 := constant(0x85ebca6b), constant(0xc2b2ae35)
	fmix := func(x reg.VecVirtual) {
		t := vec()
		VPSRLD(Imm(16), x, t)
		xor(t, x, x)
		VPMULLD(c1, x, x)
		VPSRLD(Imm(13), x, t)
		xor(t, x, x)
		VPMULLD(c2, x, x)
		VPSRLD(Imm(16), x, t)
		xor(t, x, x)
	}
	body := func() {
		x, y := vec(), vec()
		mov(Mem{Base: a}, x)
		mov(Mem{Base: b}, y)
		fmix(x)
		xor(y, x, x)
		fmix(x)
		mov(x, Mem{Base: d})
	}
	if wide {
		loop512(name, n, []reg.Register{d, a, b}, body)
	} else {
		loop(name, n, []reg.Register{d, a, b}, body)
	}
}

func avx512() {
	randKernel("randAVX512", true)
	binary512("addAVX512", "addAVX512 sets d = a + b (wrapping).", func(x, y, o reg.VecVirtual) { VPADDD(y, x, o) })
	binary512("subAVX512", "subAVX512 sets d = a - b (wrapping).", func(x, y, o reg.VecVirtual) { VPSUBD(y, x, o) })
	binary512("mulAVX512", "mulAVX512 sets d = low 32 bits of a * b.", func(x, y, o reg.VecVirtual) { VPMULLD(y, x, o) })
	binary512("minAVX512", "minAVX512 sets d = min(a, b).", func(x, y, o reg.VecVirtual) { VPMINSD(y, x, o) })
	binary512("maxAVX512", "maxAVX512 sets d = max(a, b).", func(x, y, o reg.VecVirtual) { VPMAXSD(y, x, o) })
	binary512("andAVX512", "andAVX512 sets d = a & b.", func(x, y, o reg.VecVirtual) { VPANDD(y, x, o) })
	binary512("orAVX512", "orAVX512 sets d = a | b.", func(x, y, o reg.VecVirtual) { VPORD(y, x, o) })
	binary512("xorAVX512", "xorAVX512 sets d = a ^ b.", func(x, y, o reg.VecVirtual) { VPXORD(y, x, o) })

	shift := func(name, doc string, op func(cnt, src, dst Op)) {
		TEXT(name, NOSPLIT, "func(d, a, b *int32, n int)")
		Pragma("noescape")
		Doc(doc)
		d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		zero := ZMM()
		VPXORD(zero, zero, zero)
		loop512(name, n, []reg.Register{d, a, b}, func() {
			x, y := ZMM(), ZMM()
			VMOVDQU32(Mem{Base: a}, x)
			VMOVDQU32(Mem{Base: b}, y)
			VPMAXSD(zero, y, y)
			op(y, x, x)
			VMOVDQU32(x, Mem{Base: d})
		})
	}
	shift("shlAVX512", "shlAVX512 sets d = a << clamp(b, 0, 32).", func(c, s, d Op) { VPSLLVD(c, s, d) })
	shift("shrAVX512", "shrAVX512 sets d = a >>> clamp(b, 0, 32) (logical).", func(c, s, d Op) { VPSRLVD(c, s, d) })
	shift("sraAVX512", "sraAVX512 sets d = a >> clamp(b, 0, 32) (arithmetic).", func(c, s, d Op) { VPSRAVD(c, s, d) })

	TEXT("ashAVX512", NOSPLIT, "func(d, a, b *int32, n int)")
	Pragma("noescape")
	Doc("ashAVX512 sets d = b >= 0 ? a << b : a >> -b (arithmetic).")
	{
		d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		zero := ZMM()
		VPXORD(zero, zero, zero)
		loop512("ashAVX512", n, []reg.Register{d, a, b}, func() {
			x, y, l, neg := ZMM(), ZMM(), ZMM(), ZMM()
			k := K()
			VMOVDQU32(Mem{Base: a}, x)
			VMOVDQU32(Mem{Base: b}, y)
			VPMAXSD(zero, y, l)
			VPSLLVD(l, x, l)
			VPSUBD(y, zero, neg)
			VPCMPD(Imm(cmpLT), zero, y, k) // b < 0
			VPSRAVD(neg, x, k, l)          // merge: right shift where b < 0
			VMOVDQU32(l, Mem{Base: d})
		})
	}

	unary512("negAVX512", "negAVX512 sets d = -a (wrapping).", func(x, o reg.VecVirtual) {
		VPXORD(o, o, o)
		VPSUBD(x, o, o)
	})
	unary512("absAVX512", "absAVX512 sets d = |a|.", func(x, o reg.VecVirtual) { VPABSD(x, o) })
	unary512("notAVX512", "notAVX512 sets d = ^a.", func(x, o reg.VecVirtual) { VPTERNLOGD(Imm(0x55), x, x, o) })

	compare512("seqAVX512", "seqAVX512 sets d = a == b ? 1 : 0.", cmpEQ)
	compare512("sneAVX512", "sneAVX512 sets d = a != b ? 1 : 0.", cmpNE)
	compare512("sltAVX512", "sltAVX512 sets d = a < b ? 1 : 0.", cmpLT)
	compare512("sleAVX512", "sleAVX512 sets d = a <= b ? 1 : 0.", cmpLE)
	compare512("sgtAVX512", "sgtAVX512 sets d = a > b ? 1 : 0.", cmpGT)
	compare512("sgeAVX512", "sgeAVX512 sets d = a >= b ? 1 : 0.", cmpGE)

	TEXT("selAVX512", NOSPLIT, "func(d, a, b, c *int32, n int)")
	Pragma("noescape")
	Doc("selAVX512 sets d = a != 0 ? b : c.")
	{
		d, a, b, c, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("c"), GP64()), Load(Param("n"), GP64())
		loop512("selAVX512", n, []reg.Register{d, a, b, c}, func() {
			x, y, z := ZMM(), ZMM(), ZMM()
			k := K()
			VMOVDQU32(Mem{Base: a}, x)
			VMOVDQU32(Mem{Base: b}, y)
			VMOVDQU32(Mem{Base: c}, z)
			VPTESTMD(x, x, k) // a != 0
			VPBLENDMD(y, z, k, z)
			VMOVDQU32(z, Mem{Base: d})
		})
	}

	TEXT("mulzAVX512", NOSPLIT, "func(d, a, b *int32, n int, s uint64)")
	Pragma("noescape")
	Doc("mulzAVX512 sets d = low 32 bits of trunc(a·b / 2^s), rounding toward zero.")
	{
		d, a, b, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("n"), GP64())
		s := Load(Param("s"), GP64())
		cnt := XMM()
		MOVQ(s, cnt)
		odd := K()
		m := GP32()
		MOVL(U32(0xAAAA), m)
		KMOVW(m, odd)
		loop512("mulzAVX512", n, []reg.Register{d, a, b}, func() {
			x, y, ax, bx, sg, pe, po := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
			VMOVDQU32(Mem{Base: a}, x)
			VMOVDQU32(Mem{Base: b}, y)
			VPABSD(x, ax)
			VPABSD(y, bx)
			VPXORD(y, x, sg)
			VPSRAD(Imm(31), sg, sg)
			VPMULUDQ(bx, ax, pe)
			VPSRLQ(cnt, pe, pe)
			VPSRLQ(Imm(32), ax, ax)
			VPSRLQ(Imm(32), bx, bx)
			VPMULUDQ(bx, ax, po)
			VPSRLQ(cnt, po, po)
			VPSLLQ(Imm(32), po, po)
			VPBLENDMD(po, pe, odd, pe)
			VPXORD(sg, pe, pe)
			VPSUBD(sg, pe, pe)
			VMOVDQU32(pe, Mem{Base: d})
		})
	}

	TEXT("satAVX512", NOSPLIT, "func(d, a *int32, n int, lim int32)")
	Pragma("noescape")
	Doc("satAVX512 sets d = clamp(a, -lim, lim).")
	{
		d, a, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("n"), GP64())
		l := Load(Param("lim"), GP32())
		hi, lo := ZMM(), ZMM()
		VPBROADCASTD(l, hi)
		VPXORD(lo, lo, lo)
		VPSUBD(hi, lo, lo)
		loop512("satAVX512", n, []reg.Register{d, a}, func() {
			x := ZMM()
			VMOVDQU32(Mem{Base: a}, x)
			VPMINSD(hi, x, x)
			VPMAXSD(lo, x, x)
			VMOVDQU32(x, Mem{Base: d})
		})
	}

	TEXT("wrapAVX512", NOSPLIT, "func(d, a *int32, n int, h int32)")
	Pragma("noescape")
	Doc("wrapAVX512 applies Loihi's single wrap with half-range h.")
	{
		d, a, n := Load(Param("d"), GP64()), Load(Param("a"), GP64()), Load(Param("n"), GP64())
		hr := Load(Param("h"), GP32())
		h, nh, two := ZMM(), ZMM(), ZMM()
		VPBROADCASTD(hr, h)
		VPADDD(h, h, two)
		VPXORD(nh, nh, nh)
		VPSUBD(h, nh, nh) // -h
		loop512("wrapAVX512", n, []reg.Register{d, a}, func() {
			x := ZMM()
			k1, k2 := K(), K()
			VMOVDQU32(Mem{Base: a}, x)
			VPCMPD(Imm(cmpGT), h, x, k1)  // x > h
			VPCMPD(Imm(cmpLE), nh, x, k2) // x <= -h
			VPSUBD(two, x, k1, x)
			VPADDD(two, x, k2, x)
			VMOVDQU32(x, Mem{Base: d})
		})
	}

	TEXT("spikeAVX512", NOSPLIT, "func(mask *uint8, payload, cond, val *int32, n int, binary bool)")
	Pragma("noescape")
	Doc("spikeAVX512 records spikes where cond != 0: mask bits are set, graded payloads are val, unsaturated.")
	{
		mk, pay, c, v, n := Load(Param("mask"), GP64()), Load(Param("payload"), GP64()), Load(Param("cond"), GP64()), Load(Param("val"), GP64()), Load(Param("n"), GP64())
		bin := Load(Param("binary"), GP8())
		one := one512()
		CMPB(bin, Imm(0))
		JNE(LabelRef("spike512_binary"))
		Label("spike512_graded_loop")
		{
			x, y := ZMM(), ZMM()
			k := K()
			bits := GP32()
			VMOVDQU32(Mem{Base: c}, x)
			VMOVDQU32(Mem{Base: v}, y)
			VPTESTMD(x, x, k)
			VMOVDQU32(y, k, Mem{Base: pay})
			KMOVW(k, bits)
			ORW(bits.As16(), Mem{Base: mk})
			ADDQ(Imm(64), pay)
			ADDQ(Imm(64), c)
			ADDQ(Imm(64), v)
			ADDQ(Imm(2), mk)
			SUBQ(Imm(16), n)
			JG(LabelRef("spike512_graded_loop"))
			VZEROUPPER()
			RET()
		}
		Label("spike512_binary")
		Label("spike512_bin_loop")
		{
			x := ZMM()
			k := K()
			bits := GP32()
			VMOVDQU32(Mem{Base: c}, x)
			VPTESTMD(x, x, k)
			VMOVDQU32(one, k, Mem{Base: pay})
			KMOVW(k, bits)
			ORW(bits.As16(), Mem{Base: mk})
			ADDQ(Imm(64), pay)
			ADDQ(Imm(64), c)
			ADDQ(Imm(2), mk)
			SUBQ(Imm(16), n)
			JG(LabelRef("spike512_bin_loop"))
			VZEROUPPER()
			RET()
		}
	}
}
