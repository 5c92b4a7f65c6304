package isa

import (
	"fmt"
	"strconv"
)

// Word is one encoded instruction. Layout (bit 63 is the most significant):
//
//	63..56 opcode   55..50 rd   49..44 ra   43..38 rb   37..32 rc   31..0 imm (int32)
//
// Fields an opcode does not use must be zero; the decoder rejects anything else.
type Word uint64

// Field positions of an instruction word.
const (
	OpShift  = 56
	RdShift  = 50
	RaShift  = 44
	RbShift  = 38
	RcShift  = 32
	RegMask  = 0x3F
	OpMask   = 0xFF
	ImmMask  = 0xFFFFFFFF
	WordSize = 8 // bytes per instruction in a program binary (little-endian)
)

// Limits of the neuron program model.
const (
	MaxInstrs = 64 // instructions in one program
	NumState  = 8  // s0..s7: per-neuron state, kept across steps
	NumTemp   = 8  // r0..r7: per-neuron scratch, dead at the end of a step
	NumParam  = 8  // p0..p7: per-neuron parameters, read-only
	NumConst  = 16 // c0..c15: per-core constants, read-only
	NumUTemp  = 8  // k0..k7: per-core (uniform) scratch, dead at the end of a step

	// PayloadBits is the width of a graded spike payload: a full register, as Lava carries
	// payloads (int32, nothing saturates or wraps on the way; see docs/chip.md §4).
	PayloadBits = 32
)

// Reg is a 6-bit operand code.
type Reg uint8

// Operand codes.
const (
	S0   Reg = 0x00 // s0..s7
	R0   Reg = 0x08 // r0..r7
	P0   Reg = 0x10 // p0..p7
	C0   Reg = 0x18 // c0..c15
	K0   Reg = 0x28 // k0..k7
	A    Reg = 0x30 // this step's dendritic input (per neuron, read-only)
	T    Reg = 0x31 // timestep counter, 1 in the first step (uniform, read-only)
	Imm  Reg = 0x3F // the instruction's 32-bit immediate
	None Reg = 0x00 // an unused field (must be encoded as zero)
)

// RegClass tells where an operand lives.
type RegClass uint8

// Register classes.
const (
	ClassInvalid RegClass = iota
	ClassState            // per neuron, read/write, persistent
	ClassTemp             // per neuron, read/write, per step
	ClassParam            // per neuron, read-only
	ClassConst            // per core, read-only
	ClassUTemp            // per core, read/write, per step
	ClassInput            // a
	ClassTime             // t
	ClassImm              // immediate
)

// Class returns the class of r and its index within the class.
func (r Reg) Class() (RegClass, int) {
	switch {
	case r < R0:
		return ClassState, int(r - S0)
	case r < P0:
		return ClassTemp, int(r - R0)
	case r < C0:
		return ClassParam, int(r - P0)
	case r < K0:
		return ClassConst, int(r - C0)
	case r < K0+NumUTemp:
		return ClassUTemp, int(r - K0)
	case r == A:
		return ClassInput, 0
	case r == T:
		return ClassTime, 0
	case r == Imm:
		return ClassImm, 0
	}
	return ClassInvalid, 0
}

// Valid reports whether r is a defined operand code.
func (r Reg) Valid() bool { c, _ := r.Class(); return c != ClassInvalid }

// Uniform reports whether r holds the same value for every neuron of a core.
func (r Reg) Uniform() bool {
	c, _ := r.Class()
	return c == ClassConst || c == ClassUTemp || c == ClassTime || c == ClassImm
}

// Writable reports whether an instruction may write r.
func (r Reg) Writable() bool {
	c, _ := r.Class()
	return c == ClassState || c == ClassTemp || c == ClassUTemp
}

// String is the register's generic assembly name (s3, p0, c12, k1, a, t, #imm).
func (r Reg) String() string {
	c, i := r.Class()
	switch c {
	case ClassState:
		return "s" + strconv.Itoa(i)
	case ClassTemp:
		return "r" + strconv.Itoa(i)
	case ClassParam:
		return "p" + strconv.Itoa(i)
	case ClassConst:
		return "c" + strconv.Itoa(i)
	case ClassUTemp:
		return "k" + strconv.Itoa(i)
	case ClassInput:
		return "a"
	case ClassTime:
		return "t"
	case ClassImm:
		return "#imm"
	}
	return fmt.Sprintf("reg(0x%02x)", uint8(r))
}

// Shape is the operand signature of an opcode.
type Shape uint8

// Operand shapes. D is a written register, S a read operand (register or immediate),
// N a small unsigned constant held in imm, L a forward branch offset held in rd.
const (
	ShapeDS   Shape = iota + 1 // op rd, ra
	ShapeDSS                   // op rd, ra, rb
	ShapeDSSS                  // op rd, ra, rb, rc
	ShapeDSN                   // op rd, ra, n        (n in imm)
	ShapeDSSN                  // op rd, ra, rb, n    (n in imm)
	ShapeS                     // op ra
	ShapeSS                    // op ra, rb
	ShapeL                     // op label            (offset in rd)
	ShapeSSL                   // op ra, rb, label    (offset in rd)
)

// Opcode is the 8-bit operation code. Zero is not an opcode, so that blank memory never decodes.
type Opcode uint8

// Opcodes. Arithmetic is on int32 two's complement; see docs/chip.md for each rule.
const (
	OpMov  Opcode = 0x01 // rd = ra
	OpNeg  Opcode = 0x02 // rd = -ra, wraps (-MinInt32 = MinInt32)
	OpAbs  Opcode = 0x03 // rd = |ra|, wraps (|MinInt32| = MinInt32)
	OpNot  Opcode = 0x04 // rd = ^ra
	OpAdd  Opcode = 0x10 // rd = ra + rb, wraps mod 2^32
	OpSub  Opcode = 0x11 // rd = ra - rb, wraps mod 2^32
	OpAddS Opcode = 0x12 // rd = ra + rb, saturates to int32
	OpSubS Opcode = 0x13 // rd = ra - rb, saturates to int32
	OpMul  Opcode = 0x14 // rd = low 32 bits of ra * rb
	OpDiv  Opcode = 0x15 // rd = ra / rb toward zero; /0 = -1; MinInt32/-1 = MinInt32
	OpRem  Opcode = 0x16 // rd = ra % rb, sign of ra; %0 = ra; MinInt32%-1 = 0
	OpMin  Opcode = 0x17 // rd = min(ra, rb)
	OpMax  Opcode = 0x18 // rd = max(ra, rb)
	OpAnd  Opcode = 0x20 // rd = ra & rb
	OpOr   Opcode = 0x21 // rd = ra | rb
	OpXor  Opcode = 0x22 // rd = ra ^ rb
	OpShl  Opcode = 0x23 // rd = ra << clamp(rb, 0, 32), wraps; 32 gives 0
	OpShr  Opcode = 0x24 // rd = ra >>> clamp(rb, 0, 32) (logical); 32 gives 0
	OpSra  Opcode = 0x25 // rd = ra >> clamp(rb, 0, 32) (arithmetic, floor); 32 gives 0 or -1
	OpAsh  Opcode = 0x26 // rd = rb >= 0 ? ra << rb : ra >> -rb (arithmetic); |rb| >= 32 saturates as above
	OpSeq  Opcode = 0x30 // rd = ra == rb ? 1 : 0
	OpSne  Opcode = 0x31 // rd = ra != rb
	OpSlt  Opcode = 0x32 // rd = ra < rb (signed)
	OpSle  Opcode = 0x33 // rd = ra <= rb
	OpSgt  Opcode = 0x34 // rd = ra > rb
	OpSge  Opcode = 0x35 // rd = ra >= rb
	OpSel  Opcode = 0x38 // rd = ra != 0 ? rb : rc
	OpMulZ Opcode = 0x40 // rd = low 32 bits of T(int64(ra)*int64(rb) / 2^n), T truncates toward zero; n in 0..62
	OpMulF Opcode = 0x41 // rd = low 32 bits of (int64(ra)*int64(rb)) >> n, arithmetic (floor); n in 0..62
	OpSat  Opcode = 0x48 // rd = clamp(ra, -(2^(n-1)-1), 2^(n-1)-1), symmetric; n in 2..32
	OpWrap Opcode = 0x49 // rd = ra > 2^(n-1) ? ra-2^n : ra <= -2^(n-1) ? ra+2^n : ra (Loihi's single wrap); n in 2..31
	OpSext Opcode = 0x4A // rd = low n bits of ra, sign-extended; n in 1..32
	OpSpk  Opcode = 0x50 // if ra != 0: emit a spike with payload 1
	OpSpkG Opcode = 0x51 // if ra != 0: emit a graded spike, payload rb (all 32 bits)
	OpJmp  Opcode = 0x60 // pc += 1 + off
	OpBeq  Opcode = 0x61 // if ra == rb: pc += 1 + off (ra, rb uniform)
	OpBne  Opcode = 0x62 // if ra != rb
	OpBlt  Opcode = 0x63 // if ra < rb
	OpBge  Opcode = 0x64 // if ra >= rb
	OpRand Opcode = 0x70 // rd = Rand(ra, rb): a pseudo-random word, a fixed function of ra and rb
)

// OpInfo describes an opcode.
type OpInfo struct {
	Op    Opcode
	Name  string // assembly mnemonic
	Shape Shape
	NMin  int32 // range of n for ShapeDSN / ShapeDSSN
	NMax  int32
	Doc   string // one line for docs/chip.md
}

// Ops lists every opcode, in encoding order. It is the single source of truth for the
// instruction set: the assembler, the decoder, the emulator and docs/chip.md use it.
var Ops = []OpInfo{
	{OpMov, "mov", ShapeDS, 0, 0, "rd = ra"},
	{OpNeg, "neg", ShapeDS, 0, 0, "rd = −ra, wraps (−(−2^31) = −2^31)"},
	{OpAbs, "abs", ShapeDS, 0, 0, "rd = |ra|, wraps (|−2^31| = −2^31)"},
	{OpNot, "not", ShapeDS, 0, 0, "rd = bitwise not ra"},
	{OpAdd, "add", ShapeDSS, 0, 0, "rd = ra + rb, wraps mod 2^32"},
	{OpSub, "sub", ShapeDSS, 0, 0, "rd = ra − rb, wraps mod 2^32"},
	{OpAddS, "adds", ShapeDSS, 0, 0, "rd = ra + rb, saturates to [−2^31, 2^31−1]"},
	{OpSubS, "subs", ShapeDSS, 0, 0, "rd = ra − rb, saturates to [−2^31, 2^31−1]"},
	{OpMul, "mul", ShapeDSS, 0, 0, "rd = low 32 bits of ra × rb"},
	{OpDiv, "div", ShapeDSS, 0, 0, "rd = ra ÷ rb truncated toward zero; ÷0 gives −1; −2^31 ÷ −1 gives −2^31"},
	{OpRem, "rem", ShapeDSS, 0, 0, "rd = ra − rb × div(ra, rb) (sign of ra); rem by 0 gives ra; −2^31 rem −1 gives 0"},
	{OpMin, "min", ShapeDSS, 0, 0, "rd = min(ra, rb), signed"},
	{OpMax, "max", ShapeDSS, 0, 0, "rd = max(ra, rb), signed"},
	{OpAnd, "and", ShapeDSS, 0, 0, "rd = ra AND rb"},
	{OpOr, "or", ShapeDSS, 0, 0, "rd = ra OR rb"},
	{OpXor, "xor", ShapeDSS, 0, 0, "rd = ra XOR rb"},
	{OpShl, "shl", ShapeDSS, 0, 0, "rd = ra << m, m = clamp(rb, 0, 32), wraps; m = 32 gives 0"},
	{OpShr, "shr", ShapeDSS, 0, 0, "rd = ra >> m logical, m = clamp(rb, 0, 32); m = 32 gives 0"},
	{OpSra, "sra", ShapeDSS, 0, 0, "rd = ra >> m arithmetic (rounds toward −∞), m = clamp(rb, 0, 32); m = 32 gives 0 or −1"},
	{OpAsh, "ash", ShapeDSS, 0, 0, "rd = shl(ra, rb) if rb ≥ 0, else sra(ra, −rb) (−rb computed in 64 bits)"},
	{OpSeq, "seq", ShapeDSS, 0, 0, "rd = 1 if ra = rb else 0"},
	{OpSne, "sne", ShapeDSS, 0, 0, "rd = 1 if ra ≠ rb else 0"},
	{OpSlt, "slt", ShapeDSS, 0, 0, "rd = 1 if ra < rb (signed) else 0"},
	{OpSle, "sle", ShapeDSS, 0, 0, "rd = 1 if ra ≤ rb else 0"},
	{OpSgt, "sgt", ShapeDSS, 0, 0, "rd = 1 if ra > rb else 0"},
	{OpSge, "sge", ShapeDSS, 0, 0, "rd = 1 if ra ≥ rb else 0"},
	{OpSel, "sel", ShapeDSSS, 0, 0, "rd = rb if ra ≠ 0 else rc"},
	{OpMulZ, "mulz", ShapeDSSN, 0, 62, "rd = low 32 bits of trunc(ra × rb ÷ 2^n): 64-bit product, shift rounds toward zero"},
	{OpMulF, "mulf", ShapeDSSN, 0, 62, "rd = low 32 bits of (ra × rb) >> n: 64-bit product, arithmetic shift rounds toward −∞"},
	{OpSat, "sat", ShapeDSN, 2, 32, "rd = clamp(ra, −(2^(n−1)−1), 2^(n−1)−1) (symmetric saturation)"},
	{OpWrap, "wrap", ShapeDSN, 2, 31, "rd = ra − 2^n if ra > 2^(n−1); ra + 2^n if ra ≤ −2^(n−1); else ra (one wrap, as Loihi's u)"},
	{OpSext, "sext", ShapeDSN, 1, 32, "rd = low n bits of ra, sign-extended (true modular wrap to n bits)"},
	{OpSpk, "spk", ShapeS, 0, 0, "if ra ≠ 0, emit a binary spike (payload 1)"},
	{OpSpkG, "spkg", ShapeSS, 0, 0, "if ra ≠ 0, emit a graded spike with payload rb (all 32 bits, as Lava's int32 payloads)"},
	{OpJmp, "jmp", ShapeL, 0, 0, "jump forward to label"},
	{OpBeq, "beq", ShapeSSL, 0, 0, "jump forward to label if ra = rb (uniform operands only)"},
	{OpBne, "bne", ShapeSSL, 0, 0, "jump forward to label if ra ≠ rb (uniform operands only)"},
	{OpBlt, "blt", ShapeSSL, 0, 0, "jump forward to label if ra < rb (uniform operands only)"},
	{OpBge, "bge", ShapeSSL, 0, 0, "jump forward to label if ra ≥ rb (uniform operands only)"},
	{OpRand, "rand", ShapeDSS, 0, 0, "rd = fmix32(fmix32(ra) XOR rb), fmix32 MurmurHash3's finaliser: a pseudo-random word of (seed, counter), see §3.6"},
}

var opByCode [256]*OpInfo
var opByName = map[string]*OpInfo{}

func init() {
	for i := range Ops {
		o := &Ops[i]
		opByCode[o.Op] = o
		opByName[o.Name] = o
	}
}

// Info returns the description of op, or nil when op is not an opcode.
func (op Opcode) Info() *OpInfo { return opByCode[op] }

// Lookup returns the opcode with the given mnemonic, or nil.
func Lookup(name string) *OpInfo { return opByName[name] }

// String returns the mnemonic.
func (op Opcode) String() string {
	if o := opByCode[op]; o != nil {
		return o.Name
	}
	return fmt.Sprintf("op(0x%02x)", uint8(op))
}

// IsBranch reports whether op changes the program counter.
func (op Opcode) IsBranch() bool { return op >= OpJmp && op <= OpBge }

// Instr is one decoded instruction. Fields an opcode does not use are zero.
type Instr struct {
	Op         Opcode
	Rd         Reg // destination; for branches the forward offset (target = pc + 1 + Rd)
	Ra, Rb, Rc Reg
	Imm        int32 // the immediate operand, or n for ShapeDSN/ShapeDSSN
}

// Encode packs i into a word. It does not validate; see Program.Validate.
func (i Instr) Encode() Word {
	return Word(i.Op)<<OpShift | Word(i.Rd&RegMask)<<RdShift | Word(i.Ra&RegMask)<<RaShift |
		Word(i.Rb&RegMask)<<RbShift | Word(i.Rc&RegMask)<<RcShift | Word(uint32(i.Imm))
}

// Decode unpacks a word. It does not validate; see Program.Validate.
func Decode(w Word) Instr {
	return Instr{
		Op:  Opcode(w >> OpShift & OpMask),
		Rd:  Reg(w >> RdShift & RegMask),
		Ra:  Reg(w >> RaShift & RegMask),
		Rb:  Reg(w >> RbShift & RegMask),
		Rc:  Reg(w >> RcShift & RegMask),
		Imm: int32(uint32(w & ImmMask)),
	}
}

// Sources returns the operands i reads, in order.
func (i Instr) Sources() []Reg {
	o := i.Op.Info()
	if o == nil {
		return nil
	}
	switch o.Shape {
	case ShapeDS, ShapeDSN, ShapeS:
		return []Reg{i.Ra}
	case ShapeDSS, ShapeDSSN, ShapeSS, ShapeSSL:
		return []Reg{i.Ra, i.Rb}
	case ShapeDSSS:
		return []Reg{i.Ra, i.Rb, i.Rc}
	}
	return nil
}

// Dest returns the register i writes and true, or false when it writes none.
func (i Instr) Dest() (Reg, bool) {
	o := i.Op.Info()
	if o == nil {
		return 0, false
	}
	switch o.Shape {
	case ShapeDS, ShapeDSS, ShapeDSSS, ShapeDSN, ShapeDSSN:
		return i.Rd, true
	}
	return 0, false
}

// Target returns the instruction index a branch at pc jumps to.
func (i Instr) Target(pc int) int { return pc + 1 + int(i.Rd) }

// UsesImm reports whether the imm field carries an operand value (rather than n or nothing).
func (i Instr) UsesImm() bool {
	for _, r := range i.Sources() {
		if r == Imm {
			return true
		}
	}
	return false
}
