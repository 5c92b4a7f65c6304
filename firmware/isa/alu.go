package isa

import "math"

// ALU is the reference semantics of every value-producing opcode, one neuron at a time:
// a, b, c are the values of ra, rb, rc and n the instruction's n (ShapeDSN, ShapeDSSN).
// The emulator's fast paths are tested against it. It returns 0 for opcodes that produce
// no value.
func ALU(op Opcode, a, b, c, n int32) int32 {
	switch op {
	case OpMov:
		return a
	case OpNeg:
		return -a
	case OpAbs:
		if a < 0 {
			return -a
		}
		return a
	case OpNot:
		return ^a
	case OpAdd:
		return a + b
	case OpSub:
		return a - b
	case OpAddS:
		return Sat32(int64(a) + int64(b))
	case OpSubS:
		return Sat32(int64(a) - int64(b))
	case OpMul:
		return a * b
	case OpDiv:
		return Div(a, b)
	case OpRem:
		return Rem(a, b)
	case OpMin:
		return min(a, b)
	case OpMax:
		return max(a, b)
	case OpAnd:
		return a & b
	case OpOr:
		return a | b
	case OpXor:
		return a ^ b
	case OpShl:
		return Shl(a, b)
	case OpShr:
		return Shr(a, b)
	case OpSra:
		return Sra(a, b)
	case OpAsh:
		return Ash(a, b)
	case OpSeq:
		return b2i(a == b)
	case OpSne:
		return b2i(a != b)
	case OpSlt:
		return b2i(a < b)
	case OpSle:
		return b2i(a <= b)
	case OpSgt:
		return b2i(a > b)
	case OpSge:
		return b2i(a >= b)
	case OpSel:
		if a != 0 {
			return b
		}
		return c
	case OpMulZ:
		return MulZ(a, b, n)
	case OpMulF:
		return MulF(a, b, n)
	case OpSat:
		return Sat(a, n)
	case OpWrap:
		return Wrap(a, n)
	case OpSext:
		return Sext(a, n)
	case OpRand:
		return Rand(a, b)
	}
	return 0
}

// Fmix32 is the finaliser of MurmurHash3 (Appleby): a bijection of 32-bit words that mixes
// every input bit into every output bit.
func Fmix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// Rand is the rand instruction: fmix32(fmix32(a) XOR b), a pseudo-random word that depends
// only on a (a seed, one per neuron) and b (a counter, such as the timestep). It is a pure
// function, so a stochastic neuron gives the same bits on every run and every device; for a
// fixed a, distinct b give distinct words (fmix32 is a bijection), and words of different
// seeds are unrelated. docs/chip.md §3.6 says how to seed it.
func Rand(a, b int32) int32 {
	return int32(Fmix32(Fmix32(uint32(a)) ^ uint32(b)))
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// Sat32 saturates x to the int32 range.
func Sat32(x int64) int32 {
	if x > math.MaxInt32 {
		return math.MaxInt32
	}
	if x < math.MinInt32 {
		return math.MinInt32
	}
	return int32(x)
}

// Div divides toward zero; division by zero gives -1 and MinInt32/-1 gives MinInt32 (as RISC-V).
func Div(a, b int32) int32 {
	if b == 0 {
		return -1
	}
	if a == math.MinInt32 && b == -1 {
		return math.MinInt32
	}
	return a / b
}

// Rem is the remainder of Div: rem by zero gives a, MinInt32 rem -1 gives 0 (as RISC-V).
func Rem(a, b int32) int32 {
	if b == 0 {
		return a
	}
	if b == -1 {
		return 0
	}
	return a % b
}

func clampShift(b int32) uint {
	if b < 0 {
		return 0
	}
	if b > 32 {
		return 32
	}
	return uint(b)
}

// Shl shifts left by clamp(b, 0, 32), wrapping; a shift of 32 gives 0.
func Shl(a, b int32) int32 {
	m := clampShift(b)
	if m >= 32 {
		return 0
	}
	return int32(uint32(a) << m)
}

// Shr shifts right logically by clamp(b, 0, 32); a shift of 32 gives 0.
func Shr(a, b int32) int32 {
	m := clampShift(b)
	if m >= 32 {
		return 0
	}
	return int32(uint32(a) >> m)
}

// Sra shifts right arithmetically (rounding toward −∞) by clamp(b, 0, 32); a shift of 32
// gives 0 or -1.
func Sra(a, b int32) int32 {
	m := clampShift(b)
	if m >= 32 {
		m = 31
	}
	return a >> m
}

// Ash shifts left by b when b ≥ 0, else right arithmetically by −b.
func Ash(a, b int32) int32 {
	if b >= 0 {
		return Shl(a, b)
	}
	if b < -32 {
		return Sra(a, 32)
	}
	return Sra(a, -b)
}

// MulZ is the 64-bit product shifted right by n with the quotient truncated toward zero,
// then truncated to 32 bits. Lava's decays compute exactly this: sign(p) * (|p| >> n).
func MulZ(a, b, n int32) int32 {
	p := int64(a) * int64(b)
	if p < 0 {
		return int32(-(-p >> uint(n)))
	}
	return int32(p >> uint(n))
}

// MulF is the 64-bit product shifted right arithmetically by n (rounding toward −∞),
// truncated to 32 bits.
func MulF(a, b, n int32) int32 {
	return int32((int64(a) * int64(b)) >> uint(n))
}

// Sat clamps a symmetrically to ±(2^(n−1) − 1).
func Sat(a, n int32) int32 {
	lim := int64(1)<<(n-1) - 1
	return int32(max(-lim, min(lim, int64(a))))
}

// Wrap applies Loihi's single wrap of an n-bit state: subtract 2^n above 2^(n−1), add 2^n at
// or below −2^(n−1). +2^(n−1) is kept and −2^(n−1) becomes +2^(n−1).
func Wrap(a, n int32) int32 {
	h := int64(1) << (n - 1)
	x := int64(a)
	switch {
	case x > h:
		x -= 2 * h
	case x <= -h:
		x += 2 * h
	}
	return int32(x)
}

// Sext keeps the low n bits of a and sign-extends them.
func Sext(a, n int32) int32 {
	s := uint(32 - n)
	return int32(uint32(a)<<s) >> s
}
