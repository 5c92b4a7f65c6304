package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/lrchip/lrchip/hostlib"
)

var (
	errRequest  = errors.New("serve: bad request")
	errTooLarge = errors.New("serve: request too large")
)

func bad(f string, a ...any) error {
	return fmt.Errorf("%w: "+f, append([]any{errRequest}, a...)...)
}

// request is an inference request of the Open Inference Protocol.
type request struct {
	ID         string                     `json:"id"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Inputs     []tensor                   `json:"inputs"`
	Outputs    []struct {
		Name       string                     `json:"name"`
		Parameters map[string]json.RawMessage `json:"parameters"`
	} `json:"outputs"`
}

// tensor is an input tensor; its values are decoded into ints or floats.
type tensor struct {
	Name       string                     `json:"name"`
	Shape      []int64                    `json:"shape"`
	Datatype   string                     `json:"datatype"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Data       json.RawMessage            `json:"data"`
	ints       []int64
	floats     []float64
}

// maxElements bounds a tensor's elements (a body over the limit is refused before).
const maxElements = 1 << 28

// parseRequest decodes a request body: JSON, or with the binary tensor data extension a
// JSON header of headerLen bytes followed by the inputs' bytes.
func parseRequest(body []byte, headerLen string) (*request, error) {
	var bin []byte
	if headerLen != "" {
		n, err := strconv.ParseInt(headerLen, 10, 64)
		if err != nil || n < 0 || n > int64(len(body)) {
			return nil, bad("Inference-Header-Content-Length %q: want 0..%d (the body's length)", headerLen, len(body))
		}
		body, bin = body[:n], body[n:]
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, bad("the request's JSON: %v", err)
	}
	if dec.More() {
		return nil, bad("the request's JSON: more after the object")
	}
	if len(req.Inputs) == 0 {
		return nil, bad("no inputs (give %q and/or %q)", "rates", "spikes")
	}
	seen := map[string]bool{}
	for i := range req.Inputs {
		t := &req.Inputs[i]
		if t.Name != "rates" && t.Name != "spikes" {
			return nil, bad("input %d: no input %q (the inputs are %q and %q)", i, t.Name, "rates", "spikes")
		}
		if seen[t.Name] {
			return nil, bad("input %q given twice", t.Name)
		}
		seen[t.Name] = true
		var err error
		if bin, err = t.decode(bin); err != nil {
			return nil, err
		}
	}
	if len(bin) > 0 {
		return nil, bad("%d bytes of binary data that no input claims", len(bin))
	}
	return &req, nil
}

// elements checks the shape and returns its number of elements.
func (t *tensor) elements() (int, error) {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 || d > maxElements {
			return 0, bad("input %q: shape %v", t.Name, t.Shape)
		}
		if n *= d; n > maxElements {
			return 0, bad("input %q: shape %v holds more than %d elements", t.Name, t.Shape, maxElements)
		}
	}
	if len(t.Shape) == 0 {
		return 0, bad("input %q: no shape", t.Name)
	}
	return int(n), nil
}

var sizes = map[string]int{"FP64": 8, "FP32": 4, "INT64": 8, "INT32": 4, "UINT32": 4, "UINT64": 8}

// decode reads the tensor's values from its JSON data or from bin (returning the rest).
func (t *tensor) decode(bin []byte) ([]byte, error) {
	n, err := t.elements()
	if err != nil {
		return bin, err
	}
	float := t.Name == "rates"
	switch {
	case float && t.Datatype != "FP64" && t.Datatype != "FP32":
		return bin, bad("input %q: datatype %q, want FP64 or FP32", t.Name, t.Datatype)
	case !float && (t.Datatype == "FP64" || t.Datatype == "FP32" || sizes[t.Datatype] == 0):
		return bin, bad("input %q: datatype %q, want INT32, INT64, UINT32 or UINT64", t.Name, t.Datatype)
	}
	if raw, ok := t.Parameters["binary_data_size"]; ok {
		var size int64
		if err := json.Unmarshal(raw, &size); err != nil || size < 0 {
			return bin, bad("input %q: binary_data_size %s", t.Name, raw)
		}
		if want := int64(n) * int64(sizes[t.Datatype]); size != want {
			return bin, bad("input %q: binary_data_size %d for %d %s values (%d bytes)", t.Name, size, n, t.Datatype, want)
		}
		if size > int64(len(bin)) {
			return bin, bad("input %q: binary_data_size %d, only %d bytes left in the body", t.Name, size, len(bin))
		}
		t.fromBinary(bin[:size], n)
		return bin[size:], nil
	}
	if len(t.Data) == 0 {
		return bin, bad("input %q: no data", t.Name)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(t.Data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return bin, bad("input %q: data: %v", t.Name, err)
	}
	var flat []json.Number
	if err := flatten(v, &flat, n); err != nil {
		return bin, bad("input %q: data: %v", t.Name, err)
	}
	if len(flat) != n {
		return bin, bad("input %q: %d values for shape %v (%d)", t.Name, len(flat), t.Shape, n)
	}
	for i, x := range flat {
		if float {
			f, err := x.Float64()
			if err != nil {
				return bin, bad("input %q: value %d: %q is not a number", t.Name, i, x)
			}
			t.floats = append(t.floats, f)
		} else {
			k, err := strconv.ParseInt(string(x), 10, 64)
			if err != nil {
				return bin, bad("input %q: value %d: %q is not an integer", t.Name, i, x)
			}
			t.ints = append(t.ints, k)
		}
	}
	return bin, nil
}

// flatten appends the numbers of nested arrays in row-major order, at most limit of them.
func flatten(v any, out *[]json.Number, limit int) error {
	switch x := v.(type) {
	case json.Number:
		if len(*out) >= limit {
			return fmt.Errorf("more values than the shape holds")
		}
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			if err := flatten(e, out, limit); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%T where a number or an array is due", v)
	}
	return nil
}

func (t *tensor) fromBinary(b []byte, n int) {
	le := binary.LittleEndian
	for i := range n {
		switch t.Datatype {
		case "FP64":
			t.floats = append(t.floats, math.Float64frombits(le.Uint64(b[8*i:])))
		case "FP32":
			t.floats = append(t.floats, float64(math.Float32frombits(le.Uint32(b[4*i:]))))
		case "INT64":
			t.ints = append(t.ints, int64(le.Uint64(b[8*i:])))
		case "UINT64":
			u := le.Uint64(b[8*i:])
			t.ints = append(t.ints, int64(min(u, math.MaxInt64)))
		case "INT32":
			t.ints = append(t.ints, int64(int32(le.Uint32(b[4*i:]))))
		case "UINT32":
			t.ints = append(t.ints, int64(le.Uint32(b[4*i:])))
		}
	}
}

func (r *request) input(name string) *tensor {
	for i := range r.Inputs {
		if r.Inputs[i].Name == name {
			return &r.Inputs[i]
		}
	}
	return nil
}

func (r *request) uintParam(name string) (uint64, bool, error) {
	raw, ok := r.Parameters[name]
	if !ok {
		return 0, false, nil
	}
	var v uint64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, bad("parameter %q: %s is not a non-negative integer", name, raw)
	}
	return v, true, nil
}

// inputs turns the request's tensors into one hostlib request per sample, all of the same
// number of windows.
func (r *request) inputs(m *hostlib.Model) ([]hostlib.Input, error) {
	info := m.Info()
	rates, spikes := r.input("rates"), r.input("spikes")
	windows, haveWindows, err := r.uintParam("windows")
	if err != nil {
		return nil, err
	}
	if haveWindows && (windows < 1 || windows > uint64(info.MaxWindows)) {
		return nil, fmt.Errorf("%w: parameter \"windows\" %d, want 1..%d", hostlib.ErrInput, windows, info.MaxWindows)
	}
	seed, _, err := r.uintParam("seed")
	if err != nil {
		return nil, err
	}
	b, rows := -1, 0
	if rates != nil {
		sh := rates.Shape
		if sh[len(sh)-1] != int64(info.Inputs) || len(sh) > 3 {
			return nil, bad("input \"rates\": shape %v, want [B, %d], [B, K, %d] or [%d]", sh, info.Inputs, info.Inputs, info.Inputs)
		}
		switch len(sh) {
		case 1:
			b, rows = 1, 1
		case 2:
			b, rows = int(sh[0]), 1
		case 3:
			b, rows = int(sh[0]), int(sh[1])
		}
	}
	if spikes != nil {
		sh := spikes.Shape
		if len(sh) != 2 || (sh[1] != 3 && sh[1] != 4) {
			return nil, bad("input \"spikes\": shape %v, want [S, 4] (sample, step, neuron, payload) or [S, 3] (step, neuron, payload)", sh)
		}
		if sh[1] == 3 {
			if b > 1 {
				return nil, bad("input \"spikes\" of shape [S, 3] for %d samples: give [S, 4] with the sample first", b)
			}
			b = 1
		} else if b < 0 {
			b = 1
			for i := 0; i < len(spikes.ints); i += 4 {
				if s := spikes.ints[i]; s >= 0 && s < MaxBatch {
					b = max(b, int(s)+1)
				}
			}
		}
	}
	switch {
	case b == 0:
		return nil, bad("no samples (the batch dimension is 0)")
	case b > MaxBatch:
		return nil, bad("%d samples, at most %d", b, MaxBatch)
	}
	batch := make([]hostlib.Input, b)
	for i := range batch {
		batch[i] = hostlib.Input{Seed: seed, Windows: int(windows)}
		if rates != nil {
			per := rows * info.Inputs
			batch[i].Rates = rates.floats[i*per : (i+1)*per]
		}
	}
	if spikes != nil {
		w := int(spikes.Shape[1])
		for k := 0; k < len(spikes.ints); k += w {
			v, sample := spikes.ints[k:k+w], int64(0)
			if w == 4 {
				sample, v = v[0], v[1:]
			}
			switch {
			case sample < 0 || sample >= int64(b):
				return nil, fmt.Errorf("%w: spike %d: sample %d of %d", hostlib.ErrInput, k/w, sample, b)
			case v[0] < 0 || v[0] > math.MaxUint32 || v[1] < 0 || v[1] > math.MaxUint32:
				return nil, fmt.Errorf("%w: spike %d: step %d, neuron %d: want 0..2^32-1", hostlib.ErrInput, k/w, v[0], v[1])
			case v[2] < math.MinInt32 || v[2] > math.MaxInt32:
				return nil, fmt.Errorf("%w: spike %d: payload %d outside int32", hostlib.ErrInput, k/w, v[2])
			}
			batch[sample].Spikes = append(batch[sample].Spikes, hostlib.Spike{Step: uint32(v[0]), Neuron: uint32(v[1]), Payload: int32(v[2])})
		}
	}
	// One number of windows for all samples, so that the outputs are [B, K, ...].
	if !haveWindows {
		k := 1
		for i, in := range batch {
			n, err := m.Check(in)
			if err != nil {
				return nil, fmt.Errorf("sample %d: %w", i, err)
			}
			k = max(k, n)
		}
		for i := range batch {
			batch[i].Windows = k
		}
	}
	for i, in := range batch {
		if _, err := m.Check(in); err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
	}
	return batch, nil
}

// wanted is an output to send.
type wanted struct {
	name   string
	binary bool
}

func boolParam(p map[string]json.RawMessage, name string) (bool, error) {
	raw, ok := p[name]
	if !ok {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, bad("parameter %q: %s is not a boolean", name, raw)
	}
	return v, nil
}

// wanted lists the outputs to send: those named, else all three.
func (r *request) wanted() ([]wanted, error) {
	all, err := boolParam(r.Parameters, "binary_data_output")
	if err != nil {
		return nil, err
	}
	if len(r.Outputs) == 0 {
		return []wanted{{"class", all}, {"scores", all}, {"counts", all}}, nil
	}
	var out []wanted
	seen := map[string]bool{}
	for _, o := range r.Outputs {
		if o.Name != "class" && o.Name != "scores" && o.Name != "counts" {
			return nil, bad("no output %q (the outputs are \"class\", \"scores\" and \"counts\")", o.Name)
		}
		if seen[o.Name] {
			return nil, bad("output %q asked for twice", o.Name)
		}
		seen[o.Name] = true
		b, err := boolParam(o.Parameters, "binary_data")
		if err != nil {
			return nil, err
		}
		out = append(out, wanted{o.Name, b || all})
	}
	return out, nil
}
