// Package gendoc renders the parts of the documentation that firmware/ defines, so that the
// tables in docs/ never drift from the code. Generated blocks sit between marker lines:
//
//	<!-- BEGIN GENERATED: name -->
//	<!-- END GENERATED: name -->
package gendoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/isa"
)

// Blocks returns every generated block by name.
func Blocks() map[string]string {
	b := map[string]string{
		"isa-opcodes":   opcodeTable(),
		"isa-registers": registerTable(),
	}
	for k, v := range regmapBlocks() {
		b[k] = v
	}
	return b
}

var shapeSyntax = map[isa.Shape]string{
	isa.ShapeDS:   "rd, ra",
	isa.ShapeDSS:  "rd, ra, rb",
	isa.ShapeDSSS: "rd, ra, rb, rc",
	isa.ShapeDSN:  "rd, ra, n",
	isa.ShapeDSSN: "rd, ra, rb, n",
	isa.ShapeS:    "ra",
	isa.ShapeSS:   "ra, rb",
	isa.ShapeL:    "label",
	isa.ShapeSSL:  "ra, rb, label",
}

func opcodeTable() string {
	var b strings.Builder
	b.WriteString("| opcode | mnemonic | operands | n | semantics |\n|---|---|---|---|---|\n")
	for _, o := range isa.Ops {
		n := ""
		if o.Shape == isa.ShapeDSN || o.Shape == isa.ShapeDSSN {
			n = fmt.Sprintf("%d..%d", o.NMin, o.NMax)
		}
		fmt.Fprintf(&b, "| 0x%02X | `%s` | `%s` | %s | %s |\n", uint8(o.Op), o.Name, shapeSyntax[o.Shape], n, o.Doc)
	}
	return b.String()
}

func registerTable() string {
	var b strings.Builder
	b.WriteString("| code | names | class | per | access | lifetime |\n|---|---|---|---|---|---|\n")
	row := func(lo, n int, prefix, class, per, access, life string) {
		names := prefix
		code := fmt.Sprintf("0x%02X", lo)
		if n > 1 {
			names = fmt.Sprintf("%s0..%s%d", prefix, prefix, n-1)
			code = fmt.Sprintf("0x%02X–0x%02X", lo, lo+n-1)
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", code, names, class, per, access, life)
	}
	row(int(isa.S0), isa.NumState, "s", "state", "neuron", "read/write", "kept across steps")
	row(int(isa.R0), isa.NumTemp, "r", "temporary", "neuron", "read/write", "one step; must be written before read")
	row(int(isa.P0), isa.NumParam, "p", "parameter", "neuron", "read-only", "set at load")
	row(int(isa.C0), isa.NumConst, "c", "constant", "core", "read-only", "set at load")
	row(int(isa.K0), isa.NumUTemp, "k", "uniform temporary", "core", "read/write (uniform sources only)", "one step; must be written before read")
	row(int(isa.A), 1, "a", "dendritic input", "neuron", "read-only", "this step")
	row(int(isa.T), 1, "t", "timestep", "core", "read-only", "1 in the first step")
	row(int(isa.Imm), 1, "#imm", "immediate", "instruction", "read-only", "the word's imm field")
	return b.String()
}

// Apply replaces every generated block in doc with its current text. It fails when a block's
// markers are missing or unbalanced.
func Apply(doc []byte, blocks map[string]string) ([]byte, error) {
	out := doc
	for name, text := range blocks {
		begin := []byte("<!-- BEGIN GENERATED: " + name + " -->\n")
		end := []byte("<!-- END GENERATED: " + name + " -->")
		i := bytes.Index(out, begin)
		if i < 0 {
			continue
		}
		j := bytes.Index(out[i:], end)
		if j < 0 {
			return nil, fmt.Errorf("gendoc: block %q has no END marker", name)
		}
		var b bytes.Buffer
		b.Write(out[:i+len(begin)])
		b.WriteString(text)
		b.Write(out[i+j:])
		out = b.Bytes()
	}
	return out, nil
}
