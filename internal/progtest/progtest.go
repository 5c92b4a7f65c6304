// Package progtest generates random valid neuron programs for property and differential tests.
package progtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lrchip/lrchip/firmware/isa"
)

// Random returns a random program that passes Validate. It exercises every opcode, uniform
// temporaries, forward branches and immediates, including the edges of the int32 range.
func Random(rng *rand.Rand) *isa.Program { return random(rng, true) }

// RandomTimeless is Random without reads of the time register t: programs whose per-core
// values stay the same from step to step, which an executor may compute once.
func RandomTimeless(rng *rand.Rand) *isa.Program { return random(rng, false) }

func random(rng *rand.Rand, time bool) *isa.Program {
	p := &isa.Program{Name: "rand"}
	for i := range 1 + rng.IntN(isa.NumState) {
		p.State = append(p.State, fmt.Sprintf("st%d", i))
	}
	for i := range rng.IntN(isa.NumParam + 1) {
		p.Params = append(p.Params, fmt.Sprintf("pa%d", i))
	}
	for i := range rng.IntN(isa.NumConst + 1) {
		p.Consts = append(p.Consts, fmt.Sprintf("co%d", i))
	}
	if !time && len(p.Consts) == 0 {
		// A uniform operand must always be available, and t no longer is.
		p.Consts = append(p.Consts, "co0")
	}
	g := gen{rng: rng, p: p, noTime: !time}
	n := 1 + rng.IntN(isa.MaxInstrs)
	// A prologue defines some temporaries, so later reads of them are defined on every path.
	nr, nk := rng.IntN(isa.NumTemp+1), rng.IntN(isa.NumUTemp+1)
	for i := 0; i < nr && len(p.Code) < n; i++ {
		p.Code = append(p.Code, isa.Instr{Op: isa.OpMov, Rd: isa.R0 + isa.Reg(i), Ra: g.src(false), Imm: g.imm})
		g.fix(&p.Code[len(p.Code)-1])
		g.nr = i + 1
	}
	for i := 0; i < nk && len(p.Code) < n; i++ {
		p.Code = append(p.Code, isa.Instr{Op: isa.OpMov, Rd: isa.K0 + isa.Reg(i), Ra: g.src(true), Imm: g.imm})
		g.fix(&p.Code[len(p.Code)-1])
		g.nk = i + 1
	}
	for len(p.Code) < n {
		p.Code = append(p.Code, g.instr(len(p.Code), n))
	}
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("progtest: generated an invalid program: %v", err))
	}
	return p
}

type gen struct {
	rng    *rand.Rand
	p      *isa.Program
	nr, nk int // temporaries defined by the prologue
	imm    int32
	hasImm bool
	noTime bool // never read t
}

// Interesting immediates: the edges of the widths the chip uses.
var edges = []int32{0, 1, -1, 2, 6, 12, 23, 24, 31, 32, 33, 4095, 4096, 1 << 23, 1<<23 - 1, -1 << 23, math.MaxInt32, math.MinInt32, -32, -33}

// Value returns a random int32 biased toward edges.
func Value(rng *rand.Rand) int32 {
	switch rng.IntN(4) {
	case 0:
		return edges[rng.IntN(len(edges))]
	case 1:
		return int32(rng.IntN(8192)) - 4096
	case 2:
		return int32(rng.IntN(1<<25)) - 1<<24
	}
	return int32(rng.Uint32())
}

func (g *gen) src(uniform bool) isa.Reg {
	for {
		var r isa.Reg
		switch g.rng.IntN(8) {
		case 0:
			r = isa.S0 + isa.Reg(g.rng.IntN(len(g.p.State)))
		case 1:
			if g.nr == 0 {
				continue
			}
			r = isa.R0 + isa.Reg(g.rng.IntN(g.nr))
		case 2:
			if len(g.p.Params) == 0 {
				continue
			}
			r = isa.P0 + isa.Reg(g.rng.IntN(len(g.p.Params)))
		case 3:
			if len(g.p.Consts) == 0 {
				continue
			}
			r = isa.C0 + isa.Reg(g.rng.IntN(len(g.p.Consts)))
		case 4:
			if g.nk == 0 {
				continue
			}
			r = isa.K0 + isa.Reg(g.rng.IntN(g.nk))
		case 5:
			r = isa.A
		case 6:
			if g.noTime {
				continue
			}
			r = isa.T
		case 7:
			if g.hasImm {
				continue
			}
			g.hasImm, g.imm = true, Value(g.rng)
			return isa.Imm
		}
		if uniform && !r.Uniform() {
			continue
		}
		return r
	}
}

func (g *gen) fix(in *isa.Instr) {
	if !g.hasImm {
		in.Imm = 0
	}
	g.hasImm, g.imm = false, 0
}

func (g *gen) dest() (isa.Reg, bool) {
	switch g.rng.IntN(3) {
	case 0:
		return isa.S0 + isa.Reg(g.rng.IntN(len(g.p.State))), false
	case 1:
		return isa.R0 + isa.Reg(g.rng.IntN(isa.NumTemp)), false
	}
	return isa.K0 + isa.Reg(g.rng.IntN(isa.NumUTemp)), true
}

func (g *gen) instr(pc, n int) isa.Instr {
	o := isa.Ops[g.rng.IntN(len(isa.Ops))]
	in := isa.Instr{Op: o.Op}
	g.hasImm = false
	switch o.Shape {
	case isa.ShapeL, isa.ShapeSSL:
		if o.Shape == isa.ShapeSSL {
			in.Ra, in.Rb = g.src(true), g.src(true)
		}
		in.Rd = isa.Reg(g.rng.IntN(n - pc)) // target pc+1+off ≤ n
		in.Imm = g.imm
		g.fix(&in)
		return in
	case isa.ShapeS:
		in.Ra = g.src(false)
	case isa.ShapeSS:
		in.Ra, in.Rb = g.src(false), g.src(false)
	default:
		d, uni := g.dest()
		in.Rd = d
		switch o.Shape {
		case isa.ShapeDS:
			in.Ra = g.src(uni)
		case isa.ShapeDSS:
			in.Ra, in.Rb = g.src(uni), g.src(uni)
		case isa.ShapeDSSS:
			in.Ra, in.Rb, in.Rc = g.src(uni), g.src(uni), g.src(uni)
		case isa.ShapeDSN, isa.ShapeDSSN:
			g.hasImm = true // n occupies the immediate: no immediate operand
			in.Ra = g.src(uni)
			if o.Shape == isa.ShapeDSSN {
				in.Rb = g.src(uni)
			}
			in.Imm = o.NMin + int32(g.rng.IntN(int(o.NMax-o.NMin+1)))
			g.hasImm = false
			return in
		}
	}
	in.Imm = g.imm
	g.fix(&in)
	return in
}
