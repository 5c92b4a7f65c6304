package asm

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/isa"
)

// ErrSyntax is wrapped by every error Assemble returns.
var ErrSyntax = errors.New("asm: invalid assembly source")

// Error is an assembly error at a position of the source.
type Error struct {
	File string
	Line int // 1-based
	Col  int // 1-based, in bytes
	Msg  string
	Err  error // the underlying error, if any (an *isa.InstrError from Program.Validate)
}

// Error returns "file:line:col: msg", or "asm: line:col: msg" when File is empty.
func (e *Error) Error() string {
	if e.File == "" {
		return fmt.Sprintf("asm: %d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Unwrap returns ErrSyntax and the underlying error, if any.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrSyntax, e.Err}
	}
	return []error{ErrSyntax}
}

// nameKind is what a declared name stands for.
type nameKind uint8

const (
	kState nameKind = iota
	kParam
	kConst
	kTemp
	kUTemp
	kEqu
)

var kinds = [...]struct {
	directive string
	what      string // "too many ..."
	limit     int
	base      isa.Reg
}{
	kState: {".state", "state registers", isa.NumState, isa.S0},
	kParam: {".param", "parameters", isa.NumParam, isa.P0},
	kConst: {".const", "constants", isa.NumConst, isa.C0},
	kTemp:  {".temp", "temporaries", isa.NumTemp, isa.R0},
	kUTemp: {".utemp", "uniform temporaries", isa.NumUTemp, isa.K0},
}

type name struct {
	kind      nameKind
	index     int   // register index within its class
	value     int32 // of an .equ
	line, col int
}

type label struct {
	pc        int
	line, col int
}

// operand is one parsed operand: an optionally negated name or number.
type operand struct {
	neg bool
	tok token // tIdent or tNumber
	col int   // of the operand's first token
}

// stmt is an instruction after the first pass.
type stmt struct {
	line, col int // of the mnemonic
	info      *isa.OpInfo
	ops       []operand
}

type assembler struct {
	names    map[string]*name
	labels   map[string]label
	counts   [kEqu]int
	prog     isa.Program
	progLine int // line of .program, 0 if none
	stmts    []stmt
}

// Assemble translates assembly source (see the package documentation) into a program that
// passes isa.Program.Validate and CheckNames. filename is used in error messages only. The
// error, if any, is an *Error for the first problem found; it wraps ErrSyntax.
func Assemble(filename string, src []byte) (*isa.Program, error) {
	a := &assembler{names: map[string]*name{}, labels: map[string]label{}}
	fail := func(line int, e *posError) error {
		return &Error{File: filename, Line: line, Col: e.col, Msg: capMsg(e.msg)}
	}

	// Pass 1: declarations, labels and the syntax of instructions.
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if err := a.line(i+1, strings.TrimSuffix(l, "\r")); err != nil {
			return nil, fail(i+1, err)
		}
	}
	// Pass 2: operands, now that every name and label is known.
	for pc, s := range a.stmts {
		in, err := a.resolve(pc, s)
		if err != nil {
			return nil, fail(s.line, err)
		}
		a.prog.Code = append(a.prog.Code, in)
	}
	p := &a.prog
	if err := p.Validate(); err != nil {
		var ie *isa.InstrError
		if errors.As(err, &ie) && ie.PC >= 0 && ie.PC < len(a.stmts) {
			s := a.stmts[ie.PC]
			return nil, &Error{File: filename, Line: s.line, Col: s.col, Msg: ie.Msg, Err: err}
		}
		msg := strings.TrimPrefix(err.Error(), isa.ErrInvalid.Error()+": ")
		return nil, &Error{File: filename, Line: 1, Col: 1, Msg: msg, Err: err}
	}
	if err := p.CheckNames(); err != nil { // the first pass should have caught it
		return nil, &Error{File: filename, Line: 1, Col: 1, Msg: err.Error(), Err: err}
	}
	return p, nil
}

// maxMsg bounds an error message: one that quotes a token of a hostile source (a name of
// megabytes) is cut.
const maxMsg = 300

func capMsg(s string) string {
	if len(s) <= maxMsg {
		return s
	}
	cut := maxMsg
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (message cut at %d of %d bytes)", s[:cut], cut, len(s))
}

// line handles one source line in the first pass.
func (a *assembler) line(ln int, text string) *posError {
	toks, err := lexLine(text)
	if err != nil {
		return err
	}
	i := 0
	for toks[i].kind == tIdent && toks[i+1].kind == tColon {
		t := toks[i]
		if l, dup := a.labels[t.text]; dup {
			return errAt(t.col, "label %q redefined (first defined at %d:%d)", t.text, l.line, l.col)
		}
		a.labels[t.text] = label{len(a.stmts), ln, t.col}
		i += 2
	}
	switch t := toks[i]; t.kind {
	case tEOL:
		return nil
	case tDirective:
		return a.directive(ln, t, toks[i+1:])
	case tIdent:
		return a.instr(ln, t, toks[i+1:])
	default:
		return errAt(t.col, "expected label, directive or mnemonic, found %s", t.describe())
	}
}

func (a *assembler) directive(ln int, d token, toks []token) *posError {
	switch d.text {
	case ".program":
		if a.progLine != 0 {
			return errAt(d.col, "duplicate .program directive (first at line %d)", a.progLine)
		}
		names, err := nameList(d, toks)
		if err != nil {
			return err
		}
		if len(names) != 1 {
			return errAt(names[1].col, ".program takes one name")
		}
		if n := len(names[0].text); n > isa.MaxNameLen {
			return errAt(names[0].col, "program name is %d bytes, limit %d", n, isa.MaxNameLen)
		}
		a.prog.Name, a.progLine = names[0].text, ln
		return nil
	case ".equ":
		if toks[0].kind != tIdent || toks[1].kind != tComma {
			return errAt(d.col, "expected .equ NAME, VALUE")
		}
		ops, err := parseOperands(toks[2:])
		if err != nil {
			return err
		}
		if len(ops) != 1 {
			return errAt(d.col, "expected .equ NAME, VALUE")
		}
		v, err := a.integer(ops[0])
		if err != nil {
			return err
		}
		return a.declare(ln, kEqu, toks[0], v)
	}
	for k, kd := range kinds {
		if kd.directive == d.text {
			names, err := nameList(d, toks)
			if err != nil {
				return err
			}
			for _, t := range names {
				if err := a.declare(ln, nameKind(k), t, 0); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return errAt(d.col, "unknown directive %q", d.text)
}

// nameList parses "NAME {, NAME}" up to the end of the line.
func nameList(d token, toks []token) ([]token, *posError) {
	var names []token
	for i := 0; ; i += 2 {
		if toks[i].kind != tIdent {
			return nil, errAt(toks[i].col, "%s: expected name, found %s", d.text, toks[i].describe())
		}
		names = append(names, toks[i])
		switch toks[i+1].kind {
		case tEOL:
			return names, nil
		case tComma:
		default:
			return nil, errAt(toks[i+1].col, "expected ',' or end of line, found %s", toks[i+1].describe())
		}
	}
}

func (a *assembler) declare(ln int, k nameKind, t token, v int32) *posError {
	if len(t.text) > isa.MaxNameLen {
		return errAt(t.col, "name is %d bytes, limit %d", len(t.text), isa.MaxNameLen)
	}
	if k == kState && chip.ReservedField(t.text) {
		return errAt(t.col, "state name %q is reserved: a probe of %s:%s records the %s, not this register; choose another name",
			t.text, "POPULATION", t.text, map[bool]string{true: "dendritic input", false: "spike payload"}[t.text == chip.NameInput || t.text == "input"])
	}
	if isa.ReservedName(t.text) {
		return errAt(t.col, "name %q is reserved (spelled like a register)", t.text)
	}
	if n, dup := a.names[t.text]; dup {
		return errAt(t.col, "name %q redeclared (first declared at %d:%d)", t.text, n.line, n.col)
	}
	n := &name{kind: k, value: v, line: ln, col: t.col}
	if k != kEqu {
		if a.counts[k] == kinds[k].limit {
			return errAt(t.col, "too many %s (limit %d)", kinds[k].what, kinds[k].limit)
		}
		n.index = a.counts[k]
		a.counts[k]++
	}
	switch k {
	case kState, kParam, kConst:
		if len(t.text) > isa.MaxNameLen {
			return errAt(t.col, "name is %d bytes, limit %d", len(t.text), isa.MaxNameLen)
		}
		l := [...]*[]string{kState: &a.prog.State, kParam: &a.prog.Params, kConst: &a.prog.Consts}[k]
		*l = append(*l, t.text)
	}
	a.names[t.text] = n
	return nil
}

// Operand slots of the shapes, in source order.
type slot uint8

const (
	slotD slot = iota // destination register
	slotS             // source register or immediate
	slotN             // n
	slotL             // label
)

var shapes = map[isa.Shape]struct {
	slots []slot
	names string
}{
	isa.ShapeDS:   {[]slot{slotD, slotS}, "rd, ra"},
	isa.ShapeDSS:  {[]slot{slotD, slotS, slotS}, "rd, ra, rb"},
	isa.ShapeDSSS: {[]slot{slotD, slotS, slotS, slotS}, "rd, ra, rb, rc"},
	isa.ShapeDSN:  {[]slot{slotD, slotS, slotN}, "rd, ra, n"},
	isa.ShapeDSSN: {[]slot{slotD, slotS, slotS, slotN}, "rd, ra, rb, n"},
	isa.ShapeS:    {[]slot{slotS}, "ra"},
	isa.ShapeSS:   {[]slot{slotS, slotS}, "ra, rb"},
	isa.ShapeL:    {[]slot{slotL}, "label"},
	isa.ShapeSSL:  {[]slot{slotS, slotS, slotL}, "ra, rb, label"},
}

func (a *assembler) instr(ln int, m token, toks []token) *posError {
	info := isa.Lookup(m.text)
	if info == nil {
		return errAt(m.col, "unknown mnemonic %q", m.text)
	}
	ops, err := parseOperands(toks)
	if err != nil {
		return err
	}
	sh := shapes[info.Shape]
	if len(ops) != len(sh.slots) {
		return errAt(m.col, "%s takes %d operands (%s), found %d", m.text, len(sh.slots), sh.names, len(ops))
	}
	if len(a.stmts) == isa.MaxInstrs {
		return errAt(m.col, "too many instructions (limit %d)", isa.MaxInstrs)
	}
	a.stmts = append(a.stmts, stmt{ln, m.col, info, ops})
	return nil
}

// parseOperands parses "[OPERAND {, OPERAND}]" up to the end of the line; an operand is a
// name or number, optionally preceded by '-'.
func parseOperands(toks []token) ([]operand, *posError) {
	if toks[0].kind == tEOL {
		return nil, nil
	}
	var ops []operand
	for i := 0; ; i++ {
		o := operand{col: toks[i].col}
		if toks[i].kind == tMinus {
			o.neg = true
			i++
		}
		if t := toks[i]; t.kind != tIdent && t.kind != tNumber {
			return nil, errAt(t.col, "expected operand, found %s", t.describe())
		}
		o.tok = toks[i]
		ops = append(ops, o)
		i++
		switch toks[i].kind {
		case tEOL:
			return ops, nil
		case tComma:
		default:
			return nil, errAt(toks[i].col, "expected ',' or end of line, found %s", toks[i].describe())
		}
	}
}

// resolve builds the instruction of s, at pc, in the second pass.
func (a *assembler) resolve(pc int, s stmt) (isa.Instr, *posError) {
	in := isa.Instr{Op: s.info.Op}
	srcs := []*isa.Reg{&in.Ra, &in.Rb, &in.Rc}
	nsrc, nimm := 0, 0
	for i, sl := range shapes[s.info.Shape].slots {
		o := s.ops[i]
		switch sl {
		case slotD:
			r, imm, _, err := a.value(o)
			if err != nil {
				return in, err
			}
			if imm {
				return in, errAt(o.col, "destination must be a register")
			}
			if !r.Writable() {
				return in, errAt(o.col, "cannot write to read-only register %s", o.tok.text)
			}
			in.Rd = r
		case slotS:
			r, imm, v, err := a.value(o)
			if err != nil {
				return in, err
			}
			if imm {
				if s.info.Shape == isa.ShapeDSN || s.info.Shape == isa.ShapeDSSN {
					return in, errAt(o.col, "%s: operand cannot be an immediate (the immediate field holds n)", s.info.Name)
				}
				if nimm++; nimm > 1 {
					return in, errAt(o.col, "more than one immediate operand")
				}
				in.Imm = v
			}
			*srcs[nsrc] = r
			nsrc++
		case slotN:
			v, err := a.integer(o)
			if err != nil {
				return in, err
			}
			if v < s.info.NMin || v > s.info.NMax {
				return in, errAt(o.col, "%s: n = %d out of range [%d, %d]", s.info.Name, v, s.info.NMin, s.info.NMax)
			}
			in.Imm = v
		case slotL:
			if o.neg || o.tok.kind != tIdent {
				return in, errAt(o.col, "expected label")
			}
			l, ok := a.labels[o.tok.text]
			if !ok {
				return in, errAt(o.col, "undefined label %q", o.tok.text)
			}
			if l.pc <= pc {
				return in, errAt(o.col, "backward branch to %q (defined at %d:%d); branches only go forward", o.tok.text, l.line, l.col)
			}
			in.Rd = isa.Reg(l.pc - pc - 1) // < 64: there are at most MaxInstrs instructions
		}
	}
	return in, nil
}

// value resolves a register or immediate operand: it returns the register, or isa.Imm, true
// and the immediate's value.
func (a *assembler) value(o operand) (isa.Reg, bool, int32, *posError) {
	if o.tok.kind == tNumber {
		v, err := a.integer(o)
		return isa.Imm, true, v, err
	}
	text := o.tok.text
	if n := a.names[text]; n != nil && n.kind == kEqu {
		v, err := a.integer(o)
		return isa.Imm, true, v, err
	}
	r, ok := a.register(text)
	if !ok {
		return 0, false, 0, errAt(o.tok.col, "unknown register %q", text)
	}
	if o.neg {
		return 0, false, 0, errAt(o.col, "cannot negate register %s", text)
	}
	switch c, i := r.Class(); {
	case c == isa.ClassState && i >= a.counts[kState]:
		return 0, false, 0, errAt(o.col, "%s not declared (%d state registers)", text, a.counts[kState])
	case c == isa.ClassParam && i >= a.counts[kParam]:
		return 0, false, 0, errAt(o.col, "%s not declared (%d parameters)", text, a.counts[kParam])
	case c == isa.ClassConst && i >= a.counts[kConst]:
		return 0, false, 0, errAt(o.col, "%s not declared (%d constants)", text, a.counts[kConst])
	}
	return r, false, 0, nil
}

// register resolves a generic register name or a declared register name.
func (a *assembler) register(text string) (isa.Reg, bool) {
	if n := a.names[text]; n != nil && n.kind != kEqu {
		return kinds[n.kind].base + isa.Reg(n.index), true
	}
	switch text {
	case "a":
		return isa.A, true
	case "t":
		return isa.T, true
	}
	if !isa.ReservedName(text) || len(text) > 3 || len(text) == 3 && text[1] == '0' {
		return 0, false
	}
	i, _ := strconv.Atoi(text[1:])
	k := map[byte]nameKind{'s': kState, 'r': kTemp, 'p': kParam, 'c': kConst, 'k': kUTemp}[text[0]]
	if i >= kinds[k].limit {
		return 0, false
	}
	return kinds[k].base + isa.Reg(i), true
}

// integer evaluates an operand that must be an integer: a literal or an .equ name, optionally
// negated, within int32; hexadecimal and binary literals up to 2^32-1 stand for their 32-bit
// two's complement value.
func (a *assembler) integer(o operand) (int32, *posError) {
	t := o.tok
	if t.kind == tIdent {
		n := a.names[t.text]
		switch {
		case n != nil && n.kind == kEqu:
			if !o.neg {
				return n.value, nil
			}
			if n.value == math.MinInt32 {
				return 0, errAt(o.col, "-%s out of int32 range", t.text)
			}
			return -n.value, nil
		case n != nil, isa.ReservedName(t.text):
			return 0, errAt(t.col, "expected integer, found register %s", t.text)
		}
		return 0, errAt(t.col, "undefined constant %q", t.text)
	}
	base, digits := 10, t.text
	if len(digits) > 1 && digits[0] == '0' {
		switch digits[1] {
		case 'x', 'X':
			base, digits = 16, digits[2:]
		case 'b', 'B':
			base, digits = 2, digits[2:]
		case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return 0, errAt(t.col, "invalid number %q (decimal numbers have no leading zeros)", t.text)
		}
	}
	m, err := strconv.ParseUint(digits, base, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errAt(t.col, "invalid number %q", t.text)
	}
	switch {
	case err != nil:
	case o.neg && m <= 1<<31:
		return int32(-int64(m)), nil
	case !o.neg && m <= math.MaxInt32:
		return int32(m), nil
	case !o.neg && base != 10 && m <= math.MaxUint32:
		return int32(uint32(m)), nil
	}
	sign := ""
	if o.neg {
		sign = "-"
	}
	return 0, errAt(o.col, "number %s%s out of int32 range", sign, t.text)
}
