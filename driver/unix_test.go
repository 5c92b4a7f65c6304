package driver

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/firmware/syn"
)

// lifImage is two cores of n LIF neurons: an input port of m feeds the first with random
// weights, the first feeds the second; both are output ports.
func lifImage(t testing.TB, m, n int, seed uint64) *image.Image {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	prog, err := programs.Get("lif")
	require.NoError(t, err)
	weights := func(k int) []int32 {
		w := make([]int32, k)
		for i := range w {
			w[i] = syn.Effective(int32(rng.IntN(512)-256), syn.Mixed, 8)
		}
		return w
	}
	bias := make([]int32, n)
	for i := range bias {
		bias[i] = int32(rng.IntN(200))
	}
	core := func(i int) image.Core {
		return image.Core{Index: i, Program: prog, Neurons: n, Consts: []int32{400, 300, 60}, Params: [][]int32{bias, make([]int32, n)}}
	}
	return &image.Image{
		Name:   "lif",
		Size:   chip.Size{Cores: 2, NeuronsPerCore: n},
		Cores:  []image.Core{core(0), core(1)},
		Inputs: []image.Input{{Name: "in", Size: m}},
		Conns: []image.Conn{
			{Name: "in", Kind: image.FromInput, Src: 0, SrcCount: m, Dst: 0, DstCount: n, Weights: weights(m * n), SignMode: syn.Mixed, WeightBits: 8, WeightExp: 2},
			{Name: "rec", Kind: image.FromCore, Src: 0, SrcCount: n, Dst: 1, DstCount: n, Weights: weights(n * n), SignMode: syn.Mixed, WeightBits: 8, WeightExp: 1},
		},
		Pops: []image.Population{
			{Name: "a", Size: n, Segments: []image.Segment{{Core: 0, Start: 0, Count: n}}},
			{Name: "b", Size: n, Segments: []image.Segment{{Core: 1, Start: 0, Count: n}}},
		},
		Outputs: []image.Output{{Name: "a", Pop: 0, Count: n}, {Name: "b", Pop: 1, Count: n}},
	}
}

// randomInput is spikes on an input port of m neurons over steps, each neuron firing with
// probability p per step.
func randomInput(m, steps int, p float64, seed uint64) []chip.Spike {
	rng := rand.New(rand.NewPCG(seed, 2))
	var out []chip.Spike
	for ts := 1; ts <= steps; ts++ {
		for i := 0; i < m; i++ {
			if rng.Float64() < p {
				out = append(out, chip.Spike{Port: 0, Neuron: i, Payload: 1, Step: uint64(ts)})
			}
		}
	}
	return out
}

// runWorkload loads the LIF network, probes v of core 1, injects the input and runs: half
// the steps in one Run, the rest one step at a time with the spikes injected just before.
func runWorkload(t *testing.T, uri string) chip.Output {
	ctx := ctxT(t)
	d, err := Open(ctx, uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	const m, n, steps = 24, 96, 120
	res, err := loadImage(d, ctx, lifImage(t, m, n, 7))
	require.NoError(t, err)
	require.Equal(t, LoadResult{Inputs: 1, Outputs: 2, Cores: 2, Bytes: res.Bytes}, res)
	probe, err := addProbe(d, ctx, 1, regmap.ProbeState, 1, []int{0, 5, 50, 95})
	require.NoError(t, err)
	require.Equal(t, 0, probe)
	in := randomInput(m, steps, 0.3, 9)
	var early, late []chip.Spike
	for _, s := range in {
		if s.Step <= steps/2 {
			early = append(early, s)
		} else {
			s.Step = 0 // "the next step"
			late = append(late, s)
		}
	}
	require.NoError(t, d.Inject(ctx, early))
	ts, err := runSteps(d, ctx, steps/2)
	require.NoError(t, err)
	require.Equal(t, uint64(steps/2), ts)
	for step := steps/2 + 1; step <= steps; step++ {
		var now []chip.Spike
		for _, s := range in {
			if s.Step == uint64(step) {
				s.Step = 0
				now = append(now, s)
			}
		}
		require.NoError(t, d.Inject(ctx, now))
		_, err := runSteps(d, ctx, 1)
		require.NoError(t, err)
	}
	_ = late
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.Len(t, out.Samples, steps)
	require.Zero(t, out.Dropped)
	return out
}

// TestSameSpikesInProcessAndOverUnix runs one workload on emu: and on an emulator process
// through emu:unix: and wants the same bits.
func TestSameSpikesInProcessAndOverUnix(t *testing.T) {
	s := startServer(t)
	local := runWorkload(t, "emu:")
	remote := runWorkload(t, s.uri)
	require.NotEmpty(t, local.Spikes)
	var ports [2]int
	for _, sp := range local.Spikes {
		ports[sp.Port]++
	}
	assert.NotZero(t, ports[0], "no spikes on port a")
	assert.NotZero(t, ports[1], "no spikes on port b")
	require.Equal(t, local, remote)
	t.Logf("%d spikes (%d on a, %d on b), %d probe samples, identical", len(local.Spikes), ports[0], ports[1], len(local.Samples))
}
