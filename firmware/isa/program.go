package isa

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid neuron program")

// Program is a neuron program: the code every neuron of a core runs once per timestep, and the
// names of the registers it declares. Names are kept so that tools (probes, disassembly,
// network descriptions) can refer to s1 as "v".
type Program struct {
	Name   string
	State  []string // names of s0..s(len-1)
	Params []string // names of p0..
	Consts []string // names of c0..
	Code   []Instr
}

// Graded reports whether the program emits graded spikes (it contains spkg).
func (p *Program) Graded() bool {
	for _, in := range p.Code {
		if in.Op == OpSpkG {
			return true
		}
	}
	return false
}

// StateIndex returns the index of the named state register, or -1.
func (p *Program) StateIndex(name string) int { return indexOf(p.State, name) }

// ParamIndex returns the index of the named parameter, or -1.
func (p *Program) ParamIndex(name string) int { return indexOf(p.Params, name) }

// ConstIndex returns the index of the named constant, or -1.
func (p *Program) ConstIndex(name string) int { return indexOf(p.Consts, name) }

func indexOf(names []string, n string) int {
	for i, s := range names {
		if s == n {
			return i
		}
	}
	return -1
}

// InstrError reports a problem with one instruction.
type InstrError struct {
	PC  int
	Msg string
}

func (e *InstrError) Error() string { return fmt.Sprintf("instruction %d: %s", e.PC, e.Msg) }
func (e *InstrError) Unwrap() error { return ErrInvalid }

// Validate checks everything the chip relies on: opcodes and operand codes exist, unused fields
// are zero, destinations are writable, declared register counts are respected, branches go
// forward within the program on uniform operands, uniform temporaries are computed from uniform
// operands only, and no temporary is read before it is written on every path. A program that
// passes can be executed without further checks.
func (p *Program) Validate() error {
	if len(p.Code) == 0 {
		return fmt.Errorf("%w: no instructions", ErrInvalid)
	}
	if len(p.Code) > MaxInstrs {
		return fmt.Errorf("%w: %d instructions, limit %d", ErrInvalid, len(p.Code), MaxInstrs)
	}
	for _, c := range []struct {
		what string
		n    int
		max  int
	}{{"state registers", len(p.State), NumState}, {"parameters", len(p.Params), NumParam}, {"constants", len(p.Consts), NumConst}} {
		if c.n > c.max {
			return fmt.Errorf("%w: %d %s, limit %d", ErrInvalid, c.n, c.what, c.max)
		}
	}
	for pc, in := range p.Code {
		if err := p.checkInstr(pc, in); err != nil {
			return err
		}
	}
	return p.checkDefined()
}

func (p *Program) checkInstr(pc int, in Instr) error {
	bad := func(f string, a ...any) error { return &InstrError{PC: pc, Msg: fmt.Sprintf(f, a...)} }
	o := in.Op.Info()
	if o == nil {
		return bad("unknown opcode 0x%02x", uint8(in.Op))
	}
	for _, f := range []struct {
		name string
		r    Reg
	}{{"rd", in.Rd}, {"ra", in.Ra}, {"rb", in.Rb}, {"rc", in.Rc}} {
		if f.r > RegMask {
			return bad("%s: field out of range", f.name)
		}
	}
	srcs := in.Sources()
	// Fields the shape leaves unused must be zero.
	used := map[string]bool{}
	switch o.Shape {
	case ShapeDS, ShapeDSN:
		used["rd"], used["ra"] = true, true
	case ShapeDSS, ShapeDSSN:
		used["rd"], used["ra"], used["rb"] = true, true, true
	case ShapeDSSS:
		used["rd"], used["ra"], used["rb"], used["rc"] = true, true, true, true
	case ShapeS:
		used["ra"] = true
	case ShapeSS:
		used["ra"], used["rb"] = true, true
	case ShapeL:
		used["rd"] = true
	case ShapeSSL:
		used["rd"], used["ra"], used["rb"] = true, true, true
	}
	for _, f := range []struct {
		name string
		r    Reg
	}{{"rd", in.Rd}, {"ra", in.Ra}, {"rb", in.Rb}, {"rc", in.Rc}} {
		if !used[f.name] && f.r != 0 {
			return bad("%s: %s field must be zero, is 0x%02x", o.Name, f.name, uint8(f.r))
		}
	}
	nimm := 0
	for _, r := range srcs {
		if err := p.checkReg(r); err != nil {
			return bad("%s: %v", o.Name, err)
		}
		if r == Imm {
			nimm++
		}
	}
	switch o.Shape {
	case ShapeDSN, ShapeDSSN:
		if nimm > 0 {
			return bad("%s: the immediate field holds n, so no operand may be an immediate", o.Name)
		}
		if in.Imm < o.NMin || in.Imm > o.NMax {
			return bad("%s: n = %d out of range [%d, %d]", o.Name, in.Imm, o.NMin, o.NMax)
		}
	default:
		if nimm > 1 {
			return bad("%s: more than one immediate operand", o.Name)
		}
		if nimm == 0 && in.Imm != 0 {
			return bad("%s: immediate field must be zero when no operand uses it", o.Name)
		}
	}
	if d, ok := in.Dest(); ok {
		if err := p.checkReg(d); err != nil {
			return bad("%s: destination: %v", o.Name, err)
		}
		if !d.Writable() {
			return bad("%s: destination %s is read-only", o.Name, d)
		}
		if c, _ := d.Class(); c == ClassUTemp {
			for _, r := range srcs {
				if !r.Uniform() {
					return bad("%s: uniform register %s written from per-neuron operand %s", o.Name, d, r)
				}
			}
		}
	}
	if in.Op.IsBranch() {
		for _, r := range srcs {
			if !r.Uniform() {
				return bad("%s: branch condition on per-neuron operand %s (only c, k, t and immediates may steer a branch)", o.Name, r)
			}
		}
		if t := in.Target(pc); t > len(p.Code) {
			return bad("%s: target %d beyond the end of the program (%d instructions)", o.Name, t, len(p.Code))
		}
	}
	return nil
}

func (p *Program) checkReg(r Reg) error {
	c, i := r.Class()
	switch c {
	case ClassInvalid:
		return fmt.Errorf("undefined register code 0x%02x", uint8(r))
	case ClassState:
		if i >= len(p.State) {
			return fmt.Errorf("%s not declared (%d state registers)", r, len(p.State))
		}
	case ClassParam:
		if i >= len(p.Params) {
			return fmt.Errorf("%s not declared (%d parameters)", r, len(p.Params))
		}
	case ClassConst:
		if i >= len(p.Consts) {
			return fmt.Errorf("%s not declared (%d constants)", r, len(p.Consts))
		}
	}
	return nil
}

// checkDefined proves that every temporary (r, k) is written before it is read on every path.
// Branches only go forward, so one pass in program order suffices: the set defined at an
// instruction is the intersection of the sets flowing in from its predecessors.
func (p *Program) checkDefined() error {
	const all = ^uint16(0)
	n := len(p.Code)
	in := make([]uint16, n+1) // defined-set at entry of each pc (bit i: r_i, bit 8+i: k_i)
	reached := make([]bool, n+1)
	for i := range in {
		in[i] = all
	}
	in[0], reached[0] = 0, true
	bit := func(r Reg) (uint16, bool) {
		switch c, i := r.Class(); c {
		case ClassTemp:
			return 1 << i, true
		case ClassUTemp:
			return 1 << (8 + i), true
		}
		return 0, false
	}
	flow := func(to int, set uint16) {
		in[to] &= set
		reached[to] = true
	}
	for pc, ins := range p.Code {
		if !reached[pc] {
			continue // dead code: never executed, nothing to check
		}
		def := in[pc]
		for _, r := range ins.Sources() {
			if b, ok := bit(r); ok && def&b == 0 {
				return &InstrError{PC: pc, Msg: fmt.Sprintf("%s: %s may be read before it is written", ins.Op, r)}
			}
		}
		if d, ok := ins.Dest(); ok {
			if b, ok := bit(d); ok {
				def |= b
			}
		}
		if ins.Op.IsBranch() {
			flow(ins.Target(pc), def)
			if ins.Op == OpJmp {
				continue
			}
		}
		flow(pc+1, def)
	}
	return nil
}
