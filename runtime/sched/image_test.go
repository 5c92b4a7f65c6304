package sched

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
)

// An output population of 1500 neurons spans two cores of the prototype, so its output is
// two chip ports; the pipeline's counts must follow the output's own numbering.
const wideNet = `
name: wide
inputs: [{name: drive, size: 8}, {name: in, size: 8}]
populations:
  - {name: mid, size: 4, program: lif, consts: {du: 4095, dv: 4095, vth: 10}}
  - {name: out, size: 1500, program: lif, consts: {du: 2048, dv: 1024, vth: 150}}
connections:
  - {from: in, to: out, weights: 120, sign_mode: EXCITATORY}
  - {from: drive, to: mid, weights: 100, sign_mode: EXCITATORY}
outputs:
  - {name: mids, population: mid}
  - {name: wide, population: out, start: 100, count: 1300}
`

func TestImagePortsAcrossCores(t *testing.T) {
	n, err := network.Parse([]byte(wideNet), network.YAML)
	require.NoError(t, err)
	img, err := network.Map(n, chip.Size{})
	require.NoError(t, err)
	require.Greater(t, len(img.OutputBlocks(1)), 1, "the test needs an output over several cores")

	ports, err := ImagePorts(img, "in", "wide")
	require.NoError(t, err)
	require.Equal(t, Ports{Input: 1, Output: 1, Count: 1300}, ports)
	_, err = ImagePorts(img, "nope", "")
	require.ErrorIs(t, err, ErrConfig)
	_, err = ImagePorts(img, "", "nope")
	require.ErrorIs(t, err, ErrConfig)

	rng := rand.New(rand.NewPCG(1, 1))
	l := gpu.Layer{M: 3, N: 1300, W: make([]int32, 3*1300)}
	for i := range l.W {
		l.W[i] = rng.Int32N(21) - 10
	}
	src := Patterns{Inputs: 8, Classes: 2, High: 0.6, Low: 0.1, Seed: 4}.Source()

	// Direct: per-population neuron counts from the chip, through the image's blocks.
	direct, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	require.NoError(t, direct.LoadImage(img))
	var want []Result
	pop := img.Pop("out")
	var in []chip.Spike
	for w := range 4 {
		counts := make([]int32, 1300)
		for s := range 20 {
			for _, sp := range src(w, s, in[:0]) {
				require.NoError(t, direct.Inject(1, int(sp.Neuron), 1))
			}
			direct.Step()
			for _, b := range img.Locate(pop, 100, 1300) {
				for i := range b.Count {
					p, err := direct.Read(b.Core, chip.Field{Kind: chip.FieldSpike}, b.Start+i)
					require.NoError(t, err)
					if p != 0 {
						counts[b.Offset+i]++
					}
				}
			}
		}
		scores := make([]int64, 3)
		want = append(want, Result{Window: w, Argmax: l.Apply(counts, scores), Scores: scores, Counts: counts})
	}

	ec := loadChip(t, img, ports)
	require.Equal(t, 1300, ec.Outputs())
	var col collector
	p := newPipelineLayer(t, ec, cpuDevice(t), l, Opts{Window: 20, Depth: 2, Input: src, OnResult: col.add})
	_, err = p.Run(context.Background(), 4)
	require.NoError(t, err)
	require.Equal(t, want, col.got)
	require.NotEqual(t, want[0].Scores, []int64{0, 0, 0}, "the output is active")
}
