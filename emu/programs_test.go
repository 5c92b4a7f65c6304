package emu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/programs"
)

// neuron describes one neuron for a hand-checked program test.
type neuron struct {
	params []int32
	state  []int32
	a      []int32 // dendritic input per step
}

type trace struct {
	state   [][]int32 // [step][reg]
	payload []int32   // [step]
}

// runNeurons runs a standard program on a core of the given neurons for len(a) steps and
// returns, per neuron, its state and spike payload after each step.
func runNeurons(t *testing.T, name string, consts []int32, ns []neuron) []trace {
	t.Helper()
	p := programs.MustGet(name)
	cfg := CoreConfig{Program: p, Neurons: len(ns), Consts: consts}
	for i := range p.Params {
		row := make([]int32, len(ns))
		for j, n := range ns {
			row[j] = n.params[i]
		}
		cfg.Params = append(cfg.Params, row)
	}
	for i := range p.State {
		row := make([]int32, len(ns))
		for j, n := range ns {
			if n.state != nil {
				row[j] = n.state[i]
			}
		}
		cfg.State = append(cfg.State, row)
	}
	c, err := newCore(0, cfg, 1024, true)
	require.NoError(t, err)
	out := make([]trace, len(ns))
	for step := range ns[0].a {
		for j, n := range ns {
			c.a[j] = n.a[step]
		}
		c.compute(int32(step + 1))
		for j := range ns {
			st := make([]int32, len(p.State))
			for i := range st {
				st[i] = c.state[i][j]
			}
			out[j].state = append(out[j].state, st)
			out[j].payload = append(out[j].payload, c.payload[j])
		}
	}
	return out
}

func col(tr trace, reg int) []int32 {
	out := make([]int32, len(tr.state))
	for i, s := range tr.state {
		out[i] = s[reg]
	}
	return out
}

func TestLIF(t *testing.T) {
	const u, v = 0, 1
	// consts: du, dv, vth
	tests := []struct {
		name    string
		consts  []int32
		n       neuron
		wantU   []int32
		wantV   []int32
		payload []int32
	}{
		{"decay and bias", []int32{1, 0, 100}, neuron{[]int32{3, 2}, []int32{4096, 0}, []int32{0}},
			[]int32{4094}, []int32{4094 + 12}, []int32{0}},
		{"decay truncates toward zero", []int32{0, 0, 1 << 16}, neuron{[]int32{0, 0}, []int32{-4097, 0}, []int32{0}},
			[]int32{-4095}, []int32{-4095}, []int32{0}},
		{"input is scaled by 64", []int32{4095, 4095, 1 << 16}, neuron{[]int32{0, 0}, nil, []int32{3}},
			[]int32{192}, []int32{192}, []int32{0}},
		{"u wraps above 2^23", []int32{4095, 4095, 1<<17 - 1}, neuron{[]int32{0, 0}, nil, []int32{131073}},
			[]int32{8388672 - 1<<24}, []int32{8388672 - 1<<24}, []int32{0}},
		{"u keeps +2^23, v saturates", []int32{4095, 4095, 1<<17 - 1}, neuron{[]int32{0, 0}, nil, []int32{131072}},
			[]int32{1 << 23}, []int32{0}, []int32{1}}, // v = 2^23−1 > vth<<6 = 8388544: spike
		{"u at −2^23 wraps to +2^23", []int32{4095, 4095, 1<<17 - 1}, neuron{[]int32{0, 0}, nil, []int32{-131072}},
			[]int32{1 << 23}, []int32{0}, []int32{1}},
		{"v saturates at −(2^23−1)", []int32{4095, 4095, 100}, neuron{[]int32{-1000, 0}, nil, []int32{-131071}},
			[]int32{-8388544}, []int32{-(1<<23 - 1)}, []int32{0}},
		{"threshold is strict", []int32{4095, 4095, 1}, neuron{[]int32{64, 0}, nil, []int32{0, 0}},
			[]int32{0, 0}, []int32{64, 64}, []int32{0, 0}},
		// du = 0 still decays u by 1/4096: 64 → 63 → 62. v = 63 + 2 > 64 spikes; 62 + 2 does not.
		{"spike resets v, not u", []int32{0, 4095, 1}, neuron{[]int32{2, 0}, []int32{64, 0}, []int32{0, 0}},
			[]int32{63, 62}, []int32{0, 64}, []int32{1, 0}},
		{"negative bias exponent floors", []int32{4095, 4095, 100}, neuron{[]int32{-5, -1}, nil, []int32{0}},
			[]int32{0}, []int32{-3}, []int32{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := runNeurons(t, "lif", tc.consts, []neuron{tc.n})[0]
			require.Equal(t, tc.wantU, col(tr, u), "u")
			require.Equal(t, tc.wantV, col(tr, v), "v")
			require.Equal(t, tc.payload, tr.payload, "spikes")
		})
	}
}

func TestLIFReset(t *testing.T) {
	// du, dv, vth, interval, offset: zeroed at t = 1, 4, 7 (t mod 3 = 1).
	tr := runNeurons(t, "lif_reset", []int32{0, 0, 1 << 16, 3, 1},
		[]neuron{{params: []int32{10, 0}, state: []int32{4096, 500}, a: make([]int32, 7)}})[0]
	require.Equal(t, []int32{0, 0, 0, 0, 0, 0, 0}, col(tr, 0), "u is zeroed at t=1 and stays so")
	require.Equal(t, []int32{10, 20, 30, 10, 20, 30, 10}, col(tr, 1), "v")
}

func TestTernaryLIF(t *testing.T) {
	// du, dv, vth_hi, vth_lo: thresholds ±64 after the << 6.
	consts := []int32{4095, 4095, 1, -1}
	tr := runNeurons(t, "ternary_lif", consts, []neuron{
		{params: []int32{65, 0}, a: []int32{0}},
		{params: []int32{-65, 0}, a: []int32{0}},
		{params: []int32{64, 0}, a: []int32{0}},
		{params: []int32{-64, 0}, a: []int32{0}},
	})
	require.Equal(t, []int32{1}, tr[0].payload)
	require.Equal(t, []int32{-1}, tr[1].payload)
	require.Equal(t, []int32{0}, tr[2].payload, "thresholds are strict")
	require.Equal(t, []int32{0}, tr[3].payload)
	require.Equal(t, int32(0), tr[0].state[0][1], "a spike resets v")
	require.Equal(t, int32(-64), tr[3].state[0][1])
}

func TestSigmaDelta(t *testing.T) {
	const sigma, act, residue, errr = 0, 1, 2, 3
	// consts: vth, state_exp, relu, cum_error
	t.Run("plain", func(t *testing.T) {
		tr := runNeurons(t, "sigma_delta", []int32{10, 0, 0, 0}, []neuron{{params: []int32{0}, a: []int32{5, 7, -20}}})[0]
		require.Equal(t, []int32{5, 12, -8}, col(tr, sigma))
		require.Equal(t, []int32{5, 12, -8}, col(tr, act))
		require.Equal(t, []int32{5, 0, 0}, col(tr, residue))
		require.Equal(t, []int32{0, 12, -20}, tr.payload)
	})
	t.Run("state_exp rounds toward -inf and relu", func(t *testing.T) {
		tr := runNeurons(t, "sigma_delta", []int32{10, 3, 0, 0}, []neuron{{params: []int32{0}, a: []int32{5, 7, -20}}})[0]
		require.Equal(t, []int32{0, 1, -3}, tr.payload) // 12>>3 = 1, -20>>3 = -3
		tr = runNeurons(t, "sigma_delta", []int32{10, 3, 1, 0}, []neuron{{params: []int32{0}, a: []int32{5, 7, -20}}})[0]
		require.Equal(t, []int32{5, 12, 0}, col(tr, act), "relu clamps act at 0")
		require.Equal(t, []int32{0, 1, -2}, tr.payload) // delta = 0-12 = -12; -12>>3 = -2
	})
	t.Run("cumulative error", func(t *testing.T) {
		tr := runNeurons(t, "sigma_delta", []int32{10, 0, 0, 1}, []neuron{{params: []int32{0}, a: []int32{5, 7, 1}}})[0]
		require.Equal(t, []int32{5, 0, 1}, col(tr, errr), "error accumulates, clears on a send")
		require.Equal(t, []int32{0, 12, 0}, tr.payload)
		require.Equal(t, []int32{5, 0, 1}, col(tr, residue))
	})
	t.Run("bias and 32-bit state", func(t *testing.T) {
		tr := runNeurons(t, "sigma_delta", []int32{0, 0, 0, 0}, []neuron{{params: []int32{1 << 24}, a: []int32{1 << 23, 0}}})[0]
		require.Equal(t, []int32{1<<24 + 1<<23, 1<<24 + 1<<23}, col(tr, act), "no 24-bit wrap of act")
		require.Equal(t, []int32{1<<24 + 1<<23, 0}, tr.payload, "the payload is the whole int32, as Lava's; vth=0 sends any non-zero delta")
	})
	t.Run("payloads at the int32 extremes", func(t *testing.T) {
		// Lava's s_out is int32 with nothing saturated: a delta of 2^31−1 (or −2^31, reached by
		// a wrapping sum) is sent whole, and state_exp shifts it arithmetically.
		tr := runNeurons(t, "sigma_delta", []int32{0, 0, 0, 0}, []neuron{{params: []int32{0}, a: []int32{math.MaxInt32, 1, -1}}})[0]
		require.Equal(t, []int32{math.MaxInt32, math.MinInt32, math.MaxInt32}, col(tr, act), "sigma wraps mod 2^32")
		require.Equal(t, []int32{math.MaxInt32, 1, -1}, tr.payload, "delta = act' − act wraps mod 2^32 too")
		// |−2^31| wraps to −2^31 (as numpy's abs on int32 does), which is below vth = 0: kept as
		// residue; the next delta, 0x78000000, goes out shifted right by state_exp = 4.
		tr = runNeurons(t, "sigma_delta", []int32{0, 4, 0, 0}, []neuron{{params: []int32{0}, a: []int32{math.MinInt32, -1 << 27}}})[0]
		require.Equal(t, []int32{math.MinInt32, 0}, col(tr, residue))
		require.Equal(t, []int32{0, 0x78000000 >> 4}, tr.payload, "a payload beyond 2^23 (125829120)")
	})
}

func TestALIF(t *testing.T) {
	// du, dv, vth, dth, th_inc
	tr := runNeurons(t, "alif", []int32{4095, 4095, 1, 2048, 1}, []neuron{{params: []int32{100, 0}, a: make([]int32, 4)}})[0]
	require.Equal(t, []int32{1, 1, 0, 1}, tr.payload)
	require.Equal(t, []int32{64, 96, 48, 88}, col(tr, 2), "theta")
	tr = runNeurons(t, "alif", []int32{4095, 4095, 1, 0, 1}, []neuron{{params: []int32{100, 0}, a: make([]int32, 3)}})[0]
	require.Equal(t, []int32{1, 0, 0}, tr.payload, "no decay: the raised threshold holds")
}

func TestRF(t *testing.T) {
	// cos_d, sin_d, vth: a quarter turn per step.
	tr := runNeurons(t, "rf", []int32{0, 4096, 1}, []neuron{{state: []int32{100, 0}, a: make([]int32, 4)}})[0]
	require.Equal(t, []int32{0, -100, 0, 100}, col(tr, 0), "re")
	require.Equal(t, []int32{100, 0, -100, 0}, col(tr, 1), "im")
	require.Equal(t, []int32{0, 0, 0, 1}, tr.payload, "spike on the upward zero crossing of the phase")
	tr = runNeurons(t, "rf", []int32{4096, 0, 1}, []neuron{{state: []int32{1<<23 - 1, 0}, a: []int32{1}}})[0]
	require.Equal(t, int32(1<<23-1), tr.state[0][0], "re saturates")
}

func TestStandardProgramsAssemble(t *testing.T) {
	names := programs.Names()
	require.ElementsMatch(t, []string{"alif", "lif", "lif_reset", "rf", "sigma_delta", "ternary_lif"}, names)
	for _, n := range names {
		p, err := programs.Get(n)
		require.NoError(t, err, n)
		require.Equal(t, n, p.Name)
		require.NoError(t, p.Validate())
	}
}
