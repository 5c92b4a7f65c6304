package network_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	img, err := network.Map(n, emu.Size{Cores: 8, NeuronsPerCore: 10})
	require.NoError(t, err)
	require.Equal(t, "split", img.Name)
	require.Equal(t, image.Size{Cores: 4, NeuronsPerCore: 10}, img.Size)
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
	img, err := network.Map(n, emu.Size{})
	require.NoError(t, err)
	require.Equal(t, image.Size{Cores: 1, NeuronsPerCore: 2}, img.Size)
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
	_, err := network.Map(n, emu.Prototype)
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.EqualError(t, err, "network: needs 11 cores, chip has 8: 3 too many (cores per population of at most 1024 neurons: exc: 4, inh: 1, out: 6)")

	_, err = network.Map(n, emu.Full)
	require.NoError(t, err)

	big := &network.Network{Inputs: []network.Input{{Name: "in", Size: 2000}}, Populations: []network.Population{lifPop("p", 1)}}
	_, err = network.Map(big, emu.Prototype)
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.EqualError(t, err, `network: input "in": 2000 neurons, an input port has at most 1024 on a 8×1024 chip`)

	_, err = network.Map(big, emu.Size{Cores: 0, NeuronsPerCore: 9000})
	require.ErrorIs(t, err, network.ErrRange)
}

func TestMapFanIn(t *testing.T) {
	// A population split over 3 cores feeds another through 3 banks per destination core:
	// 6 such connections need 18 banks, more than the 16 a core has.
	n := &network.Network{Populations: []network.Population{lifPop("src", 3000), lifPop("dst", 10)}}
	for i := range 6 {
		n.Connections = append(n.Connections, network.Connection{Name: fmt.Sprintf("c%d", i), From: "src", To: "dst", Weights: network.Fill(1)})
	}
	n.Connections = append(n.Connections, network.Connection{From: "dst", To: "dst", Weights: network.Fill(1)})
	require.NoError(t, n.Validate(), "7 connections pass the population-level check")
	_, err := network.Map(n, emu.Prototype)
	require.ErrorIs(t, err, network.ErrFanIn)
	require.EqualError(t, err, `network: core 3: would need 19 incoming connections, limit 16: 3 too many `+
		`(it holds population "dst", neurons 0-9; fed by c0 ×3, c1 ×3, c2 ×3, c3 ×3, c4 ×3, c5 ×3, dst->dst)`)
	var ne *network.Error
	require.ErrorAs(t, err, &ne)
	require.Equal(t, "core", ne.Kind)
	require.Equal(t, 3, ne.Index)

	_, err = network.Map(n, emu.Size{Cores: 8, NeuronsPerCore: 4096})
	require.NoError(t, err, "on bigger cores the source is one block")
}

func TestMapNegativeExponentNeedsOneSourceCore(t *testing.T) {
	n := &network.Network{
		Populations: []network.Population{lifPop("src", 20), lifPop("dst", 5)},
		Connections: []network.Connection{{From: "src", To: "dst", Weights: network.Fill(8), WeightExp: -2}},
	}
	_, err := network.Map(n, emu.Size{Cores: 8, NeuronsPerCore: 10})
	require.ErrorIs(t, err, network.ErrDoesNotFit)
	require.ErrorContains(t, err, `network: connection "src->dst": weight_exp -2 is negative and its source "src" spans 2 cores`)
	_, err = network.Map(n, emu.Size{Cores: 8, NeuronsPerCore: 20})
	require.NoError(t, err)

	// Sparse synapses from one source core only: fine.
	n.Connections[0] = network.Connection{From: "src", To: "dst", WeightExp: -2,
		Sparse: &network.Sparse{Pre: []int{0, 3}, Post: []int{0, 4}, Weights: network.All(8)}}
	_, err = network.Map(n, emu.Size{Cores: 8, NeuronsPerCore: 10})
	require.NoError(t, err)
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]emu.Size{
		"prototype": emu.Prototype, "": emu.Prototype, "Full": emu.Full,
		"4x256": {Cores: 4, NeuronsPerCore: 256}, "2×16": {Cores: 2, NeuronsPerCore: 16},
	} {
		got, err := network.ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"big", "4x", "x4", "0x4", "4x0", "129x1", "1x8193", "4x256x2", "04x1"} {
		_, err := network.ParseSize(in)
		require.ErrorIs(t, err, network.ErrRange, in)
	}
}

// vectorNetwork describes a Lava conformance vector as a network: one input port, one
// population, one dense connection.
func vectorNetwork(v *conformance.Vector) *network.Network {
	pp := v.Params
	pop := network.Population{Name: "p", Size: v.NOut}
	switch v.Kind {
	case "lif", "lifreset", "dense_graded":
		pop.Program = "lif"
		pop.Consts = map[string]int32{"du": pp.Du, "dv": pp.Dv, "vth": pp.Vth}
		if v.Kind == "lifreset" {
			pop.Program = "lif_reset"
			pop.Consts["interval"], pop.Consts["offset"] = pp.ResetInterval, pp.ResetOffset
		}
		pop.Params = map[string]network.Values{"bias_mant": network.Each(pp.BiasMant...), "bias_exp": network.Each(pp.BiasExp...)}
		pop.State = map[string]network.Values{"u": network.Each(pp.U0...), "v": network.Each(pp.V0...)}
	case "sdn":
		pop.Program = "sigma_delta"
		scale := pp.SpikeExp + pp.StateExp
		bias := make([]int32, v.NOut)
		for i, b := range pp.Bias {
			bias[i] = int32(int64(b) << scale)
		}
		relu, cum := int32(0), int32(0)
		if pp.ActMode == "RELU" {
			relu = 1
		}
		if pp.CumError {
			cum = 1
		}
		pop.Consts = map[string]int32{"vth": int32(int64(pp.Vth) << scale), "state_exp": pp.StateExp, "relu": relu, "cum_error": cum}
		pop.Params = map[string]network.Values{"bias": network.Each(bias...)}
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
	size := emu.Size{Cores: 8, NeuronsPerCore: 24} // n_out ≤ 40 splits over 2 cores; n_in ≤ 20
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			v, err := conformance.ParseVector(data)
			require.NoError(t, err)
			img, err := network.Map(vectorNetwork(v), size)
			require.NoError(t, err)
			chip, err := emu.New(emu.Opts{Size: size})
			require.NoError(t, err)
			require.NoError(t, chip.LoadImage(img))
			prog := img.Cores[0].Program
			for k := 0; k < v.Steps; k++ {
				for i, p := range v.Inputs[k] {
					if p != 0 {
						require.NoError(t, chip.Inject(0, i, p))
					}
				}
				chip.Step()
				for _, field := range v.Fields {
					fl := emu.Field{Kind: emu.FieldState, Index: prog.StateIndex(field)}
					switch field {
					case "a_in":
						fl = emu.Field{Kind: emu.FieldInput}
					case "s":
						fl = emu.Field{Kind: emu.FieldSpike}
					}
					for _, b := range img.Locate(0, 0, v.NOut) {
						for j := range b.Count {
							got, err := chip.Read(b.Core, fl, b.Start+j)
							require.NoError(t, err)
							n := b.Offset + j
							if got != v.Expect[field][k][n] {
								t.Fatalf("step %d neuron %d %s: got %d, want %d", k, n, field, got, v.Expect[field][k][n])
							}
						}
					}
				}
			}
		})
	}
}
