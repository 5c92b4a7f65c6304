package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Network is a network description: populations of neurons running a neuron program, input
// ports the host injects spikes into, connections, and output ports whose spikes the host
// reads. Everything is referred to by name.
type Network struct {
	Name string `json:"name,omitempty"`
	// Seed seeds every pseudo-random part of the description that has no seed of its own:
	// connection rules, spike sources and generated values (docs/description.md says how).
	Seed        uint64       `json:"seed,omitempty"`
	Inputs      []Input      `json:"inputs,omitempty"`
	Populations []Population `json:"populations"`
	Connections []Connection `json:"connections,omitempty"`
	Outputs     []Output     `json:"outputs,omitempty"`

	// Dir is the folder that relative SourceFile paths are read from; Load sets it to the
	// description file's folder. Empty means the working directory.
	Dir string `json:"-"`
}

// Input is an input port: Size virtual neurons whose spikes the host injects, from a file
// given to the run and, when Source is set, from a generator.
type Input struct {
	Name   string  `json:"name"`
	Size   int     `json:"size"`
	Source *Source `json:"source,omitempty"`
}

// Population is a group of Size neurons running one neuron program, given by exactly one of
// Program (the name of a standard program: lif, lif_reset, ternary_lif, sigma_delta, alif,
// rf), Source (assembly text) or SourceFile (an assembly file, relative to Network.Dir).
// Consts sets every constant the program declares, by name. Params and State set per-neuron
// parameters and initial state registers by name, each one value for all neurons or one per
// neuron; those not given are zero.
type Population struct {
	Name       string            `json:"name"`
	Size       int               `json:"size"`
	Program    string            `json:"program,omitempty"`
	Source     string            `json:"source,omitempty"`
	SourceFile string            `json:"source_file,omitempty"`
	Consts     map[string]int32  `json:"consts,omitempty"`
	Params     map[string]Values `json:"params,omitempty"`
	State      map[string]Values `json:"state,omitempty"`
}

// Connection joins every neuron of From (a population or an input port) to the neurons of
// To (a population) with synapses given by exactly one of Weights (dense), Sparse or Rule
// (a connection rule, with Weights one weight for every synapse it makes; see Rule). Its
// settings are Lava Dense's: SignMode ("MIXED", the default, "EXCITATORY" or "INHIBITORY"),
// WeightBits (num_weight_bits, 1..8; 0 means 8), WeightExp (−16..15: the summed input is
// shifted left by it, or right when negative) and Graded (weight × payload; otherwise every
// spike counts as 1). Weights must lie in the sign mode's range ([−256, 255], [0, 255] or
// [−255, 0]); the chip then keeps their top WeightBits bits.
type Connection struct {
	Name    string  `json:"name,omitempty"` // default "FROM->TO"
	From    string  `json:"from"`
	To      string  `json:"to"`
	Weights *Matrix `json:"weights,omitempty"`
	Sparse  *Sparse `json:"sparse,omitempty"`
	Rule    *Rule   `json:"rule,omitempty"` // synapses made by a rule; Weights is then one weight for all

	SignMode   string `json:"sign_mode,omitempty"`
	WeightBits int    `json:"num_weight_bits,omitempty"`
	WeightExp  int    `json:"weight_exp,omitempty"`
	Graded     bool   `json:"graded,omitempty"`
}

// Output is an output port: neurons [Start, Start+Count) of a population (Count 0: to the end
// of it). Its neuron j is population neuron Start+j.
type Output struct {
	Name       string `json:"name,omitempty"` // default: the population's name
	Population string `json:"population"`
	Start      int    `json:"start,omitempty"`
	Count      int    `json:"count,omitempty"`
}

// Sparse lists synapses: synapse k joins source neuron Pre[k] to target neuron Post[k] with
// weight Weights (one value for all synapses, or one per synapse). A (pre, post) pair may
// appear once.
type Sparse struct {
	Pre     []int  `json:"pre"`
	Post    []int  `json:"post"`
	Weights Values `json:"weights"`
}

// Values is a per-neuron (or per-synapse) value: one value for all (Each nil: All), one per
// neuron (Each), or, for parameters and state, drawn per neuron (Uniform). In a file it is a
// number, a list of numbers, or {uniform: [LO, HI], seed: S}.
type Values struct {
	All     int32
	Each    []int32
	Uniform *Uniform
}

// Uniform draws one value per neuron, uniformly from [Lo, Hi], from the population's stream of
// Seed (default: the network's seed); see docs/description.md. [-2147483648, 2147483647]
// gives every neuron a 32-bit seed for the rand instruction.
type Uniform struct {
	Lo, Hi int32
	Seed   *uint64
}

// uniformJSON is Uniform's form in a file.
type uniformJSON struct {
	Uniform []json.Number `json:"uniform"`
	Seed    *uint64       `json:"seed,omitempty"`
}

// All returns Values giving v to every neuron.
func All(v int32) Values { return Values{All: v} }

// Each returns Values giving vs[i] to neuron i.
func Each(vs ...int32) Values { return Values{Each: vs} }

// At returns the value of neuron i (for Uniform: 0; the description's compile draws them).
func (v Values) At(i int) int32 {
	if v.Each != nil {
		return v.Each[i]
	}
	return v.All
}

// MarshalJSON writes a number (All), a list (Each) or the generator (Uniform).
func (v Values) MarshalJSON() ([]byte, error) {
	if v.Uniform != nil {
		return json.Marshal(uniformJSON{Uniform: []json.Number{json.Number(strconv.Itoa(int(v.Uniform.Lo))), json.Number(strconv.Itoa(int(v.Uniform.Hi)))}, Seed: v.Uniform.Seed})
	}
	if v.Each != nil {
		return json.Marshal(v.Each)
	}
	return json.Marshal(v.All)
}

// UnmarshalJSON reads a number or a list of numbers, each a 32-bit signed integer, or
// {"uniform": [LO, HI], "seed": S}.
func (v *Values) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var u uniformJSON
		if err := strictUnmarshal(b, &u); err != nil {
			return fmt.Errorf("want {uniform: [LO, HI], seed: S}: %w", err)
		}
		if len(u.Uniform) != 2 {
			return fmt.Errorf("uniform: want [LO, HI], got %d numbers", len(u.Uniform))
		}
		lo, err := int32Of(u.Uniform[0])
		if err != nil {
			return fmt.Errorf("uniform: %w", err)
		}
		hi, err := int32Of(u.Uniform[1])
		if err != nil {
			return fmt.Errorf("uniform: %w", err)
		}
		if lo > hi {
			return fmt.Errorf("uniform: [%d, %d] is empty", lo, hi)
		}
		*v = Values{Uniform: &Uniform{Lo: lo, Hi: hi, Seed: u.Seed}}
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var raw []json.Number
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("want a number or a list of numbers, got %s", abbrev(b))
		}
		each := make([]int32, len(raw))
		for i, r := range raw {
			x, err := int32Of(r)
			if err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
			each[i] = x
		}
		*v = Values{Each: each}
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a number or a list of numbers, got %s", abbrev(b))
	}
	x, err := int32Of(n)
	if err != nil {
		return err
	}
	*v = Values{All: x}
	return nil
}

// Matrix is a dense weight matrix, [post][pre] as Lava's Dense: one row per neuron of the
// target population, one column per source neuron. Rows nil means every weight is All. In a
// file it is a number or a list of rows.
type Matrix struct {
	All  int32
	Rows [][]int32
}

// Fill returns a matrix whose weights are all w.
func Fill(w int32) *Matrix { return &Matrix{All: w} }

// Rows returns the matrix with the given rows, [post][pre].
func Rows(rows [][]int32) *Matrix { return &Matrix{Rows: rows} }

// At returns the weight from source neuron pre to target neuron post.
func (m *Matrix) At(post, pre int) int32 {
	if m.Rows != nil {
		return m.Rows[post][pre]
	}
	return m.All
}

// MarshalJSON writes a number (All) or a list of rows.
func (m Matrix) MarshalJSON() ([]byte, error) {
	if m.Rows != nil {
		return json.Marshal(m.Rows)
	}
	return json.Marshal(m.All)
}

// UnmarshalJSON reads a number or a list of rows of numbers.
func (m *Matrix) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw [][]json.Number
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("want a number or a list of rows of numbers, got %s", abbrev(b))
		}
		rows := make([][]int32, len(raw))
		for i, r := range raw {
			rows[i] = make([]int32, len(r))
			for j, x := range r {
				v, err := int32Of(x)
				if err != nil {
					return fmt.Errorf("row %d, column %d: %w", i, j, err)
				}
				rows[i][j] = v
			}
		}
		*m = Matrix{Rows: rows}
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a number or a list of rows, got %s", abbrev(b))
	}
	x, err := int32Of(n)
	if err != nil {
		return err
	}
	*m = Matrix{All: x}
	return nil
}

func int32Of(n json.Number) (int32, error) {
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) {
			return 0, fmt.Errorf("%s is not an integer", n)
		}
		if f < math.MinInt32 || f > math.MaxInt32 {
			return 0, fmt.Errorf("%s does not fit in 32 bits", n)
		}
		return int32(f), nil
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		return 0, fmt.Errorf("%s does not fit in 32 bits", n)
	}
	return int32(i), nil
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the value")
	}
	return nil
}
