package emu

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/internal/kernels"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/internal/progtest"
)

// refStep runs a program for one neuron the plain way: one instruction after another, with
// the reference ALU. It returns whether the neuron spiked and its payload.
func refStep(p *isa.Program, state, params, consts []int32, a, t int32) (bool, int32) {
	var r [isa.NumTemp]int32
	var k [isa.NumUTemp]int32
	val := func(x isa.Reg, in isa.Instr) int32 {
		switch cl, i := x.Class(); cl {
		case isa.ClassState:
			return state[i]
		case isa.ClassTemp:
			return r[i]
		case isa.ClassParam:
			return params[i]
		case isa.ClassConst:
			return consts[i]
		case isa.ClassUTemp:
			return k[i]
		case isa.ClassInput:
			return a
		case isa.ClassTime:
			return t
		case isa.ClassImm:
			return in.Imm
		}
		panic("bad register")
	}
	spiked, payload := false, int32(0)
	for pc := 0; pc < len(p.Code); {
		in := p.Code[pc]
		x, y, z := val(in.Ra, in), val(in.Rb, in), val(in.Rc, in)
		switch {
		case in.Op.IsBranch():
			take := in.Op == isa.OpJmp || (in.Op == isa.OpBeq && x == y) || (in.Op == isa.OpBne && x != y) ||
				(in.Op == isa.OpBlt && x < y) || (in.Op == isa.OpBge && x >= y)
			if take {
				pc = in.Target(pc)
				continue
			}
		case in.Op == isa.OpSpk:
			if x != 0 {
				spiked, payload = true, 1
			}
		case in.Op == isa.OpSpkG:
			if x != 0 {
				spiked, payload = true, y
			}
		default:
			v := isa.ALU(in.Op, x, y, z, in.Imm)
			switch cl, i := in.Rd.Class(); cl {
			case isa.ClassState:
				state[i] = v
			case isa.ClassTemp:
				r[i] = v
			case isa.ClassUTemp:
				k[i] = v
			}
		}
		pc++
	}
	return spiked, payload
}

// TestCoreMatchesReference runs random programs on random neurons through the core's tiled,
// instruction-by-instruction executor — the portable one and the vector kernels — and through
// the per-neuron reference, and demands the same bits in every state register and spike, step
// after step.
func TestCoreMatchesReference(t *testing.T) {
	for _, simd := range []bool{false, true} {
		if simd && !kernels.Available {
			t.Log("no vector kernels on this machine: only the portable executor is checked")
			continue
		}
		testCoreMatchesReference(t, simd)
	}
}

func testCoreMatchesReference(t *testing.T, simd bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		p := progtest.Random(rng)
		if iter%2 == 1 {
			// Without t the pass is kept from step to step, and instructions that read only
			// parameters and constants are hoisted out of it.
			p = progtest.RandomTimeless(rng)
		}
		n := 1 + rng.IntN(1024)
		if iter%10 == 0 {
			n = TileSize // exact tiles
		}
		cfg := CoreConfig{Program: p, Neurons: n, Consts: make([]int32, len(p.Consts))}
		for i := range cfg.Consts {
			cfg.Consts[i] = progtest.Value(rng)
		}
		randRows := func(k int) [][]int32 {
			m := make([][]int32, k)
			for i := range m {
				m[i] = make([]int32, n)
				for j := range m[i] {
					m[i][j] = progtest.Value(rng)
				}
			}
			return m
		}
		cfg.Params, cfg.State = randRows(len(p.Params)), randRows(len(p.State))
		c, err := newCore(0, cfg, 1024, simd)
		require.NoError(t, err)
		// Reference copies, neuron-major.
		refState := make([][]int32, n)
		for j := range refState {
			refState[j] = make([]int32, len(p.State))
			for i := range p.State {
				refState[j][i] = cfg.State[i][j]
			}
		}
		for step := int32(1); step <= 3; step++ {
			for j := range c.a {
				c.a[j] = progtest.Value(rng)
			}
			c.compute(step)
			for j := 0; j < n; j++ {
				params := make([]int32, len(p.Params))
				for i := range params {
					params[i] = cfg.Params[i][j]
				}
				sp, pay := refStep(p, refState[j], params, cfg.Consts, c.a[j], step)
				for i := range p.State {
					if refState[j][i] != c.state[i][j] {
						t.Fatalf("simd=%v iter %d step %d neuron %d: %s = %d, reference %d\nprogram: %+v", simd, iter, step, j, p.State[i], c.state[i][j], refState[j][i], p.Code)
					}
				}
				require.Equal(t, sp, c.mask[j/64]>>(j%64)&1 != 0, "iter %d step %d neuron %d spike", iter, step, j)
				require.Equal(t, pay, c.payload[j], "iter %d step %d neuron %d payload", iter, step, j)
			}
		}
	}
}

// TestAllocStaggersArrays checks that a core's kernel operands start on cache lines, at
// different offsets within their pages, and hold what was asked.
func TestAllocStaggersArrays(t *testing.T) {
	c := &core{idx: 3}
	seen := map[uintptr]bool{}
	for i := 0; i < 64; i++ {
		n := 1 + i*97
		a := c.alloc(n)
		require.Len(t, a, n)
		require.Equal(t, n, cap(a), "appending must not run into a neighbour")
		addr := uintptr(unsafe.Pointer(&a[0]))
		require.Zero(t, addr%64, "array %d does not start on a cache line", i)
		require.False(t, seen[addr%4096], "arrays %d and an earlier one start at page offset %d", i, addr%4096)
		seen[addr%4096] = true
	}
}
