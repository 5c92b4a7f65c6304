package emu

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/syn"
)

// relay spikes whenever its input is positive, with the input as graded payload, and keeps
// the last input in s0.
var relay = mustAsm(`
.program relay
.state last
.temp fire
	mov  last, a
	sgt  fire, a, 0
	spkg fire, a
`)

func mustAsm(src string) *isa.Program {
	p, err := asm.Assemble("test.lra", []byte(src))
	if err != nil {
		panic(err)
	}
	return p
}

func TestRoutingHasOneStepDelay(t *testing.T) {
	c, err := New(Opts{})
	require.NoError(t, err)
	require.NoError(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: 2}))
	require.NoError(t, c.SetCore(3, CoreConfig{Program: relay, Neurons: 1}))
	in, err := c.AddInput(2)
	require.NoError(t, err)
	// input → core 0 (graded, weights 2: a MIXED weight loses its lowest bit, so 1 would be 0),
	// core 0 → core 3 (graded, weights 1 and 2, exp 1).
	require.NoError(t, c.Connect(Connection{Kind: FromInput, Src: in, SrcCount: 2, Dst: 0, DstCount: 2,
		Weights: []int32{2, 0, 0, 3}, SignMode: syn.Mixed, WeightBits: 8, Graded: true}))
	require.NoError(t, c.Connect(Connection{Kind: FromCore, Src: 0, SrcCount: 2, Dst: 3, DstCount: 1,
		Weights: []int32{1, 2}, SignMode: syn.Excitatory, WeightBits: 8, WeightExp: 1, Graded: true}))
	out, err := c.AddOutput(3, 0, 1)
	require.NoError(t, err)
	pr, err := c.AddProbe(0, chip.Field{Kind: chip.FieldInput}, []int{0, 1})
	require.NoError(t, err)

	require.NoError(t, c.Inject(in, 0, 5))
	require.NoError(t, c.Inject(in, 1, 7))
	var got [][]chip.Spike
	for range 4 {
		c.Step()
		s, err := c.Output(out, nil)
		require.NoError(t, err)
		got = append(got, s)
	}
	// Step 1: the injected spikes are routed. Step 2: core 0 sees 5·2 and 7·2 (3 truncates to
	// 2). Step 3: core 3 sees (10·1 + 14·2) << 1 = 76 and spikes with it.
	require.Equal(t, [][]chip.Spike{nil, nil, {{Step: 3, Port: out, Neuron: 0, Payload: 76}}, nil}, got)
	rows, err := c.ProbeData(pr)
	require.NoError(t, err)
	require.Equal(t, [][]int32{{0, 0}, {10, 14}, {0, 0}, {0, 0}}, rows)
	require.Equal(t, int32(4), c.Time())
	st := c.Stats()
	require.Equal(t, uint64(4), st.Steps)
	require.Equal(t, uint64(4*3), st.NeuronUpdates)
	require.Equal(t, uint64(3), st.Spikes)
	require.Equal(t, uint64(2*2+2), st.SynapticEvents)
}

func TestSparseEqualsDense(t *testing.T) {
	t.Run("per-synapse weights", func(t *testing.T) { testSparseEqualsDense(t, false) })
	t.Run("one shared weight", func(t *testing.T) { testSparseEqualsDense(t, true) })
}

func testSparseEqualsDense(t *testing.T, shared bool) {
	rng := rand.New(rand.NewPCG(7, 7))
	const ns, nd = 40, 30
	dense := make([]int32, ns*nd)
	var idx, tg, ws []int32
	idx = append(idx, 0)
	for i := 0; i < ns; i++ {
		for j := 0; j < nd; j++ {
			if rng.IntN(4) == 0 {
				w := int32(rng.IntN(512)) - 256
				if shared {
					w = -100
				}
				dense[i*nd+j] = w
				tg, ws = append(tg, int32(j)), append(ws, w)
			}
		}
		idx = append(idx, int32(len(tg)))
	}
	run := func(cn Connection) [][]int32 {
		c, err := New(Opts{})
		require.NoError(t, err)
		require.NoError(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: nd}))
		in, err := c.AddInput(ns)
		require.NoError(t, err)
		cn.Src, cn.SrcCount, cn.DstCount, cn.SignMode, cn.WeightBits, cn.WeightExp, cn.Graded = in, ns, nd, syn.Mixed, 6, -2, true
		require.NoError(t, c.Connect(cn))
		pr, err := c.AddProbe(0, chip.Field{Kind: chip.FieldInput}, []int{0, 5, 17, 29})
		require.NoError(t, err)
		r := rand.New(rand.NewPCG(1, 1))
		for range 20 {
			for _, i := range r.Perm(ns) { // injection order must not matter
				if r.IntN(3) == 0 {
					require.NoError(t, c.Inject(in, i, int32(r.IntN(2000))-1000))
				}
			}
			c.Step()
		}
		d, err := c.ProbeData(pr)
		require.NoError(t, err)
		return d
	}
	want := run(Connection{Kind: FromInput, Weights: dense})
	got := run(Connection{Kind: FromInput, Weights: ws, Index: idx, Targets: tg})
	require.Equal(t, want, got)
}

func TestConfigErrors(t *testing.T) {
	c, err := New(Opts{})
	require.NoError(t, err)
	_, err = New(Opts{Size: chip.Size{Cores: 129, NeuronsPerCore: 1}})
	require.ErrorIs(t, err, ErrLimit)
	require.ErrorIs(t, c.SetCore(8, CoreConfig{Program: relay, Neurons: 1}), ErrLimit)
	require.ErrorIs(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: 1025}), ErrLimit)
	require.ErrorContains(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: 2, State: [][]int32{{1}}}), `state "last" has 1 values for 2 neurons`)
	require.NoError(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: 2}))
	in, err := c.AddInput(3)
	require.NoError(t, err)
	base := Connection{Kind: FromInput, Src: in, SrcCount: 3, Dst: 0, DstCount: 2, Weights: make([]int32, 6), SignMode: syn.Mixed, WeightBits: 8}
	for _, tc := range []struct {
		name string
		edit func(*Connection)
		want string
	}{
		{"no core", func(c *Connection) { c.Dst = 5 }, "no such configured core"},
		{"dst range", func(c *Connection) { c.DstCount = 3 }, "neurons [0, 3)"},
		{"src range", func(c *Connection) { c.SrcStart = 1 }, "source neurons [1, 4)"},
		{"weights", func(c *Connection) { c.Weights = c.Weights[:5] }, "5 weights for 3×2"},
		{"sign mode", func(c *Connection) { c.SignMode = 9 }, "sign mode 9"},
		{"weight bits", func(c *Connection) { c.WeightBits = 0 }, "num_weight_bits 0"},
		{"exp", func(c *Connection) { c.WeightExp = 40 }, "weight_exp 40"},
		{"sparse index", func(c *Connection) { c.Index = []int32{0, 1}; c.Targets = []int32{0}; c.Weights = []int32{1} }, "sparse index has 2 offsets"},
		{"sparse target", func(c *Connection) {
			c.Index, c.Targets, c.Weights = []int32{0, 1, 1, 1}, []int32{2}, []int32{1}
		}, "targets neuron 2"},
	} {
		cn := base
		tc.edit(&cn)
		require.ErrorContains(t, c.Connect(cn), tc.want, tc.name)
	}
	// Non-negative exponents need no accumulator bank; negative ones are limited.
	for i := 0; i < chip.MaxBanksPerCore+4; i++ {
		cn := base
		cn.WeightExp = 1
		require.NoError(t, c.Connect(cn))
	}
	for i := 0; i < chip.MaxBanksPerCore; i++ {
		cn := base
		cn.WeightExp = -1
		require.NoError(t, c.Connect(cn))
	}
	neg := base
	neg.WeightExp = -2
	require.ErrorIs(t, c.Connect(neg), ErrLimit)
	require.ErrorIs(t, c.Inject(in, 3, 1), ErrLimit)
	require.ErrorIs(t, c.Inject(1, 0, 1), ErrConfig)
	_, err = c.AddProbe(0, chip.Field{Kind: chip.FieldState, Index: 1}, []int{0})
	require.ErrorIs(t, err, ErrConfig)
	_, err = c.AddOutput(0, 1, 2)
	require.ErrorIs(t, err, ErrConfig)
}

// TestInjectionOrderDoesNotMatter injects the same spikes in ascending and in shuffled order,
// through two connections that each take part of the port, and demands the same input.
func TestInjectionOrderDoesNotMatter(t *testing.T) {
	run := func(shuffle bool) [][]int32 {
		c, err := New(Opts{})
		require.NoError(t, err)
		require.NoError(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: 4}))
		in, err := c.AddInput(64)
		require.NoError(t, err)
		for _, half := range []int{0, 32} {
			w := make([]int32, 32*4)
			for i := range w {
				w[i] = int32(2 * (i%7 + 1))
			}
			require.NoError(t, c.Connect(Connection{Kind: FromInput, Src: in, SrcStart: half, SrcCount: 32, Dst: 0, DstCount: 4,
				Weights: w, SignMode: syn.Mixed, WeightBits: 8}))
		}
		pr, err := c.AddProbe(0, chip.Field{Kind: chip.FieldInput}, []int{0, 1, 2, 3})
		require.NoError(t, err)
		r, sh := rand.New(rand.NewPCG(5, 5)), rand.New(rand.NewPCG(6, 6))
		for range 10 {
			var spikes []int
			for i := 0; i < 64; i++ {
				if r.IntN(2) == 0 {
					spikes = append(spikes, i)
				}
			}
			if shuffle {
				sh.Shuffle(len(spikes), func(i, j int) { spikes[i], spikes[j] = spikes[j], spikes[i] })
			}
			for _, i := range spikes {
				require.NoError(t, c.Inject(in, i, 1))
			}
			c.Step()
		}
		d, err := c.ProbeData(pr)
		require.NoError(t, err)
		return d
	}
	require.Equal(t, run(false), run(true))
}

func TestSpan(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 500 {
		n := rng.IntN(80)
		var fired []int32
		for i := int32(0); len(fired) < n; i += 1 + int32(rng.IntN(5)) {
			fired = append(fired, i)
		}
		lo := int32(rng.IntN(200))
		hi := lo + int32(rng.IntN(100))
		i0, i1 := span(fired, lo, hi)
		var want []int32
		for _, f := range fired {
			if f >= lo && f < hi {
				want = append(want, f)
			}
		}
		require.Equal(t, len(want), i1-i0)
		if len(want) > 0 {
			require.Equal(t, want, fired[i0:i1])
		}
	}
}

// TestRelayoutKeepsSynapses adds a sparse connection after the chip has stepped (so the
// synapse memory is laid out again) and checks it behaves as if both were there from the start.
func TestRelayoutKeepsSynapses(t *testing.T) {
	mk := func(first bool) *Chip {
		c, err := New(Opts{})
		require.NoError(t, err)
		require.NoError(t, c.SetCore(0, CoreConfig{Program: relay, Neurons: 8}))
		_, err = c.AddInput(4)
		require.NoError(t, err)
		return c
	}
	a := Connection{Kind: FromInput, SrcCount: 4, DstCount: 8, Index: []int32{0, 2, 3, 3, 5},
		Targets: []int32{1, 7, 0, 3, 4}, Weights: []int32{10, -20, 30, 40, -50}, SignMode: syn.Mixed, WeightBits: 8}
	b := Connection{Kind: FromInput, SrcStart: 2, SrcCount: 2, DstCount: 8, Index: []int32{0, 1, 3},
		Targets: []int32{5, 5, 6}, Weights: []int32{8, 8, 8}, SignMode: syn.Mixed, WeightBits: 8, WeightExp: 1}
	late, early := mk(true), mk(false)
	require.NoError(t, late.Connect(a))
	late.Step()
	require.NoError(t, late.Connect(b))
	require.NoError(t, early.Connect(a))
	require.NoError(t, early.Connect(b))
	early.Step()
	var got, want [][]int32
	for step := 0; step < 6; step++ {
		for _, c := range []*Chip{late, early} {
			for i := 0; i < 4; i++ {
				if (i+step)%2 == 0 {
					require.NoError(t, c.Inject(0, i, 1))
				}
			}
			c.Step()
		}
		row := func(c *Chip) []int32 {
			var r []int32
			for n := 0; n < 8; n++ {
				v, err := c.Read(0, chip.Field{Kind: chip.FieldInput}, n)
				require.NoError(t, err)
				r = append(r, v)
			}
			return r
		}
		got, want = append(got, row(late)), append(want, row(early))
	}
	require.Equal(t, want, got)
	require.NotEqual(t, make([]int32, 8), got[3], "the test should see some input")
}

// TestSparseLayoutsEqualDense feeds two cores from one input port through many sparse
// connections — overlapping and disjoint source ranges (which share a column of the row
// table), shared and per-synapse weights, binary and graded, several weight exponents — and
// demands the same dendritic input as the same connections written as dense matrices, with
// the chip stepped by one worker and by two.
func TestSparseLayoutsEqualDense(t *testing.T) {
	const ns, nd = 64, 100 // rows of about 33 synapses: some longer than a gather chunk, some shorter
	type spec struct {
		dst, start, count int
		shared, graded    bool
		exp               int
	}
	specs := []spec{
		{0, 0, 32, true, false, 0}, {0, 32, 32, true, false, 0}, // disjoint: one column
		{0, 10, 30, false, false, 1}, {0, 0, 64, false, true, 0}, // overlapping
		{1, 0, 20, false, false, 0}, {1, 20, 44, true, true, 2}, {1, 5, 10, true, false, 0},
		{0, 0, 64, true, false, -1}, {1, 0, 64, false, true, -3}, // summed apart, then shifted
	}
	rng := rand.New(rand.NewPCG(3, 9))
	type pair struct{ sparse, dense Connection }
	var conns []pair
	for _, s := range specs {
		dense := make([]int32, s.count*nd)
		idx := []int32{0}
		var tg, ws []int32
		w0 := int32(rng.IntN(200)) - 100
		for i := 0; i < s.count; i++ {
			for j := 0; j < nd; j++ {
				if rng.IntN(3) != 0 {
					continue
				}
				w := w0
				if !s.shared {
					w = int32(rng.IntN(256)) - 128
				}
				dense[i*nd+j] = w
				tg, ws = append(tg, int32(j)), append(ws, w)
			}
			idx = append(idx, int32(len(tg)))
		}
		base := Connection{Kind: FromInput, SrcStart: s.start, SrcCount: s.count, Dst: s.dst, DstCount: nd,
			SignMode: syn.Mixed, WeightBits: 8, WeightExp: s.exp, Graded: s.graded}
		sp, de := base, base
		sp.Weights, sp.Index, sp.Targets = ws, idx, tg
		de.Weights = dense
		conns = append(conns, pair{sp, de})
	}
	run := func(sparse bool, workers int, portable bool) [][]int32 {
		c, err := New(Opts{Workers: workers, Portable: portable})
		require.NoError(t, err)
		for k := 0; k < 2; k++ {
			require.NoError(t, c.SetCore(k, CoreConfig{Program: relay, Neurons: nd}))
		}
		in, err := c.AddInput(ns)
		require.NoError(t, err)
		for _, p := range conns {
			cn := p.dense
			if sparse {
				cn = p.sparse
			}
			cn.Src = in
			require.NoError(t, c.Connect(cn))
		}
		var probes []int
		for k := 0; k < 2; k++ {
			pr, err := c.AddProbe(k, chip.Field{Kind: chip.FieldInput}, []int{0, 1, 7, 19, 33, 39})
			require.NoError(t, err)
			probes = append(probes, pr)
		}
		r := rand.New(rand.NewPCG(5, 5))
		for range 30 {
			for i := 0; i < ns; i++ {
				if r.IntN(4) == 0 {
					require.NoError(t, c.Inject(in, i, int32(r.IntN(100))+1))
				}
			}
			c.Step()
		}
		var out [][]int32
		for _, pr := range probes {
			d, err := c.ProbeData(pr)
			require.NoError(t, err)
			out = append(out, d...)
		}
		return out
	}
	want := run(false, 1, true)
	require.Equal(t, want, run(true, 1, false), "one worker: synapses walked source by source")
	require.Equal(t, want, run(true, 2, false), "two workers: each core sums its own connections")
	require.Equal(t, want, run(true, 1, true), "portable: rows gathered without the kernel")
	defer func(v int) { gatherSumAbove = v }(gatherSumAbove)
	gatherSumAbove = 0
	require.Equal(t, want, run(true, 1, false), "buffer sized by the rows' lengths")
}
