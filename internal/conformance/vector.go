package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrVector is wrapped by every error about a malformed vector file.
var ErrVector = errors.New("malformed vector file")

// Vector is one conformance vector file, in the format of ../shared/vectors/lava/README.md
// (kinds "lif", "lifreset") and ../shared/vectors/lava-graded/README.md ("dense_graded", "sdn").
type Vector struct {
	Kind    string
	Steps   int
	NIn     int
	NOut    int
	Params  Params
	Inputs  [][]int32 // [step][input]: payload, 0 = no spike (binary files hold 0/1)
	Graded  bool      // inputs are graded payloads
	Weights [][]int32 // [neuron][input], as given to Lava
	WEff    [][]int32 // weights_effective
	VthEff  *int64    // sdn: vth_effective, when present
	BiasEff []int32   // sdn: bias_effective, when present
	// Expected per-step values, [step][neuron], by field name (a_in, u, v, s, sigma, ...).
	Expect map[string][][]int32
	// Fields lists the names in Expect in the order they are compared.
	Fields []string
}

// Params are the network parameters common to the vector kinds; unused ones are zero.
type Params struct {
	Du, Dv, Vth           int32
	BiasMant, BiasExp     []int32
	U0, V0                []int32
	WeightExp, WeightBits int
	SignMode              string
	ResetInterval         int32
	ResetOffset           int32
	ActMode               string
	CumError              bool
	SpikeExp, StateExp    int32
	Bias                  []int32
}

type rawParams struct {
	Model         string    `json:"model"`
	Kind          string    `json:"kind"`
	Steps         *int      `json:"steps"`
	NIn           *int      `json:"n_in"`
	NOut          *int      `json:"n_out"`
	Du            *int64    `json:"du"`
	Dv            *int64    `json:"dv"`
	Vth           *int64    `json:"vth"`
	BiasMant      []int64   `json:"bias_mant"`
	BiasExp       []int64   `json:"bias_exp"`
	U0            []int64   `json:"u0"`
	V0            []int64   `json:"v0"`
	Weights       [][]int64 `json:"weights"`
	WeightExp     *int64    `json:"weight_exp"`
	NumWeightBits *int64    `json:"num_weight_bits"`
	SignMode      string    `json:"sign_mode"`
	ResetInterval *int64    `json:"reset_interval"`
	ResetOffset   *int64    `json:"reset_offset"`
	ActMode       string    `json:"act_mode"`
	CumError      *bool     `json:"cum_error"`
	SpikeExp      *int64    `json:"spike_exp"`
	StateExp      *int64    `json:"state_exp"`
	Bias          []int64   `json:"bias"`
}

type rawVector struct {
	Kind          string     `json:"kind"`
	Params        *rawParams `json:"params"`
	InputSpikes   [][]int64  `json:"input_spikes"`
	InputPayloads [][]int64  `json:"input_payloads"`
	WEff          [][]int64  `json:"weights_effective"`
	VthEff        *int64     `json:"vth_effective"`
	BiasEff       []int64    `json:"bias_effective"`
	AIn           [][]int64  `json:"a_in"`
	U             [][]int64  `json:"u"`
	V             [][]int64  `json:"v"`
	S             [][]int64  `json:"s"`
	Sigma         [][]int64  `json:"sigma"`
	Act           [][]int64  `json:"act"`
	Residue       [][]int64  `json:"residue"`
	Error         [][]int64  `json:"error"`
}

// Limits on what a vector file may ask for, so that a hostile file cannot make the runner
// allocate without bound.
const (
	MaxSteps   = 1 << 16
	MaxNeurons = 1 << 16
	MaxInputs  = 1 << 12
)

// ParseVector decodes and checks a vector file. Every error names the field at fault.
func ParseVector(data []byte) (*Vector, error) {
	var r rawVector
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVector, err)
	}
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrVector}, a...)...) }
	p := r.Params
	if p == nil {
		return nil, bad("no params")
	}
	v := &Vector{Kind: r.Kind}
	if v.Kind == "" {
		v.Kind = p.Model
	}
	if v.Kind == "" {
		v.Kind = p.Kind
	}
	switch v.Kind {
	case "lif", "lifreset", "dense_graded", "sdn":
	default:
		return nil, bad("unknown kind/model %q (want lif, lifreset, dense_graded or sdn)", v.Kind)
	}
	if p.Steps == nil || p.NIn == nil || p.NOut == nil {
		return nil, bad("params: steps, n_in and n_out are required")
	}
	v.Steps, v.NIn, v.NOut = *p.Steps, *p.NIn, *p.NOut
	if v.Steps < 1 || v.Steps > MaxSteps {
		return nil, bad("params.steps = %d out of range [1, %d]", v.Steps, MaxSteps)
	}
	if v.NIn < 1 || v.NIn > MaxInputs {
		return nil, bad("params.n_in = %d out of range [1, %d]", v.NIn, MaxInputs)
	}
	if v.NOut < 1 || v.NOut > MaxNeurons {
		return nil, bad("params.n_out = %d out of range [1, %d]", v.NOut, MaxNeurons)
	}
	var err error
	scalar := func(name string, x *int64, lo, hi int64) int32 {
		if err != nil {
			return 0
		}
		if x == nil {
			err = bad("params.%s missing", name)
			return 0
		}
		if *x < lo || *x > hi {
			err = bad("params.%s = %d out of range [%d, %d]", name, *x, lo, hi)
			return 0
		}
		return int32(*x)
	}
	vec := func(name string, x []int64, n int) []int32 {
		if err != nil {
			return nil
		}
		if len(x) != n {
			err = bad("%s has %d entries, want %d", name, len(x), n)
			return nil
		}
		out := make([]int32, n)
		for i, e := range x {
			if e < math.MinInt32 || e > math.MaxInt32 {
				err = bad("%s[%d] = %d does not fit in 32 bits", name, i, e)
				return nil
			}
			out[i] = int32(e)
		}
		return out
	}
	mat := func(name string, x [][]int64, rows, cols int) [][]int32 {
		if err != nil {
			return nil
		}
		if len(x) != rows {
			err = bad("%s has %d rows, want %d", name, len(x), rows)
			return nil
		}
		out := make([][]int32, rows)
		for i := range x {
			out[i] = vec(fmt.Sprintf("%s[%d]", name, i), x[i], cols)
		}
		return out
	}
	pp := &v.Params
	pp.WeightExp = int(scalar("weight_exp", p.WeightExp, -16, 15))
	pp.WeightBits = int(scalar("num_weight_bits", p.NumWeightBits, 1, 8))
	pp.SignMode = p.SignMode
	v.Weights = mat("params.weights", p.Weights, v.NOut, v.NIn)
	v.WEff = mat("weights_effective", r.WEff, v.NOut, v.NIn)
	v.Expect = map[string][][]int32{}
	add := func(name string, x [][]int64) {
		v.Expect[name] = mat(name, x, v.Steps, v.NOut)
		v.Fields = append(v.Fields, name)
	}
	add("a_in", r.AIn)
	switch v.Kind {
	case "lif", "lifreset", "dense_graded":
		pp.Du = scalar("du", p.Du, 0, 4095)
		pp.Dv = scalar("dv", p.Dv, 0, 4095)
		pp.Vth = scalar("vth", p.Vth, 0, 1<<17-1)
		pp.BiasMant = vec("params.bias_mant", p.BiasMant, v.NOut)
		pp.BiasExp = vec("params.bias_exp", p.BiasExp, v.NOut)
		pp.U0 = vec("params.u0", p.U0, v.NOut)
		pp.V0 = vec("params.v0", p.V0, v.NOut)
		add("u", r.U)
		add("v", r.V)
		add("s", r.S)
		if v.Kind == "lifreset" {
			pp.ResetInterval = scalar("reset_interval", p.ResetInterval, 1, math.MaxInt32)
			pp.ResetOffset = scalar("reset_offset", p.ResetOffset, 0, math.MaxInt32)
		}
	case "sdn":
		switch p.ActMode {
		case "UNIT", "RELU":
		default:
			return nil, bad("params.act_mode %q (want UNIT or RELU)", p.ActMode)
		}
		if p.CumError == nil {
			return nil, bad("params.cum_error missing")
		}
		pp.ActMode, pp.CumError = p.ActMode, *p.CumError
		pp.SpikeExp = scalar("spike_exp", p.SpikeExp, 0, 16)
		pp.StateExp = scalar("state_exp", p.StateExp, 0, 16)
		pp.Vth = scalar("vth", p.Vth, 0, math.MaxInt32)
		pp.Bias = vec("params.bias", p.Bias, v.NOut)
		if r.BiasEff != nil {
			v.BiasEff = vec("bias_effective", r.BiasEff, v.NOut)
		}
		v.VthEff = r.VthEff
		add("sigma", r.Sigma)
		add("act", r.Act)
		add("residue", r.Residue)
		add("error", r.Error)
		add("s", r.S)
	}
	if v.Kind == "lif" || v.Kind == "lifreset" {
		v.Inputs = mat("input_spikes", r.InputSpikes, v.Steps, v.NIn)
	} else {
		v.Graded = true
		v.Inputs = mat("input_payloads", r.InputPayloads, v.Steps, v.NIn)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
