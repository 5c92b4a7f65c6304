package main

import (
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/emu/cuba"
)

// emuBench is what `lrctl bench emu` measures.
type emuBench struct {
	Network            string  `json:"network"`
	Neurons            int     `json:"neurons"`
	Synapses           int     `json:"synapses"`
	Steps              int     `json:"steps"`
	Repeats            int     `json:"repeats"`
	Workers            int     `json:"workers"`
	Kernels            string  `json:"kernels"`
	RateHz             float64 `json:"rate_hz"`
	NeuronUpdatesPerS  float64 `json:"neuron_updates_per_s"`
	SynapticEventsPerS float64 `json:"synaptic_events_per_s"`
	StepUS             float64 `json:"step_us"`
	MemcpyGBps         float64 `json:"memcpy_gbps"`
	HeapMiB            float64 `json:"heap_mib"`
}

func newBenchEmuCmd() *cobra.Command {
	var asJSON, portable, full bool
	var steps, repeats, workers int
	cmd := &cobra.Command{
		Use:   "emu [--json]",
		Short: "Benchmark the emulator on Brette et al.'s CUBA network (4000 LIF neurons, 2% connectivity)",
		Long: `Runs the CUBA benchmark network for --steps steps, --repeats times, on one CPU core by
default, and reports the median neuron updates and synaptic events per second. A memcpy
bandwidth measured in the same run is printed as the machine's baseline. --full loads the full
design (128 cores × 8192 neurons) instead and reports its memory use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := runEmuBench(steps, repeats, workers, portable, full)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, r)
			}
			fmt.Fprintf(out, "network              %s: %d neurons, %d synapses, %.1f Hz\n", r.Network, r.Neurons, r.Synapses, r.RateHz)
			fmt.Fprintf(out, "run                  %d steps × %d, %d worker(s), kernels %s\n", r.Steps, r.Repeats, r.Workers, r.Kernels)
			fmt.Fprintf(out, "neuron updates/s     %.3g (median)\n", r.NeuronUpdatesPerS)
			fmt.Fprintf(out, "synaptic events/s    %.3g (median)\n", r.SynapticEventsPerS)
			fmt.Fprintf(out, "step                 %.2f µs\n", r.StepUS)
			fmt.Fprintf(out, "memcpy baseline      %.1f GB/s\n", r.MemcpyGBps)
			fmt.Fprintf(out, "heap                 %.1f MiB\n", r.HeapMiB)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.IntVar(&steps, "steps", 1000, "steps per repetition")
	f.IntVar(&repeats, "repeats", 5, "repetitions; the median is reported")
	f.IntVar(&workers, "workers", 1, "goroutines stepping cores in parallel")
	f.BoolVar(&portable, "portable", false, "use the pure-Go interpreter instead of the vector kernels")
	f.BoolVar(&full, "full", false, "run the full design (128 × 8192 neurons, local connectivity)")
	return cmd
}

// warmup is how long bench emu steps the network before it measures.
const warmup = 500 * time.Millisecond

func runEmuBench(steps, repeats, workers int, portable, full bool) (*emuBench, error) {
	if steps < 1 || repeats < 1 {
		return nil, fmt.Errorf("bench emu: --steps and --repeats must be positive")
	}
	var chip *emu.Chip
	var info cuba.Info
	var err error
	r := &emuBench{Network: "cuba", Steps: steps, Repeats: repeats, Workers: workers, Kernels: emu.KernelName(portable)}
	if full {
		r.Network = "cuba-full"
		var ms runtime.MemStats
		chip, info, ms, err = cuba.FullChip(workers)
		r.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	} else {
		chip, info, err = cuba.Build(cuba.Opts{Workers: workers, Portable: portable})
	}
	if err != nil {
		return nil, fmt.Errorf("bench emu: %w", err)
	}
	r.Neurons, r.Synapses = info.Neurons, info.Synapses
	// Let the network's initial transient pass, and keep the CPU busy long enough before
	// measuring that it runs at its working clock: a few hundred ms at least, where the
	// measured repetitions of a small network take a few ms each.
	for t0, n := time.Now(), 0; n < 100 || time.Since(t0) < warmup; n++ {
		chip.Step()
	}
	var nu, se []float64
	first := chip.Stats()
	for range repeats {
		s0 := chip.Stats()
		t0 := time.Now()
		for range steps {
			chip.Step()
		}
		d := time.Since(t0).Seconds()
		s1 := chip.Stats()
		nu = append(nu, float64(s1.NeuronUpdates-s0.NeuronUpdates)/d)
		se = append(se, float64(s1.SynapticEvents-s0.SynapticEvents)/d)
	}
	last := chip.Stats()
	r.NeuronUpdatesPerS, r.SynapticEventsPerS = median(nu), median(se)
	r.StepUS = float64(info.Neurons) / r.NeuronUpdatesPerS * 1e6
	r.RateHz = float64(last.Spikes-first.Spikes) / float64(info.Neurons) / (float64(steps*repeats) / 1000)
	r.MemcpyGBps = memcpyGBps()
	if r.HeapMiB == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		r.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	}
	return r, nil
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// memcpyGBps measures copy bandwidth of 4 KiB blocks within a 1 MiB working set, the median
// of several runs: the machine's baseline for the figures beside it.
func memcpyGBps() float64 {
	src, dst := make([]byte, 1<<20), make([]byte, 1<<20)
	var runs []float64
	for range 5 {
		t0 := time.Now()
		n := 0
		for n < 1<<30 {
			for off := 0; off < len(src); off += 4096 {
				copy(dst[off:off+4096], src[off:off+4096])
			}
			n += len(src)
		}
		runs = append(runs, float64(n)/time.Since(t0).Seconds()/1e9)
	}
	return median(runs)
}
