// Package conformance runs Intel Lava's conformance vectors on any device and compares every
// value at every step.
package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
)

// Mismatch is one value that differs from Lava's.
type Mismatch struct {
	File     string
	Step     int // 0-based index into the vector's arrays (Lava's step Step+1); −1−i for input i's effective weight
	Neuron   int
	Field    string
	Expected int32
	Actual   int32
}

func (m Mismatch) String() string {
	if m.Step < 0 {
		return fmt.Sprintf("%s: effective weight of input %d to neuron %d: expected %d, actual %d",
			m.File, -m.Step-1, m.Neuron, m.Expected, m.Actual)
	}
	return fmt.Sprintf("%s: step %d (Lava step %d), neuron %d, %s: expected %d, actual %d",
		m.File, m.Step, m.Step+1, m.Neuron, m.Field, m.Expected, m.Actual)
}

// Result is the outcome of one vector file.
type Result struct {
	File       string
	Kind       string
	Steps      int
	Neurons    int
	Compared   int        // values compared
	Mismatches []Mismatch // the first MaxReported
	Total      int        // all mismatches
	Err        error      // the file could not be read or run
}

// Passed reports whether the file ran and matched everywhere.
func (r *Result) Passed() bool { return r.Err == nil && r.Total == 0 }

// MaxReported bounds the mismatches kept per file.
const MaxReported = 10

// Files expands paths (files or folders) into the vector files they name, sorted.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".json") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// RunFile reads one vector file and runs it on dev.
func RunFile(ctx context.Context, dev device.Device, path string) *Result {
	res := &Result{File: path}
	data, err := os.ReadFile(path)
	if err != nil {
		res.Err = err
		return res
	}
	v, err := ParseVector(data)
	if err != nil {
		res.Err = fmt.Errorf("%s: %w", path, err)
		return res
	}
	res.Kind, res.Steps, res.Neurons = v.Kind, v.Steps, v.NOut
	if err := Run(ctx, dev, v, res); err != nil {
		res.Err = fmt.Errorf("%s: %w", path, err)
	}
	return res
}

// Neurons is how a vector's neurons are set up on the chip: the standard program that
// reproduces the vector's Lava model, its constants, and per-neuron parameters and initial
// state ([register][neuron]; nil state means zeros).
type Neurons struct {
	Program *isa.Program
	Consts  []int32
	Params  [][]int32
	State   [][]int32
}

// NeuronsOf picks the program and values for a vector. Lava scales the sigma-delta vth and
// bias by 2^(spike_exp + state_exp) when it builds the process; so does this.
func NeuronsOf(v *Vector) (*Neurons, error) {
	pp := v.Params
	n := &Neurons{}
	var err error
	switch v.Kind {
	case "lif", "lifreset", "dense_graded":
		name := "lif"
		n.Consts = []int32{pp.Du, pp.Dv, pp.Vth}
		if v.Kind == "lifreset" {
			name = "lif_reset"
			n.Consts = append(n.Consts, pp.ResetInterval, pp.ResetOffset)
		}
		if n.Program, err = programs.Get(name); err != nil {
			return nil, err
		}
		n.Params = [][]int32{pp.BiasMant, pp.BiasExp}
		n.State = [][]int32{pp.U0, pp.V0}
	case "sdn":
		if n.Program, err = programs.Get("sigma_delta"); err != nil {
			return nil, err
		}
		scale := pp.SpikeExp + pp.StateExp
		vth := int64(pp.Vth) << scale
		if v.VthEff != nil && *v.VthEff != vth {
			return nil, fmt.Errorf("vth_effective is %d, but vth << (spike_exp + state_exp) = %d", *v.VthEff, vth)
		}
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
		n.Consts = []int32{int32(vth), pp.StateExp, relu, cum}
		n.Params = [][]int32{bias}
	default:
		return nil, fmt.Errorf("vector kind %q", v.Kind)
	}
	for _, f := range v.Fields {
		if f != "a_in" && f != "s" && n.Program.StateIndex(f) < 0 {
			return nil, fmt.Errorf("program %s has no state register %q", n.Program.Name, f)
		}
	}
	return n, nil
}

// Image builds a vector's network as a network image for a chip of the given size: the
// population spread evenly over as few cores as hold it, one input port "in" with a Dense
// connection to each core, one output port "out" over the whole population. This is the one
// path from a vector to a chip: the conformance runner, lrctl validate and the mapper tests
// use it.
func Image(v *Vector, size chip.Size) (*image.Image, error) {
	mode, err := syn.ParseSignMode(v.Params.SignMode)
	if err != nil {
		return nil, err
	}
	pp := v.Params
	n, err := NeuronsOf(v)
	if err != nil {
		return nil, err
	}
	if size == (chip.Size{}) {
		size = chip.Prototype
	}
	if v.NIn > size.NeuronsPerCore {
		return nil, fmt.Errorf("%d inputs need an input port wider than a core of %d neurons", v.NIn, size.NeuronsPerCore)
	}
	ncores := (v.NOut + size.NeuronsPerCore - 1) / size.NeuronsPerCore
	if ncores > size.Cores {
		return nil, fmt.Errorf("%d neurons need %d cores of %d, the chip has %d", v.NOut, ncores, size.NeuronsPerCore, size.Cores)
	}
	per := (v.NOut + ncores - 1) / ncores
	img := &image.Image{Name: "conformance-" + v.Kind, Size: chip.Size{Cores: ncores, NeuronsPerCore: max(per, v.NIn)},
		Inputs: []image.Input{{Name: "in", Size: v.NIn}}}
	pop := image.Population{Name: "neurons", Size: v.NOut}
	for c := range ncores {
		lo, hi := c*per, min((c+1)*per, v.NOut)
		img.Cores = append(img.Cores, image.Core{Index: c, Program: n.Program, Neurons: hi - lo, Consts: n.Consts,
			Params: slice(n.Params, lo, hi), State: slice(n.State, lo, hi)})
		w := make([]int32, 0, v.NIn*(hi-lo))
		for i := range v.NIn {
			for n := lo; n < hi; n++ {
				// An image holds weights as the chip keeps them (firmware/image).
				w = append(w, syn.Effective(v.Weights[n][i], mode, pp.WeightBits))
			}
		}
		img.Conns = append(img.Conns, image.Conn{Name: "in", Kind: image.FromInput, Src: 0, SrcCount: v.NIn,
			Dst: c, DstCount: hi - lo, Weights: w, SignMode: mode, WeightBits: pp.WeightBits, WeightExp: pp.WeightExp, Graded: v.Graded})
		pop.Segments = append(pop.Segments, image.Segment{Core: c, Start: 0, Count: hi - lo})
	}
	img.Pops = []image.Population{pop}
	img.Outputs = []image.Output{{Name: "out", Pop: 0, Count: v.NOut}}
	return img, nil
}

func slice(m [][]int32, lo, hi int) [][]int32 {
	if m == nil {
		return nil
	}
	out := make([][]int32, len(m))
	for i, r := range m {
		if r != nil {
			out[i] = r[lo:hi]
		}
	}
	return out
}

// chunk is how many steps Run runs between reads: it bounds the samples held at once.
const chunk = 1024

// Run runs a vector on a device — its network loaded as Image builds it, a probe on every
// compared field of every core, the inputs injected ahead — and compares every value at every
// step, and every effective weight, into res.
func Run(ctx context.Context, dev device.Device, v *Vector, res *Result) error {
	img, err := Image(v, dev.Size())
	if err != nil {
		return err
	}
	return RunImage(ctx, dev, v, img, res)
}

// RunImage is Run with the vector's network built otherwise (by the mapper from a network
// description, say): img must have the vector's neurons as population 0 and its input as
// input port 0.
func RunImage(ctx context.Context, dev device.Device, v *Vector, img *image.Image, res *Result) error {
	mode, err := syn.ParseSignMode(v.Params.SignMode)
	if err != nil {
		return err
	}
	for n, row := range v.Weights {
		for i, w := range row {
			res.Compared++
			if got := syn.Effective(w, mode, v.Params.WeightBits); got != v.WEff[n][i] {
				res.add(Mismatch{File: res.File, Step: -1 - i, Neuron: n, Field: "weights_effective", Expected: v.WEff[n][i], Actual: got})
			}
		}
	}
	if len(img.Pops) == 0 || img.Pops[0].Size != v.NOut || len(img.Inputs) == 0 || img.Inputs[0].Size != v.NIn {
		return fmt.Errorf("the image does not hold the vector's %d neurons as population 0 and its %d inputs as input 0", v.NOut, v.NIn)
	}
	if err := dev.Load(ctx, img); err != nil {
		return err
	}
	type probe struct {
		field string
		first int // population neuron of the core's neuron 0
	}
	var probes []probe
	state := img.Core(img.Pops[0].Segments[0].Core).Program.State
	for _, seg := range img.Locate(0, 0, v.NOut) {
		neurons := make([]int, seg.Count)
		for i := range neurons {
			neurons[i] = seg.Start + i
		}
		for _, f := range v.Fields {
			name := f
			switch f {
			case "a_in":
				name = chip.NameInput
			case "s":
				name = chip.NameSpike
			}
			field, err := chip.ParseField(name, state)
			if err != nil {
				return err
			}
			id, err := dev.AddProbe(ctx, chip.Probe{Core: seg.Core, Field: field, Neurons: neurons})
			if err != nil {
				return err
			}
			if id != len(probes) {
				return fmt.Errorf("probe %d got index %d", len(probes), id)
			}
			probes = append(probes, probe{f, seg.Offset})
		}
	}
	var in []chip.Spike
	for k, row := range v.Inputs {
		for i, p := range row {
			if p != 0 {
				in = append(in, chip.Spike{Step: uint64(k + 1), Port: 0, Neuron: i, Payload: p})
			}
		}
	}
	if err := dev.Inject(ctx, in); err != nil {
		return err
	}
	var out chip.Output
	for done := 0; done < v.Steps; {
		n := min(chunk, v.Steps-done)
		if err := dev.Run(ctx, n); err != nil {
			return err
		}
		out.Reset()
		if err := dev.Read(ctx, &out); err != nil {
			return err
		}
		if want := n * len(probes); len(out.Samples) != want {
			return fmt.Errorf("steps %d-%d: %d probe samples, want %d", done+1, done+n, len(out.Samples), want)
		}
		for _, s := range out.Samples {
			k := int(s.Step) - 1
			if s.Probe < 0 || s.Probe >= len(probes) || k < done || k >= done+n {
				return fmt.Errorf("a sample of probe %d, step %d, in steps %d-%d", s.Probe, s.Step, done+1, done+n)
			}
			p := probes[s.Probe]
			exp := v.Expect[p.field][k]
			for j, got := range s.Values {
				n := p.first + j
				res.Compared++
				if got != exp[n] {
					res.add(Mismatch{File: res.File, Step: k, Neuron: n, Field: p.field, Expected: exp[n], Actual: got})
				}
			}
		}
		done += n
	}
	return nil
}

func (r *Result) add(m Mismatch) {
	if r.Total < MaxReported {
		r.Mismatches = append(r.Mismatches, m)
	}
	r.Total++
}
