package asm

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/lrchip/lrchip/firmware/isa"
)

// Disassemble returns the canonical text of p: a .program directive (when p has a name) and
// .state, .param and .const directives for its names, then one instruction per line, with the
// declared names for s, p and c registers, generic names for the others, immediates and n in
// decimal, and a label L<pc> before each branch target. For a program that passes Validate and
// CheckNames, Assemble gives back an identical program. Any other program is disassembled as
// well as possible: unknown opcodes and registers are written so that they do not assemble,
// but fields that the opcode does not use are not shown.
func Disassemble(p *isa.Program) []byte {
	var b bytes.Buffer
	if p == nil {
		return nil
	}
	if p.Name != "" {
		fmt.Fprintf(&b, ".program %s\n", p.Name)
	}
	for _, d := range []struct {
		directive string
		names     []string
	}{{".state", p.State}, {".param", p.Params}, {".const", p.Consts}} {
		if len(d.names) > 0 {
			fmt.Fprintf(&b, "%s %s\n", d.directive, strings.Join(d.names, ", "))
		}
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}

	targets := make([]bool, len(p.Code)+1)
	for pc, in := range p.Code {
		if t := in.Target(pc); in.Op.IsBranch() && t <= len(p.Code) {
			targets[t] = true
		}
	}
	reg := func(r isa.Reg) string {
		c, i := r.Class()
		var names []string
		switch c {
		case isa.ClassState:
			names = p.State
		case isa.ClassParam:
			names = p.Params
		case isa.ClassConst:
			names = p.Consts
		}
		if i < len(names) {
			return names[i]
		}
		return r.String()
	}
	for pc, in := range p.Code {
		if targets[pc] {
			fmt.Fprintf(&b, "L%d:\n", pc)
		}
		info := in.Op.Info()
		if info == nil {
			fmt.Fprintf(&b, "\t%s\n", in.Op) // op(0x..): does not assemble
			continue
		}
		src := func(r isa.Reg) string {
			if r == isa.Imm {
				return strconv.Itoa(int(in.Imm))
			}
			return reg(r)
		}
		var ops []string
		srcs := []isa.Reg{in.Ra, in.Rb, in.Rc}
		for _, sl := range shapes[info.Shape].slots {
			switch sl {
			case slotD:
				ops = append(ops, reg(in.Rd))
			case slotS:
				ops = append(ops, src(srcs[0]))
				srcs = srcs[1:]
			case slotN:
				ops = append(ops, strconv.Itoa(int(in.Imm)))
			case slotL:
				ops = append(ops, "L"+strconv.Itoa(in.Target(pc)))
			}
		}
		fmt.Fprintf(&b, "\t%-4s %s\n", info.Name, strings.Join(ops, ", "))
	}
	if targets[len(p.Code)] {
		fmt.Fprintf(&b, "L%d:\n", len(p.Code))
	}
	return b.Bytes()
}
