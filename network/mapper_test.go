package network_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/internal/conformance"
	"github.com/lrchip/lrchip/network"
)

func lifPop(name string, size int) network.Population {
	return network.Population{Name: name, Size: size, Program: "lif", Consts: map[string]int32{"du": 0, "dv": 0, "vth": 1}}
}

func TestMapPlacement(t *testing.T) {
	n := &network.Network{
		Name:        "split",
		Inputs:      []network.Input{{Name: "in", Size: 10}},
		Populations: []network.Population{lifPop("a", 25), lifPop("b", 10)},
		Connections: []network.Connection{
			{From: "in", To: "a", Weights: network.Fill(3)},
			{From: "a", To: "b", Sparse: &network.Sparse{Pre: []int{24, 0, 1, 0}, Post: []int{9, 0, 0, 9}, Weights: network.Each(2, 4, 6, 8)}},
			{From: "b", To: "a", Weights: network.Fill(-2)},
		},
		Outputs: []network.Output{{Population: "a", Start: 5, Count: 10}},
	}
	n.Populations[0].State = map[string]network.Values{"v": network.Each(seq(25)...)}
	img, err := network.Map(n, chip.Size{Cores: 8, NeuronsPerCore: 10})
	require.NoError(t, err)
	require.Equal(t, "split", img.Name)
	require.Equal(t, chip.Size{Cores: 4, NeuronsPerCore: 10}, img.Size)
	// 25 neurons on cores of 10: three cores of 9, 8, 8.
	require.Equal(t, []image.Population{
		{Name: "a", Size: 25, Segments: []image.Segment{{Core: 0, Count: 9}, {Core: 1, Count: 8}, {Core: 2, Count: 8}}},
		{Name: "b", Size: 10, Segments: []image.Segment{{Core: 3, Count: 10}}},
	}, img.Pops)
	require.Len(t, img.Cores, 4)
	assert.Equal(t, []int32{9, 10, 11, 12, 13, 14, 15, 16}, img.Cores[1].State[1], "state split with the population")
	assert.Nil(t, img.Cores[1].State[0])
	assert.Nil(t, img.Cores[1].Params)

	var summary []string
	for _, c := range img.Conns {
		summary = append(summary, fmt.Sprintf("%s %s%d[%d+%d]→%d[%d+%d] sparse=%v syn=%d",
			c.Name, c.Kind, c.Src, c.SrcStart, c.SrcCount, c.Dst, c.DstStart, c.DstCount, c.Sparse(), c.Synapses()))
	}
	assert.Equal(t, []string{
		"in->a input0[0+10]→0[0+9] sparse=false syn=90",
		"in->a input0[0+10]→1[0+8] sparse=false syn=80",
		"in->a input0[0+10]→2[0+8] sparse=false syn=80",
		// Sparse: only the source cores with synapses: a[0..8] (core 0) and a[17..24] (core 2).
		"a->b core0[0+9]→3[0+10] sparse=true syn=3",
		"a->b core2[0+8]→3[0+10] sparse=true syn=1",
		"b->a core3[0+10]→0[0+9] sparse=false syn=90",
		"b->a core3[0+10]→1[0+8] sparse=false syn=80",
		"b->a core3[0+10]→2[0+8] sparse=false syn=80",
	}, summary)
	sp := img.Conns[3]
	// Source 0 has synapses 1 (→0, w 4) and 3 (→9, w 8), in the order given; source 1 has synapse 2.
	assert.Equal(t, []int32{0, 2, 3, 3, 3, 3, 3, 3, 3, 3}, sp.Index)
	assert.Equal(t, []int32{0, 9, 0}, sp.Targets)
	assert.Equal(t, []int32{4, 8, 6}, sp.Weights)
	assert.Equal(t, []int32{0, 0, 0, 0, 0, 0, 0, 0, 1}, img.Conns[4].Index)
	assert.Equal(t, []int32{9}, img.Conns[4].Targets)
	// Output a[5..14]: core 0 neurons 5..8 and core 1 neurons 0..5.
	assert.Equal(t, []image.Block{{Core: 0, Start: 5, Count: 4}, {Core: 1, Start: 0, Count: 6, Offset: 4}}, img.OutputBlocks(0))

	// The image is valid and round-trips.
	b, err := img.MarshalBinary()
	require.NoError(t, err)
	_, err = image.Decode(b)
	require.NoError(t, err)
}

func seq(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func TestMapEffectiveWeights(t *testing.T) {
	n := &network.Network{
		Inputs:      []network.Input{{Name: "in", Size: 2}},
		Populations: []network.Population{lifPop("p", 2)},
		Connections: []network.Connection{{From: "in", To: "p", Weights: network.Rows([][]int32{{255, -7}, {3, -256}}), WeightBits: 4}},
	}
	img, err := network.Map(n, chip.Size{})
	require.NoError(t, err)
	require.Equal(t, chip.Size{Cores: 1, NeuronsPerCore: 2}, img.Size)
	c := img.Conns[0]
	// [post][pre] in the description, [pre][post] in the image, effective (MIXED, 4 bits: low 5 bits cleared).
	assert.Equal(t, []int32{
		syn.Effective(255, syn.Mixed, 4), syn.Effective(3, syn.Mixed, 4),
		syn.Effective(-7, syn.Mixed, 4), syn.Effective(-256, syn.Mixed, 4),
	}, c.Weights)
	assert.Equal(t, []int32{224, 0, -32, -256}, c.Weights)
}

func TestMapDoesNotFit(t *testing.T) {
	n := &network.Network{Populations: []network.Population{lifPop("exc", 4000), lifPop("inh", 1000), lifPop("out", 6000)}}
	_, err := network.Map(n, chip.Prototype)
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.EqualError(t, err, "network: needs 11 cores, chip has 8: 3 too many (cores per population of at most 1024 neurons: exc: 4, inh: 1, out: 6)")

	_, err = network.Map(n, chip.Full)
	require.NoError(t, err)

	big := &network.Network{Inputs: []network.Input{{Name: "in", Size: 2000}}, Populations: []network.Population{lifPop("p", 1)}}
	_, err = network.Map(big, chip.Prototype)
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.EqualError(t, err, `network: input "in": 2000 neurons, an input port has at most 1024 on a 8×1024 chip`)

	_, err = network.Map(big, chip.Size{Cores: 0, NeuronsPerCore: 9000})
	require.ErrorIs(t, err, network.ErrRange)
}

func TestMapFanIn(t *testing.T) {
	// A population split over 3 cores feeds another through 3 connections per destination
	// core: 6 such connections make 18, but with weight_exp ≥ 0 they add straight into the
	// dendritic input and need no accumulator bank.
	n := &network.Network{Populations: []network.Population{lifPop("src", 3000), lifPop("dst", 10)}}
	for i := range 6 {
		n.Connections = append(n.Connections, network.Connection{Name: fmt.Sprintf("c%d", i), From: "src", To: "dst", Weights: network.Fill(1)})
	}
	n.Connections = append(n.Connections, network.Connection{From: "dst", To: "dst", Weights: network.Fill(1)})
	img, err := network.Map(n, chip.Prototype)
	require.NoError(t, err)
	require.Len(t, img.Conns, 19)

	// With negative exponents each connection takes a bank; 17 into one population is
	// refused by the population's check already.
	n = &network.Network{Inputs: []network.Input{{Name: "in", Size: 4}}, Populations: []network.Population{lifPop("dst", 10)}}
	for i := range 17 {
		n.Connections = append(n.Connections, network.Connection{Name: fmt.Sprintf("c%d", i), From: "in", To: "dst", Weights: network.Fill(1), WeightExp: -1})
	}
	_, err = network.Map(n, chip.Prototype)
	require.ErrorIs(t, err, network.ErrFanIn)
	require.ErrorContains(t, err, `population "dst": 17 incoming connections with a negative weight_exp, a core has 16 accumulator banks for them`)
}

// TestMapSharingCountsBanks: two populations small enough to share a core, each with ten
// incoming connections of negative weight_exp, do not share one: a core has 16 banks.
func TestMapSharingCountsBanks(t *testing.T) {
	n := &network.Network{Inputs: []network.Input{{Name: "in", Size: 4}}}
	for i := range 10 {
		n.Populations = append(n.Populations, lifPop(fmt.Sprintf("p%d", i), 10))
		for j := range 10 {
			n.Connections = append(n.Connections, network.Connection{Name: fmt.Sprintf("c%d.%d", i, j), From: "in",
				To: fmt.Sprintf("p%d", i), Weights: network.Fill(1), WeightExp: -1})
		}
	}
	img, err := network.Map(n, chip.Size{Cores: 4, NeuronsPerCore: 1024})
	require.ErrorIs(t, err, network.ErrDoesNotFit, "ten populations need ten cores, banks or not")
	require.Nil(t, img)
	img, err = network.Map(n, chip.Size{Cores: 10, NeuronsPerCore: 1024})
	require.NoError(t, err)
	for i, p := range img.Pops {
		require.Equal(t, i, p.Segments[0].Core)
	}
	n.Populations = n.Populations[:2]
	n.Connections = n.Connections[:15] // p0: 10 banks, p1: 5
	img, err = network.Map(n, chip.Size{Cores: 1, NeuronsPerCore: 1024})
	require.NoError(t, err)
	require.Equal(t, []image.Segment{{Core: 0, Start: 10, Count: 10}}, img.Pops[1].Segments, "15 banks fit one core")
}

func TestMapNegativeExponentNeedsOneSourceCore(t *testing.T) {
	n := &network.Network{
		Populations: []network.Population{lifPop("src", 20), lifPop("dst", 5)},
		Connections: []network.Connection{{From: "src", To: "dst", Weights: network.Fill(8), WeightExp: -2}},
	}
	_, err := network.Map(n, chip.Size{Cores: 8, NeuronsPerCore: 10})
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.ErrorContains(t, err, `network: connection "src->dst": weight_exp -2 is negative and its source "src" spans 2 cores`)
	_, err = network.Map(n, chip.Size{Cores: 8, NeuronsPerCore: 20})
	require.NoError(t, err)

	// Sparse synapses from one source core only: fine.
	n.Connections[0] = network.Connection{From: "src", To: "dst", WeightExp: -2,
		Sparse: &network.Sparse{Pre: []int{0, 3}, Post: []int{0, 4}, Weights: network.All(8)}}
	_, err = network.Map(n, chip.Size{Cores: 8, NeuronsPerCore: 10})
	require.NoError(t, err)
}

// vectorNetwork describes a Lava conformance vector as a network: one input port, one
// population, one dense connection.
func vectorNetwork(v *conformance.Vector) *network.Network {
	pp := v.Params
	n, err := conformance.NeuronsOf(v)
	if err != nil {
		panic(err) // the vectors in shared/ all have a program
	}
	prog := n.Program
	pop := network.Population{Name: "p", Size: v.NOut, Program: prog.Name,
		Consts: map[string]int32{}, Params: map[string]network.Values{}, State: map[string]network.Values{}}
	for i, name := range prog.Consts {
		pop.Consts[name] = n.Consts[i]
	}
	for i, name := range prog.Params {
		pop.Params[name] = network.Each(n.Params[i]...)
	}
	for i, name := range prog.State {
		if i < len(n.State) && n.State[i] != nil {
			pop.State[name] = network.Each(n.State[i]...)
		}
	}
	mode, _ := syn.ParseSignMode(pp.SignMode)
	lo, hi := int32(-256), int32(255)
	switch mode {
	case syn.Excitatory:
		lo = 0
	case syn.Inhibitory:
		lo, hi = -255, 0
	}
	rows := make([][]int32, v.NOut)
	for n := range rows {
		rows[n] = make([]int32, v.NIn)
		for i := range rows[n] {
			// The stress files give weights beyond the sign mode's range for Lava to clip;
			// descriptions must be in range, so clip here (the effective weight is the same).
			rows[n][i] = max(lo, min(hi, v.Weights[n][i]))
		}
	}
	return &network.Network{
		Name:        "vector",
		Inputs:      []network.Input{{Name: "in", Size: v.NIn}},
		Populations: []network.Population{pop},
		Connections: []network.Connection{{From: "in", To: "p", Weights: network.Rows(rows), SignMode: pp.SignMode,
			WeightBits: pp.WeightBits, WeightExp: pp.WeightExp, Graded: v.Graded}},
		Outputs: []network.Output{{Population: "p"}},
	}
}

// TestConformanceThroughNetwork runs every Lava vector as a network description: mapped onto
// small cores (so that populations split), loaded from the image, compared at every step.
func TestConformanceThroughNetwork(t *testing.T) {
	files, err := conformance.Files([]string{"../../shared/vectors/lava", "../../shared/vectors/lava-graded"})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	size := chip.Size{Cores: 8, NeuronsPerCore: 24} // n_out ≤ 40 splits over 2 cores; n_in ≤ 20
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			v, err := conformance.ParseVector(data)
			require.NoError(t, err)
			img, err := network.Map(vectorNetwork(v), size)
			require.NoError(t, err)
			dev, err := emu.NewDevice(emu.Opts{Size: size})
			require.NoError(t, err)
			res := &conformance.Result{File: f}
			require.NoError(t, conformance.RunImage(context.Background(), dev, v, img, res))
			require.Zero(t, res.Total, "%v", res.Mismatches)
			require.Positive(t, res.Compared)
		})
	}
}

// TestMapSharesCoresWhenNeeded maps ten small LIF populations, and two with other constants,
// onto a chip with too few cores for one population each: populations of one program and
// constants then share cores, and the network computes what it computes spread out.
func TestMapSharesCoresWhenNeeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	n := &network.Network{Name: "many", Inputs: []network.Input{{Name: "in", Size: 30}}}
	lif := func(name string, size int, vth int32) network.Population {
		p := network.Population{Name: name, Size: size, Program: "lif", Consts: map[string]int32{"du": 1000, "dv": 300, "vth": vth}}
		v := make([]int32, size)
		for i := range v {
			v[i] = int32(rng.IntN(int(vth) << 6))
		}
		p.State = map[string]network.Values{"v": network.Each(v...)}
		if size%2 == 0 {
			p.Params = map[string]network.Values{"bias_mant": network.All(int32(size))}
		}
		return p
	}
	for i := range 10 {
		n.Populations = append(n.Populations, lif(fmt.Sprintf("p%d", i), 60+7*i, 20))
	}
	n.Populations = append(n.Populations, lif("hi", 50, 40), lif("big", 1500, 20))
	for i, p := range n.Populations {
		w := make([][]int32, p.Size)
		for j := range w {
			w[j] = make([]int32, 30)
			for k := range w[j] {
				w[j][k] = int32(rng.IntN(160)) - 40
			}
		}
		n.Connections = append(n.Connections, network.Connection{From: "in", To: p.Name, Weights: network.Rows(w)})
		next := n.Populations[(i+1)%len(n.Populations)]
		var sp network.Sparse
		for pre := range p.Size {
			r, step := rng.IntN(next.Size), next.Size/3+1
			for d := range 3 { // three distinct targets
				sp.Pre, sp.Post = append(sp.Pre, pre), append(sp.Post, (r+d*step)%next.Size)
			}
		}
		sp.Weights = network.All(60)
		n.Connections = append(n.Connections, network.Connection{From: p.Name, To: next.Name, Sparse: &sp})
	}

	small := chip.Size{Cores: 4, NeuronsPerCore: 1024}
	img, err := network.Map(n, small)
	require.NoError(t, err)
	require.Equal(t, 4, img.Size.Cores)
	start := 0
	for i := range 10 { // p0..p9 (915 neurons) side by side on core 0
		require.Equal(t, []image.Segment{{Core: 0, Start: start, Count: 60 + 7*i}}, img.Pops[i].Segments)
		start += 60 + 7*i
	}
	require.Equal(t, []image.Segment{{Core: 1, Count: 50}}, img.Pops[10].Segments, "other constants: a core of its own")
	require.Equal(t, []image.Segment{{Core: 2, Count: 750}, {Core: 3, Count: 750}}, img.Pops[11].Segments)
	require.Equal(t, 915, img.Cores[0].Neurons)

	roomy := chip.Size{Cores: 16, NeuronsPerCore: 1024}
	spread, err := network.Map(n, roomy)
	require.NoError(t, err)
	require.Equal(t, 13, spread.Size.Cores, "where one population per core fits, nothing is shared")

	load := func(img *image.Image, size chip.Size) *emu.Chip {
		c, err := emu.New(emu.Opts{Size: size})
		require.NoError(t, err)
		require.NoError(t, c.LoadImage(img))
		return c
	}
	a, b := load(img, small), load(spread, roomy)
	read := func(c *emu.Chip, img *image.Image, f chip.Field) [][]int32 {
		var out [][]int32
		for _, p := range img.Pops {
			var vals []int32
			for _, s := range p.Segments {
				for j := range s.Count {
					v, err := c.Read(s.Core, f, s.Start+j)
					require.NoError(t, err)
					vals = append(vals, v)
				}
			}
			out = append(out, vals)
		}
		return out
	}
	spikes := 0
	for range 60 {
		for i := range 30 {
			if rng.IntN(3) == 0 {
				require.NoError(t, a.Inject(0, i, 1))
				require.NoError(t, b.Inject(0, i, 1))
			}
		}
		a.Step()
		b.Step()
		for _, f := range []chip.Field{{Kind: chip.FieldState, Index: 1}, {Kind: chip.FieldSpike}} {
			require.Equal(t, read(b, spread, f), read(a, img, f))
		}
		spikes = int(a.Stats().Spikes)
	}
	require.Greater(t, spikes, 100, "the test should see activity")
}

func TestMapSharingDoesNotFitEither(t *testing.T) {
	n := &network.Network{}
	for i := range 12 {
		n.Populations = append(n.Populations, lifPop(fmt.Sprintf("p%d", i), 400))
	}
	_, err := network.Map(n, chip.Size{Cores: 4, NeuronsPerCore: 1024})
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.ErrorContains(t, err, "needs 12 cores, chip has 4: 8 too many")
	require.ErrorContains(t, err, "; 6 with populations of one program and constants sharing cores)")
	_, err = network.Map(n, chip.Size{Cores: 6, NeuronsPerCore: 1024})
	require.NoError(t, err)
}

// A network whose image would pass the format's limit is refused from an estimate, before its
// synapses are built: a dense 8192 → 1,048,576 connection would take 16 GiB, 8192 → 65,536 a
// little over 1 GiB.
func TestMapRefusesImagesAboveTheLimit(t *testing.T) {
	for _, to := range []int{1 << 20, 1 << 16} {
		n := &network.Network{
			Inputs:      []network.Input{{Name: "in", Size: 8192}},
			Populations: []network.Population{{Name: "p", Size: to, Program: "rf", Consts: map[string]int32{"cos_d": 1, "sin_d": 1, "vth": 1}}},
			Connections: []network.Connection{{From: "in", To: "p", Weights: network.Fill(2)}},
		}
		_, err := network.Map(n, chip.Full)
		require.ErrorIs(t, err, network.ErrTooLarge, "to %d", to)
		require.ErrorContains(t, err, "the image format's limit is 1.0 GiB")
		require.ErrorContains(t, err, fmt.Sprintf(`"in->p": %d synapses`, 8192*to))
	}
}
