// Package cuba builds the standard emulator benchmark: Brette et al. (2007)'s CUBA network
// adapted to the chip — 4000 current-based LIF neurons (3200 excitatory, 800 inhibitory) with
// 2% random connectivity, run in steps of 1 ms.
//
// Adaptation. Brette's neurons have a membrane time constant of 20 ms, a rest potential of
// −49 mV above a threshold of −50 mV, reset to −60 mV, and synaptic currents decaying with
// 5 ms (excitatory) and 10 ms (inhibitory) time constants. On the chip, v is measured from the
// reset potential in units of 1/4096 mV: the threshold (10 mV) is vth = 640 (640 << 6 =
// 40960), dv = 205 (4096/20), and the leak toward −49 mV would be the bias 11 mV·dv = 2255;
// we use 2100 (a rest of about −49.8 mV). The chip's CUBA LIF has one synaptic current, so both
// kinds decay with du = 819 (5 ms). An excitatory spike adds 6 << 6 to u (about 0.47 mV of
// total depolarisation, as Brette's 1.62 mV × 5/20); an inhibitory one adds −60 << 6 (about
// −4.7 mV: Brette's −9 mV × 10/40 doubled, since the inhibitory current here decays twice as
// fast as his). Weights are even because MIXED 8-bit weights drop their lowest bit. Initial
// voltages are uniform between reset and threshold; there is no refractory period. The result
// is sustained, irregular activity at about 6 Hz (TestActivity checks 1-20 Hz).
package cuba

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
)

// Opts configures the network. Zero fields take the defaults.
type Opts struct {
	Neurons int     // default 4000; 80% excitatory
	P       float64 // connection probability, default 0.02
	Seed    uint64  // default 1
	Size    chip.Size
	// Portable runs the pure-Go interpreter instead of the vector kernels.
	Portable bool
	// Neighbors, when > 0, connects each core only to itself and the next Neighbors cores
	// (a ring), with P applying within that reach: the local connectivity a mapper aims for
	// on a large chip. 0 connects every core to every core.
	Neighbors int
	// Workers steps the chip's cores in parallel (see emu.Opts); default 1, the single-CPU
	// figure the benchmark reports.
	Workers int
}

// Network parameters (see the package comment).
const (
	Du, Dv, Vth = 819, 205, 640
	Bias        = 2100
	WExc, WInh  = 6, -60
)

// Info describes what Build made.
type Info struct {
	Neurons, Excitatory, Inhibitory int
	Cores                           int
	Synapses                        int
}

// Build returns a chip loaded with the network. Neurons are spread evenly over the fewest
// cores that hold them; within each core the first 80% are excitatory.
func Build(o Opts) (*emu.Chip, Info, error) {
	if o.Neurons == 0 {
		o.Neurons = 4000
	}
	if o.P == 0 {
		o.P = 0.02
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Size == (chip.Size{}) {
		o.Size = chip.Prototype
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	chip, err := emu.New(emu.Opts{Size: o.Size, Portable: o.Portable, Workers: o.Workers})
	if err != nil {
		return nil, Info{}, err
	}
	per := o.Size.NeuronsPerCore
	ncores := (o.Neurons + per - 1) / per
	if ncores > o.Size.Cores {
		return nil, Info{}, fmt.Errorf("cuba: %d neurons need %d cores of %d, the chip has %d", o.Neurons, ncores, per, o.Size.Cores)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xC0BA))
	prog, err := programs.Get("lif")
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Neurons: o.Neurons, Cores: ncores}
	sizes := make([]int, ncores)
	for c := range sizes {
		sizes[c] = o.Neurons / ncores
		if c < o.Neurons%ncores {
			sizes[c]++
		}
	}
	for c, n := range sizes {
		bm, be, v0 := make([]int32, n), make([]int32, n), make([]int32, n)
		for i := range bm {
			bm[i] = Bias
			v0[i] = int32(rng.IntN(Vth << 6))
			if i < n*4/5 {
				info.Excitatory++
			} else {
				info.Inhibitory++
			}
		}
		err := chip.SetCore(c, emu.CoreConfig{Program: prog, Neurons: n, Consts: []int32{Du, Dv, Vth},
			Params: [][]int32{bm, be}, State: [][]int32{make([]int32, n), v0}})
		if err != nil {
			return nil, Info{}, err
		}
	}
	// Per (source core, destination core), one sparse connection from the excitatory neurons
	// and one from the inhibitory ones, as Brette's Ce and Ci: each has a single weight.
	// Targets are drawn by geometric skipping, so building costs O(synapses), not O(n²).
	skip := math.Log1p(-o.P)
	for s, ns := range sizes {
		ne := ns * 4 / 5
		for dd := 0; dd < ncores; dd++ {
			if o.Neighbors > 0 && dd > o.Neighbors {
				break
			}
			d := (s + dd) % ncores
			nd := sizes[d]
			for _, part := range []struct {
				start, count int
				w            int32
			}{{0, ne, WExc}, {ne, ns - ne, WInh}} {
				idx := make([]int32, 1, part.count+1)
				var tg, w []int32
				for i := part.start; i < part.start+part.count; i++ {
					for j := -1; ; {
						j += 1 + int(math.Log(1-rng.Float64())/skip)
						if j >= nd {
							break
						}
						if s != d || i != j {
							tg, w = append(tg, int32(j)), append(w, part.w)
						}
					}
					idx = append(idx, int32(len(tg)))
				}
				info.Synapses += len(tg)
				err := chip.Connect(emu.Connection{Kind: emu.FromCore, Src: s, SrcStart: part.start, SrcCount: part.count,
					Dst: d, DstCount: nd, Weights: w, Index: idx, Targets: tg, SignMode: syn.Mixed, WeightBits: 8})
				if err != nil {
					return nil, Info{}, err
				}
			}
		}
	}
	return chip, info, nil
}

// FullChip builds the network at the full design's size — 128 cores × 8192 neurons, each
// core connected to itself and its next 3 cores with about 80 synapses per neuron — and
// returns the memory statistics after loading (after a GC), to show it fits.
func FullChip(workers int) (*emu.Chip, Info, runtime.MemStats, error) {
	n := chip.Full.Cores * chip.Full.NeuronsPerCore
	chip, info, err := Build(Opts{Neurons: n, Size: chip.Full, Neighbors: 3, P: 80.0 / (4 * float64(chip.Full.NeuronsPerCore)), Workers: workers})
	var ms runtime.MemStats
	if err == nil {
		runtime.GC()
		runtime.ReadMemStats(&ms)
	}
	return chip, info, ms, err
}
