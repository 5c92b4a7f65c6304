package cuba

import (
	"testing"

	"github.com/lrchip/lrchip/chip"
	"github.com/stretchr/testify/require"
)

// TestActivity checks the network does what the benchmark claims: sustained, irregular
// activity at a few Hz, not silence and not epileptic bursts.
func TestActivity(t *testing.T) {
	chip, info, err := Build(Opts{})
	require.NoError(t, err)
	require.Equal(t, 3200, info.Excitatory)
	require.Equal(t, 800, info.Inhibitory)
	require.InDelta(t, 0.02*4000*4000, float64(info.Synapses), 0.02*4000*4000*0.05)
	const steps = 1000
	perStep := make([]int, steps)
	last := uint64(0)
	for i := range perStep {
		chip.Step()
		s := chip.Stats().Spikes
		perStep[i] = int(s - last)
		last = s
	}
	rate := float64(last) / float64(info.Neurons) // spikes per neuron per simulated second
	t.Logf("rate %.2f Hz, %d synaptic events", rate, chip.Stats().SynapticEvents)
	require.Greater(t, rate, 1.0)
	require.Less(t, rate, 20.0)
	// Sustained: activity in the last 200 ms.
	late := 0
	for _, n := range perStep[800:] {
		late += n
	}
	require.Greater(t, late, 0, "activity died out")
}

func TestDeterministicAndPortableMatches(t *testing.T) {
	run := func(portable bool) []uint64 {
		chip, _, err := Build(Opts{Portable: portable})
		require.NoError(t, err)
		var trace []uint64
		for range 200 {
			chip.Step()
			trace = append(trace, chip.Stats().Spikes)
		}
		return trace
	}
	require.Equal(t, run(false), run(false))
	require.Equal(t, run(false), run(true))
}

// BenchmarkCUBA runs the network for 1000 steps on one CPU core and reports neuron updates
// and synaptic events per second.
func BenchmarkCUBA(b *testing.B) {
	for _, portable := range []bool{false, true} {
		name := "simd"
		if portable {
			name = "portable"
		}
		b.Run(name, func(b *testing.B) {
			chip, _, err := Build(Opts{Portable: portable})
			require.NoError(b, err)
			for range 100 { // settle
				chip.Step()
			}
			s0 := chip.Stats()
			b.ResetTimer()
			for b.Loop() {
				for range 1000 {
					chip.Step()
				}
			}
			s := chip.Stats()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(s.NeuronUpdates-s0.NeuronUpdates)/sec, "neuron_updates/s")
			b.ReportMetric(float64(s.SynapticEvents-s0.SynapticEvents)/sec, "synaptic_events/s")
		})
	}
}

// TestParallelIsBitIdentical steps the network with one worker and with several and demands
// the same state bits and spikes at every step.
func TestParallelIsBitIdentical(t *testing.T) {
	one, _, err := Build(Opts{Workers: 1})
	require.NoError(t, err)
	many, _, err := Build(Opts{Workers: 4})
	require.NoError(t, err)
	for range 300 {
		one.Step()
		many.Step()
		require.Equal(t, one.Stats(), many.Stats())
	}
	for c := 0; c < 4; c++ {
		for n := 0; n < 1000; n += 7 {
			for _, f := range []chip.Field{{Kind: chip.FieldState, Index: 0}, {Kind: chip.FieldState, Index: 1}, {Kind: chip.FieldInput}} {
				a, err := one.Read(c, f, n)
				require.NoError(t, err)
				b, err := many.Read(c, f, n)
				require.NoError(t, err)
				require.Equal(t, a, b)
			}
		}
	}
}

// TestFullChipFits loads the full design — 128 cores × 8192 neurons, about 80 synapses per
// neuron — steps it, and checks the memory it takes stays well inside a 24 GiB machine.
func TestFullChipFits(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a million neurons; skipped in -short mode")
	}
	chip, info, mem, err := FullChip(1)
	require.NoError(t, err)
	for range 5 {
		chip.Step()
	}
	t.Logf("full chip: %d neurons on %d cores, %d synapses, %.2f GiB in use (%.2f GiB from the OS)",
		info.Neurons, info.Cores, info.Synapses, float64(mem.HeapInuse)/(1<<30), float64(mem.Sys)/(1<<30))
	require.Equal(t, 128*8192, info.Neurons)
	require.Less(t, mem.Sys, uint64(24)<<30)
	require.Greater(t, chip.Stats().Spikes, uint64(0))
}
