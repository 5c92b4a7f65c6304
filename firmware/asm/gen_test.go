package asm_test

import (
	"github.com/lrchip/lrchip/chip"
	"math"
	"math/rand/v2"

	"github.com/lrchip/lrchip/firmware/isa"
)

// randName returns a fresh identifier that is not reserved.
func randName(r *rand.Rand, used map[string]bool) string {
	const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
	const rest = first + "0123456789"
	for {
		b := []byte{first[r.IntN(len(first))]}
		for n := r.IntN(8); n > 0; n-- {
			b = append(b, rest[r.IntN(len(rest))])
		}
		if s := string(b); !used[s] && !isa.ReservedName(s) && !chip.ReservedField(s) {
			used[s] = true
			return s
		}
	}
}

func randImm(r *rand.Rand) int32 {
	switch r.IntN(6) {
	case 0:
		return []int32{0, 1, -1, math.MinInt32, math.MaxInt32, 4096}[r.IntN(6)]
	case 1:
		return r.Int32()
	case 2:
		return -r.Int32()
	default:
		return int32(r.IntN(200)) - 100
	}
}

// randProgram returns a random program that passes Validate and CheckNames. It tracks which
// temporaries are defined at each pc exactly as Validate does, so that reads are legal.
func randProgram(r *rand.Rand) *isa.Program {
	used := map[string]bool{}
	p := &isa.Program{}
	if r.IntN(2) == 0 {
		p.Name = randName(r, used)
	}
	for _, l := range []struct {
		names *[]string
		max   int
	}{{&p.State, isa.NumState}, {&p.Params, isa.NumParam}, {&p.Consts, isa.NumConst}} {
		for n := r.IntN(l.max + 1); n > 0; n-- {
			*l.names = append(*l.names, randName(r, used))
		}
	}
	n := 1 + r.IntN(isa.MaxInstrs)
	if r.IntN(2) == 0 {
		n = 1 + r.IntN(12)
	}
	const all = ^uint16(0)
	defined := make([]uint16, n+1) // bit i: r_i, bit 8+i: k_i, as in Program.checkDefined
	reached := make([]bool, n+1)
	for i := range defined {
		defined[i] = all
	}
	defined[0], reached[0] = 0, true
	flow := func(to int, set uint16) { defined[to] &= set; reached[to] = true }

	for pc := 0; pc < n; pc++ {
		def := defined[pc]
		if !reached[pc] {
			def = all // dead code is not checked
		}
		o := isa.Ops[r.IntN(len(isa.Ops))]
		in := isa.Instr{Op: o.Op}
		hasN := o.Shape == isa.ShapeDSN || o.Shape == isa.ShapeDSSN
		uniform := o.Op.IsBranch()
		hasDest := false
		switch o.Shape {
		case isa.ShapeDS, isa.ShapeDSS, isa.ShapeDSSS, isa.ShapeDSN, isa.ShapeDSSN:
			hasDest = true
			var cands []isa.Reg
			for i := range p.State {
				cands = append(cands, isa.S0+isa.Reg(i))
			}
			for i := range isa.NumTemp {
				cands = append(cands, isa.R0+isa.Reg(i))
			}
			for i := range isa.NumUTemp {
				cands = append(cands, isa.K0+isa.Reg(i))
			}
			in.Rd = cands[r.IntN(len(cands))]
			uniform = in.Rd >= isa.K0 && in.Rd < isa.K0+isa.NumUTemp
		}
		immUsed := false
		src := func() isa.Reg {
			cands := []isa.Reg{isa.T}
			for i := range p.Consts {
				cands = append(cands, isa.C0+isa.Reg(i))
			}
			for i := range isa.NumUTemp {
				if def&(1<<(8+i)) != 0 {
					cands = append(cands, isa.K0+isa.Reg(i))
				}
			}
			if !uniform {
				cands = append(cands, isa.A)
				for i := range p.State {
					cands = append(cands, isa.S0+isa.Reg(i))
				}
				for i := range p.Params {
					cands = append(cands, isa.P0+isa.Reg(i))
				}
				for i := range isa.NumTemp {
					if def&(1<<i) != 0 {
						cands = append(cands, isa.R0+isa.Reg(i))
					}
				}
			}
			if !hasN && !immUsed && r.IntN(4) == 0 {
				immUsed = true
				in.Imm = randImm(r)
				return isa.Imm
			}
			return cands[r.IntN(len(cands))]
		}
		switch o.Shape {
		case isa.ShapeDS, isa.ShapeDSN, isa.ShapeS:
			in.Ra = src()
		case isa.ShapeDSS, isa.ShapeDSSN, isa.ShapeSS, isa.ShapeSSL:
			in.Ra, in.Rb = src(), src()
		case isa.ShapeDSSS:
			in.Ra, in.Rb, in.Rc = src(), src(), src()
		}
		if hasN {
			in.Imm = o.NMin + r.Int32N(o.NMax-o.NMin+1)
		}
		if o.Op.IsBranch() {
			in.Rd = isa.Reg(r.IntN(n - pc)) // target pc+1..n
		}
		p.Code = append(p.Code, in)

		if !reached[pc] {
			continue
		}
		if hasDest {
			switch c, i := in.Rd.Class(); c {
			case isa.ClassTemp:
				def |= 1 << i
			case isa.ClassUTemp:
				def |= 1 << (8 + i)
			}
		}
		if o.Op.IsBranch() {
			flow(in.Target(pc), def)
			if o.Op == isa.OpJmp {
				continue
			}
		}
		flow(pc+1, def)
	}
	return p
}
