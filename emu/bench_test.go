package emu

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/programs"
)

// BenchmarkLIFStep steps 4 cores of 1000 LIF neurons with no synapses: the cost of running
// neuron programs alone.
func BenchmarkLIFStep(b *testing.B) {
	for _, portable := range []bool{false, true} {
		name := map[bool]string{false: "simd", true: "portable"}[portable]
		b.Run(name, func(b *testing.B) {
			c, err := New(Opts{Portable: portable})
			require.NoError(b, err)
			p := programs.MustGet("lif")
			for i := range 4 {
				bias := make([]int32, 1000)
				for j := range bias {
					bias[j] = int32(j)
				}
				require.NoError(b, c.SetCore(i, CoreConfig{Program: p, Neurons: 1000, Consts: []int32{100, 200, 100},
					Params: [][]int32{bias, make([]int32, 1000)}}))
			}
			for b.Loop() {
				c.Step()
			}
			b.ReportMetric(float64(c.Stats().NeuronUpdates)/b.Elapsed().Seconds(), "neuron_updates/s")
		})
	}
}
