package asm_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/isa"
)

const lifSrc = `; leaky integrate-and-fire
.program lif
.state u, v            // s0, s1
.param bias
.const du, dv, vth
.temp spiked
.utemp odd
.equ FRAC, 12

	mulz u, u, du, FRAC
	add  u, u, a
	and  odd, t, 1
	beq  odd, 0, skip
	add  v, v, bias
skip:	sgt spiked, v, vth
	spk  spiked
	sel  v, spiked, 0, v
`

func lifProgram() *isa.Program {
	u, v := isa.S0, isa.S0+1
	return &isa.Program{
		Name: "lif", State: []string{"u", "v"}, Params: []string{"bias"}, Consts: []string{"du", "dv", "vth"},
		Code: []isa.Instr{
			{Op: isa.OpMulZ, Rd: u, Ra: u, Rb: isa.C0, Imm: 12},
			{Op: isa.OpAdd, Rd: u, Ra: u, Rb: isa.A},
			{Op: isa.OpAnd, Rd: isa.K0, Ra: isa.T, Rb: isa.Imm, Imm: 1},
			{Op: isa.OpBeq, Rd: 1, Ra: isa.K0, Rb: isa.Imm},
			{Op: isa.OpAdd, Rd: v, Ra: v, Rb: isa.P0},
			{Op: isa.OpSgt, Rd: isa.R0, Ra: v, Rb: isa.C0 + 2},
			{Op: isa.OpSpk, Ra: isa.R0},
			{Op: isa.OpSel, Rd: v, Ra: isa.R0, Rb: isa.Imm, Rc: v},
		},
	}
}

func TestAssemble(t *testing.T) {
	spkA := isa.Instr{Op: isa.OpSpk, Ra: isa.A}
	for _, tc := range []struct {
		name string
		src  string
		want *isa.Program
	}{
		{"lif", lifSrc, lifProgram()},
		{"minimal", "spk a", &isa.Program{Code: []isa.Instr{spkA}}},
		{"comments and blank lines", "\n  ; x\n// y\n\tspk a ; z\n\n// spk a\n", &isa.Program{Code: []isa.Instr{spkA}}},
		{"crlf", ".state u\r\nmov u, 1\r\n", &isa.Program{State: []string{"u"}, Code: []isa.Instr{{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: 1}}}},
		{"no spaces", ".state u,v\nadd u,v,-3", &isa.Program{State: []string{"u", "v"}, Code: []isa.Instr{{Op: isa.OpAdd, Rd: isa.S0, Ra: isa.S0 + 1, Rb: isa.Imm, Imm: -3}}}},
		{"appending declarations", ".state u\n.const c_a\n.state v, w\n.const c_b\nadd w, c_b, u",
			&isa.Program{State: []string{"u", "v", "w"}, Consts: []string{"c_a", "c_b"}, Code: []isa.Instr{{Op: isa.OpAdd, Rd: isa.S0 + 2, Ra: isa.C0 + 1, Rb: isa.S0}}}},
		{"declarations apply to the whole file", "mov v, 1\n.state u, v", &isa.Program{State: []string{"u", "v"}, Code: []isa.Instr{{Op: isa.OpMov, Rd: isa.S0 + 1, Ra: isa.Imm, Imm: 1}}}},
		{"generic names", ".state u, v\n.param p_\n.const k_\nmov r7, a\nmov k7, c0\nadd s1, r7, p0\nadd s0, k7, t",
			&isa.Program{State: []string{"u", "v"}, Params: []string{"p_"}, Consts: []string{"k_"}, Code: []isa.Instr{
				{Op: isa.OpMov, Rd: isa.R0 + 7, Ra: isa.A},
				{Op: isa.OpMov, Rd: isa.K0 + 7, Ra: isa.C0},
				{Op: isa.OpAdd, Rd: isa.S0 + 1, Ra: isa.R0 + 7, Rb: isa.P0},
				{Op: isa.OpAdd, Rd: isa.S0, Ra: isa.K0 + 7, Rb: isa.T},
			}}},
		{"temp aliases", ".temp x, y\n.utemp q\nmov y, a\nmov q, t\nadd x, y, q\nspk x",
			&isa.Program{Code: []isa.Instr{
				{Op: isa.OpMov, Rd: isa.R0 + 1, Ra: isa.A},
				{Op: isa.OpMov, Rd: isa.K0, Ra: isa.T},
				{Op: isa.OpAdd, Rd: isa.R0, Ra: isa.R0 + 1, Rb: isa.K0},
				{Op: isa.OpSpk, Ra: isa.R0},
			}}},
		{"literals", ".state u\nmov u, 0x1F\nmov u, 0b101\nmov u, 0XfF\nmov u, 0xFFFFFFFF\nmov u, 0x80000000\nmov u, -0x80000000\nmov u, -2147483648\nmov u, 2147483647\nmov u, 0\nmov u, -0",
			&isa.Program{State: []string{"u"}, Code: []isa.Instr{
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: 31},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: 5},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: 255},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: -1},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: math.MinInt32},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: math.MinInt32},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: math.MinInt32},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: math.MaxInt32},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm},
			}}},
		{"equ", ".equ UNITY, 4096\n.equ MINUS, -UNITY\n.equ N, 0x3e\n.equ MIN, -2147483648\n.state u\nmov u, -UNITY\nmov u, MINUS\nmulf u, u, u, N\nsat u, u, 32\nmov u, MIN",
			&isa.Program{State: []string{"u"}, Code: []isa.Instr{
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: -4096},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: -4096},
				{Op: isa.OpMulF, Rd: isa.S0, Ra: isa.S0, Rb: isa.S0, Imm: 62},
				{Op: isa.OpSat, Rd: isa.S0, Ra: isa.S0, Imm: 32},
				{Op: isa.OpMov, Rd: isa.S0, Ra: isa.Imm, Imm: math.MinInt32},
			}}},
		{"immediate positions", ".state u\nsel u, 1, u, u\nsel u, u, 1, u\nsel u, u, u, -1\nspkg 7, u\nspkg u, 7\nbeq 3, t, end\nbne t, 3, end\nend:",
			&isa.Program{State: []string{"u"}, Code: []isa.Instr{
				{Op: isa.OpSel, Rd: isa.S0, Ra: isa.Imm, Rb: isa.S0, Rc: isa.S0, Imm: 1},
				{Op: isa.OpSel, Rd: isa.S0, Ra: isa.S0, Rb: isa.Imm, Rc: isa.S0, Imm: 1},
				{Op: isa.OpSel, Rd: isa.S0, Ra: isa.S0, Rb: isa.S0, Rc: isa.Imm, Imm: -1},
				{Op: isa.OpSpkG, Ra: isa.Imm, Rb: isa.S0, Imm: 7},
				{Op: isa.OpSpkG, Ra: isa.S0, Rb: isa.Imm, Imm: 7},
				{Op: isa.OpBeq, Rd: 1, Ra: isa.Imm, Rb: isa.T, Imm: 3},
				{Op: isa.OpBne, Rd: 0, Ra: isa.T, Rb: isa.Imm, Imm: 3},
			}}},
		{"labels", "a_: b_:\njmp c_\nc_: d_: jmp e_\nspk a\ne_: jmp z\nz:",
			&isa.Program{Code: []isa.Instr{
				{Op: isa.OpJmp, Rd: 0},
				{Op: isa.OpJmp, Rd: 1},
				{Op: isa.OpSpk, Ra: isa.A},
				{Op: isa.OpJmp, Rd: 0},
			}}},
		{"names that are mnemonics", ".state add, mov\nadd: add add, mov, add\n", &isa.Program{State: []string{"add", "mov"}, Code: []isa.Instr{{Op: isa.OpAdd, Rd: isa.S0, Ra: isa.S0 + 1, Rb: isa.S0}}}},
		{"label and name share a spelling", ".state u\njmp u\nu: spk u", &isa.Program{State: []string{"u"}, Code: []isa.Instr{{Op: isa.OpJmp}, {Op: isa.OpSpk, Ra: isa.S0}}}},
		{"n bounds", ".state u\nsext u, u, 1\nsext u, u, 32\nwrap u, u, 31\nmulz u, u, u, 0",
			&isa.Program{State: []string{"u"}, Code: []isa.Instr{
				{Op: isa.OpSext, Rd: isa.S0, Ra: isa.S0, Imm: 1},
				{Op: isa.OpSext, Rd: isa.S0, Ra: isa.S0, Imm: 32},
				{Op: isa.OpWrap, Rd: isa.S0, Ra: isa.S0, Imm: 31},
				{Op: isa.OpMulZ, Rd: isa.S0, Ra: isa.S0, Rb: isa.S0},
			}}},
		{"long program name", ".program " + strings.Repeat("x", 255) + "\nspk a", &isa.Program{Name: strings.Repeat("x", 255), Code: []isa.Instr{spkA}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := asm.Assemble("t.s", []byte(tc.src))
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
			checkCanonical(t, p)
		})
	}
}

// checkCanonical checks that p, a valid program, survives disassembly and that the
// disassembly is a fixed point.
func checkCanonical(t *testing.T, p *isa.Program) {
	t.Helper()
	text := asm.Disassemble(p)
	q, err := asm.Assemble("dis.s", text)
	require.NoError(t, err, "%s", text)
	require.Equal(t, p, q, "%s", text)
	require.Equal(t, string(text), string(asm.Disassemble(q)))
}

func TestAssembleErrors(t *testing.T) {
	long := strings.Repeat("n", 256)
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "x.s:1:1: no instructions"},
		{"only comments", "; nothing\n", "x.s:1:1: no instructions"},
		{"unknown mnemonic", ".state u\n\nad u, u, u", `x.s:3:1: unknown mnemonic "ad"`},
		{"mnemonics are lower case", "SPK a", `x.s:1:1: unknown mnemonic "SPK"`},
		{"unknown register", ".state u, v\n\tmov u, vv", `x.s:2:9: unknown register "vv"`},
		{"registers are case-sensitive", "spk A", `x.s:1:5: unknown register "A"`},
		{"no such generic register", "spk r8", `x.s:1:5: unknown register "r8"`},
		{"leading zero register", "spk k01", `x.s:1:5: unknown register "k01"`},
		{"c16", ".const q\nmov r0, c16", `x.s:2:9: unknown register "c16"`},
		{"undeclared state", ".state u\nmov s1, 1", "x.s:2:5: s1 not declared (1 state registers)"},
		{"undeclared param", "mov r0, p0\nspk r0", "x.s:1:9: p0 not declared (0 parameters)"},
		{"undeclared const", ".const q\nmov r0, c3", "x.s:2:9: c3 not declared (1 constants)"},
		{"unexpected character", "spk a # b", `x.s:1:7: unexpected character '#'`},
		{"single slash", "spk a / b", `x.s:1:7: unexpected character '/'`},
		{"non-ascii", "spk ü", `x.s:1:5: unexpected character 'ü'`},
		{"lone dot", "spk a\n. state u", `x.s:2:1: unexpected character '.'`},
		{"undefined label", "jmp nowhere\nspk a", `x.s:1:5: undefined label "nowhere"`},
		{"duplicate label", "l:\nspk a\n  l: spk a", `x.s:3:3: label "l" redefined (first defined at 1:1)`},
		{"backward branch", "top: spk a\njmp top", `x.s:2:5: backward branch to "top" (defined at 1:1); branches only go forward`},
		{"branch to itself", "\n  self: beq t, 1, self", `x.s:2:19: backward branch to "self" (defined at 2:3); branches only go forward`},
		{"label is a number", "jmp 3", "x.s:1:5: expected label"},
		{"label negated", "jmp -x\nx:", "x.s:1:5: expected label"},
		{"too few operands", ".state u\n  add u, u", "x.s:2:3: add takes 3 operands (rd, ra, rb), found 2"},
		{"too many operands", "spk a, a", "x.s:1:1: spk takes 1 operands (ra), found 2"},
		{"no operands", "jmp", "x.s:1:1: jmp takes 1 operands (label), found 0"},
		{"trailing comma", ".state u\nmov u,", "x.s:2:7: expected operand, found end of line"},
		{"missing comma", ".state u\nmov u 1", "x.s:2:7: expected ',' or end of line, found number \"1\""},
		{"double comma", ".state u\nmov u,, 1", "x.s:2:7: expected operand, found ','"},
		{"line starts with a comma", ", spk a", "x.s:1:1: expected label, directive or mnemonic, found ','"},
		{"line starts with a number", "12", "x.s:1:1: expected label, directive or mnemonic, found number \"12\""},
		{"redeclared", ".state u, v\n.const w\n.param  v", `x.s:3:9: name "v" redeclared (first declared at 1:11)`},
		{"redeclared by temp", ".state u\n.temp u", `x.s:2:7: name "u" redeclared (first declared at 1:8)`},
		{"redeclared by equ", ".utemp U\n.equ U, 1", `x.s:2:6: name "U" redeclared (first declared at 1:8)`},
		{"reserved", ".state u, s0", `x.s:1:11: name "s0" is reserved (spelled like a register)`},
		{"reserved s9", ".param s9", `x.s:1:8: name "s9" is reserved (spelled like a register)`},
		{"reserved t", ".temp t", `x.s:1:7: name "t" is reserved (spelled like a register)`},
		{"state named spike", ".state v, spike", `x.s:1:11: state name "spike" is reserved: a probe of POPULATION:spike records the spike payload, not this register; choose another name`},
		{"state named s", ".state s", `x.s:1:8: state name "s" is reserved: a probe of POPULATION:s records the spike payload, not this register; choose another name`},
		{"state named input", ".state input", `x.s:1:8: state name "input" is reserved: a probe of POPULATION:input records the dendritic input, not this register; choose another name`},
		{"unknown register of megabytes", "spk " + strings.Repeat("x", 1<<20), `x.s:1:5: unknown register "` + strings.Repeat("x", 300-len(`unknown register "`)) + "… (message cut at 300 of 1048595 bytes)"},
		{"too many state registers", ".state a0, a1, a2, a3, a4\n.state a5, a6, a7, a8", "x.s:2:20: too many state registers (limit 8)"},
		{"too many parameters", ".param a0, a1, a2, a3, a4, a5, a6, a7, a8", "x.s:1:40: too many parameters (limit 8)"},
		{"too many constants", ".const a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6", "x.s:1:72: too many constants (limit 16)"},
		{"too many temporaries", ".temp a0, a1, a2, a3, a4, a5, a6, a7, a8", "x.s:1:39: too many temporaries (limit 8)"},
		{"too many uniform temporaries", ".utemp a0, a1, a2, a3, a4, a5, a6, a7, a8", "x.s:1:40: too many uniform temporaries (limit 8)"},
		{"long name", ".state " + long, "x.s:1:8: name is 256 bytes, limit 255"},
		{"long program name", ".program " + long, "x.s:1:10: program name is 256 bytes, limit 255"},
		{"unknown directive", ".stat u", `x.s:1:1: unknown directive ".stat"`},
		{"directives are case-sensitive", ".STATE u", `x.s:1:1: unknown directive ".STATE"`},
		{"duplicate .program", ".program a1\n.program b1", "x.s:2:1: duplicate .program directive (first at line 1)"},
		{".program with two names", ".program a1, b1", "x.s:1:14: .program takes one name"},
		{".program without name", ".program", "x.s:1:9: .program: expected name, found end of line"},
		{".state number", ".state 1", `x.s:1:8: .state: expected name, found number "1"`},
		{".state missing comma", ".state u v", `x.s:1:10: expected ',' or end of line, found name "v"`},
		{".state trailing comma", ".state u,", `x.s:1:10: .state: expected name, found end of line`},
		{".equ without value", ".equ X", "x.s:1:1: expected .equ NAME, VALUE"},
		{".equ two values", ".equ X, 1, 2", "x.s:1:1: expected .equ NAME, VALUE"},
		{".equ register value", ".equ X, s0", "x.s:1:9: expected integer, found register s0"},
		{".equ forward reference", ".equ X, Y\n.equ Y, 1", `x.s:1:9: undefined constant "Y"`},
		{".equ out of range", ".equ X, 2147483648", "x.s:1:9: number 2147483648 out of int32 range"},
		{"negative out of range", ".state u\nmov u, -2147483649", "x.s:2:8: number -2147483649 out of int32 range"},
		{"negative hex out of range", ".state u\nmov u, -0xFFFFFFFF", "x.s:2:8: number -0xFFFFFFFF out of int32 range"},
		{"hex out of range", ".state u\nmov u, 0x100000000", "x.s:2:8: number 0x100000000 out of int32 range"},
		{"huge", ".state u\nmov u, 99999999999999999999999", "x.s:2:8: number 99999999999999999999999 out of int32 range"},
		{"negated equ overflows", ".equ M, -0x80000000\n.state u\nmov u, -M", "x.s:3:8: -M out of int32 range"},
		{"leading zero", ".state u\nmov u, 010", `x.s:2:8: invalid number "010" (decimal numbers have no leading zeros)`},
		{"bad hex", ".state u\nmov u, 0x", `x.s:2:8: invalid number "0x"`},
		{"bad binary", ".state u\nmov u, 0b102", `x.s:2:8: invalid number "0b102"`},
		{"number with letters", ".state u\nmov u, 12ab", `x.s:2:8: invalid number "12ab"`},
		{"zero underscore", ".state u\nmov u, 0_1", `x.s:2:8: invalid number "0_1"`},
		{"underscore in number", ".state u\nmov u, 0x1_0", `x.s:2:8: invalid number "0x1_0"`},
		{"two immediates", ".state u\nadd u, 1, 2", "x.s:2:11: more than one immediate operand"},
		{"two immediates in a branch", "beq 1, 2, e\ne:", "x.s:1:8: more than one immediate operand"},
		{"immediate with n", ".state u\nmulz u, u, 3, 4", "x.s:2:12: mulz: operand cannot be an immediate (the immediate field holds n)"},
		{"n too big", ".state u\nmulz u, u, u, 63", "x.s:2:15: mulz: n = 63 out of range [0, 62]"},
		{"n too small", ".state u\nsat u, u, 1", "x.s:2:11: sat: n = 1 out of range [2, 32]"},
		{"n negative", ".state u\nsext u, u, -1", "x.s:2:12: sext: n = -1 out of range [1, 32]"},
		{"n is a register", ".state u\nsat u, u, u", "x.s:2:11: expected integer, found register u"},
		{"n is a generic register", ".state u\nsat u, u, r1", "x.s:2:11: expected integer, found register r1"},
		{"n is undefined", ".state u\nsat u, u, N", `x.s:2:11: undefined constant "N"`},
		{"immediate destination", "mov 1, a", "x.s:1:5: destination must be a register"},
		{"equ destination", ".equ X, 1\nmov X, a", "x.s:2:5: destination must be a register"},
		{"read-only destination", ".param q\nmov q, a", "x.s:2:5: cannot write to read-only register q"},
		{"input destination", "mov a, 1", "x.s:1:5: cannot write to read-only register a"},
		{"negated register", ".state u\nmov u, -u", "x.s:2:8: cannot negate register u"},
		{"negated generic register", "mov r0, -a", "x.s:1:9: cannot negate register a"},
		{"too many instructions", strings.Repeat("spk a\n", 64) + "  spk a\n", "x.s:65:3: too many instructions (limit 64)"},
		{"uniform from per-neuron", "\n  mov k0, a", "x.s:2:3: mov: uniform register k0 written from per-neuron operand a"},
		{"branch on per-neuron", ".state u\nbeq u, 0, e\ne:", "x.s:2:1: beq: branch condition on per-neuron operand s0 (only c, k, t and immediates may steer a branch)"},
		{"read before write", "mov r0, 1\n  spk r1", "x.s:2:3: spk: r1 may be read before it is written"},
		{"read before write on a path", ".utemp q\nbeq t, 1, skip\nmov q, 1\nskip: spk q", "x.s:4:7: spk: k0 may be read before it is written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := asm.Assemble("x.s", []byte(tc.src))
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Equal(t, tc.want, err.Error())
			assert.ErrorIs(t, err, asm.ErrSyntax)
			var e *asm.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "x.s", e.File)
			assert.Equal(t, tc.want, fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg))
		})
	}
}

func TestErrorWrapsValidation(t *testing.T) {
	_, err := asm.Assemble("v.s", []byte("spk a\nmov k1, a"))
	var ie *isa.InstrError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.PC)
	assert.ErrorIs(t, err, isa.ErrInvalid)
	assert.ErrorIs(t, err, asm.ErrSyntax)

	_, err = asm.Assemble("v.s", []byte("spk r0 junk"))
	assert.NotErrorIs(t, err, isa.ErrInvalid)
}

func TestErrorWithoutFile(t *testing.T) {
	_, err := asm.Assemble("", []byte("ad"))
	assert.EqualError(t, err, `asm: 1:1: unknown mnemonic "ad"`)
}

func TestDisassemble(t *testing.T) {
	want := `.program lif
.state u, v
.param bias
.const du, dv, vth

	mulz u, u, du, 12
	add  u, u, a
	and  k0, t, 1
	beq  k0, 0, L5
	add  v, v, bias
L5:
	sgt  r0, v, vth
	spk  r0
	sel  v, r0, 0, v
`
	assert.Equal(t, want, string(asm.Disassemble(lifProgram())))

	p := &isa.Program{Code: []isa.Instr{{Op: isa.OpJmp, Rd: 1}, {Op: isa.OpBlt, Ra: isa.T, Rb: isa.Imm, Imm: -7}}}
	assert.Equal(t, "\tjmp  L2\n\tblt  t, -7, L2\nL2:\n", string(asm.Disassemble(p)))
	checkCanonical(t, p)
}

// TestDisassembleInvalid: invalid programs disassemble without panicking, to text that does
// not assemble.
func TestDisassembleInvalid(t *testing.T) {
	assert.Nil(t, asm.Disassemble(nil))
	for _, p := range []*isa.Program{
		{},
		{Code: []isa.Instr{{}}},
		{Code: []isa.Instr{{Op: isa.OpMov, Rd: 0x33, Ra: isa.Imm}}},
		{Code: []isa.Instr{{Op: isa.OpMov, Rd: isa.S0 + 3, Ra: isa.P0 + 1}}},
		{Code: []isa.Instr{{Op: isa.OpJmp, Rd: 60}}},
		{Code: []isa.Instr{{Op: isa.OpSat, Rd: isa.R0, Ra: isa.Imm, Imm: 99}}},
		{State: []string{"s0"}, Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.S0}}},
		{State: []string{"x y"}, Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.S0}}},
	} {
		text := asm.Disassemble(p)
		_, err := asm.Assemble("bad.s", text)
		assert.Error(t, err, "%s", text)
	}
}

// TestRoundTripRandom: Assemble(Disassemble(p)) == p for random valid programs, and the binary
// format round-trips them too.
func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	branches, kregs := 0, 0
	for i := 0; i < n; i++ {
		p := randProgram(r)
		require.NoError(t, p.Validate(), "generator produced an invalid program")
		require.NoError(t, p.CheckNames())
		for _, in := range p.Code {
			if in.Op.IsBranch() {
				branches++
			}
			if d, ok := in.Dest(); ok && d >= isa.K0 && d < isa.K0+isa.NumUTemp {
				kregs++
			}
		}
		checkCanonical(t, p)

		b, err := p.MarshalBinary()
		require.NoError(t, err)
		q, err := isa.UnmarshalProgram(b)
		require.NoError(t, err)
		require.Equal(t, p, q)
	}
	assert.Greater(t, branches, n/2)
	assert.Greater(t, kregs, n/2)
}

// TestAssembleStable: disassembling an assembled source and assembling that again gives the
// same program.
// TestAssembleStable checks every fuzz seed the assembler takes: disassembling and
// assembling again gives the same program. The seeds that must assemble are named, so that
// the test cannot pass by skipping them all.
func TestAssembleStable(t *testing.T) {
	refused := map[int]string{
		5: "k0 may be read before it is written",
		7: "destination must be a register",
		8: "operand cannot be an immediate",
	}
	for i, src := range fuzzSeeds() {
		p, err := asm.Assemble("s.s", []byte(src))
		if want, ok := refused[i]; ok {
			require.ErrorContains(t, err, want, "seed %d", i)
			continue
		}
		require.NoError(t, err, "seed %d", i)
		checkCanonical(t, p)
	}
}

func fuzzSeeds() []string {
	return []string{
		lifSrc,
		"spk a",
		".state u\nmov u, 0xFFFFFFFF\nmov u, -0x80000000 // c",
		".equ N, 3\n.state u\nsat u, u, N\nwrap u, u, N",
		"a_: b_:\njmp c_\nc_: d_: jmp e_\nspk a\ne_: jmp z\nz:",
		".utemp q\nbeq t, 1, skip\nmov q, 1\nskip: spk q",
		".temp x\n.utemp y\nmov y, t\nbge y, 2, l\nmov x, a\nspk x\nl: spkg t, y\n",
		"mov 1, a",
		".state u\nmulz u, u, 3, 4",
	}
}

func FuzzAssemble(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	std, _ := filepath.Glob("../programs/*.lra") // the standard programs, where present
	for _, name := range std {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add(asm.Disassemble(randProgram(r)))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := asm.Assemble("f.s", src)
		if err != nil {
			require.Nil(t, p)
			var e *asm.Error
			require.ErrorAs(t, err, &e)
			require.True(t, errors.Is(err, asm.ErrSyntax))
			require.GreaterOrEqual(t, e.Line, 1)
			require.LessOrEqual(t, e.Line, strings.Count(string(src), "\n")+1)
			require.GreaterOrEqual(t, e.Col, 1)
			require.NotEmpty(t, e.Msg)
			return
		}
		require.NoError(t, p.Validate())
		require.NoError(t, p.CheckNames())
		checkCanonical(t, p)
	})
}
