// Package conformance runs Intel Lava's conformance vectors on a chip and compares every value
// at every step.
package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lrchip/lrchip/emu"
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

// RunFile reads and runs one vector file.
func RunFile(ctx context.Context, path string) *Result {
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
	if err := run(ctx, v, res); err != nil {
		res.Err = fmt.Errorf("%s: %w", path, err)
	}
	return res
}

// Build configures a chip for a vector: the population spread over as many cores as it needs,
// one input port, and one Dense connection from the port to each core. It returns the chip,
// the input port, and the state register each compared field reads (-1 for a_in and s).
func Build(v *Vector, size emu.Size) (*emu.Chip, int, map[string]int, error) {
	chip, err := emu.New(emu.Opts{Size: size})
	if err != nil {
		return nil, 0, nil, err
	}
	mode, err := syn.ParseSignMode(v.Params.SignMode)
	if err != nil {
		return nil, 0, nil, err
	}
	pp := v.Params
	n, err := NeuronsOf(v)
	if err != nil {
		return nil, 0, nil, err
	}
	prog, consts, params, state := n.Program, n.Consts, n.Params, n.State
	port, err := chip.AddInput(v.NIn)
	if err != nil {
		return nil, 0, nil, err
	}
	per := size.NeuronsPerCore
	ncores := (v.NOut + per - 1) / per
	if ncores > size.Cores {
		return nil, 0, nil, fmt.Errorf("%d neurons need %d cores of %d, chip has %d: %w", v.NOut, ncores, per, size.Cores, emu.ErrLimit)
	}
	for c := 0; c < ncores; c++ {
		lo, hi := c*per, min((c+1)*per, v.NOut)
		cfg := emu.CoreConfig{Program: prog, Neurons: hi - lo, Consts: consts,
			Params: slice(params, lo, hi), State: slice(state, lo, hi)}
		if err := chip.SetCore(c, cfg); err != nil {
			return nil, 0, nil, err
		}
		w := make([]int32, 0, v.NIn*(hi-lo))
		for i := 0; i < v.NIn; i++ {
			for n := lo; n < hi; n++ {
				w = append(w, v.Weights[n][i])
			}
		}
		err := chip.Connect(emu.Connection{Kind: emu.FromInput, Src: port, SrcCount: v.NIn,
			Dst: c, DstCount: hi - lo, Weights: w, SignMode: mode,
			WeightBits: pp.WeightBits, WeightExp: pp.WeightExp, Graded: v.Graded})
		if err != nil {
			return nil, 0, nil, err
		}
	}
	regs := map[string]int{}
	for _, f := range v.Fields {
		regs[f] = prog.StateIndex(f)
	}
	return chip, port, regs, nil
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

func slice(m [][]int32, lo, hi int) [][]int32 {
	if m == nil {
		return nil
	}
	out := make([][]int32, len(m))
	for i, r := range m {
		out[i] = r[lo:hi]
	}
	return out
}

func run(ctx context.Context, v *Vector, res *Result) error {
	size := emu.Prototype
	chip, port, regs, err := Build(v, size)
	if err != nil {
		return err
	}
	mode, _ := syn.ParseSignMode(v.Params.SignMode) // Build checked it
	for n, row := range v.Weights {
		for i, w := range row {
			res.Compared++
			if got := syn.Effective(w, mode, v.Params.WeightBits); got != v.WEff[n][i] {
				res.add(Mismatch{File: res.File, Step: -1 - i, Neuron: n, Field: "weights_effective", Expected: v.WEff[n][i], Actual: got})
			}
		}
	}
	per := size.NeuronsPerCore
	for k := 0; k < v.Steps; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, p := range v.Inputs[k] {
			if p != 0 {
				if err := chip.Inject(port, i, p); err != nil {
					return err
				}
			}
		}
		chip.Step()
		for _, f := range v.Fields {
			field := emu.Field{Kind: emu.FieldState, Index: regs[f]}
			switch f {
			case "a_in":
				field = emu.Field{Kind: emu.FieldInput}
			case "s":
				field = emu.Field{Kind: emu.FieldSpike}
			}
			exp := v.Expect[f][k]
			for n := 0; n < v.NOut; n++ {
				got, err := chip.Read(n/per, field, n%per)
				if err != nil {
					return err
				}
				res.Compared++
				if got != exp[n] {
					res.add(Mismatch{File: res.File, Step: k, Neuron: n, Field: f, Expected: exp[n], Actual: got})
				}
			}
		}
	}
	return nil
}

func (r *Result) add(m Mismatch) {
	if r.Total < MaxReported {
		r.Mismatches = append(r.Mismatches, m)
	}
	r.Total++
}
