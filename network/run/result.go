package run

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"codeberg.org/sbinet/npyio/npy"
)

// Write writes the result in CSV, JSON or NPZ (Auto: CSV).
func (r *Result) Write(w io.Writer, f Format) error {
	switch f {
	case JSON:
		return r.WriteJSON(w)
	case NPZ:
		return r.WriteNPZ(w)
	}
	return r.WriteCSV(w)
}

// marshal is json.Marshal without HTML escaping, the one JSON style of lrchip's tools.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // plain data: cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// traceJSON is a Trace in JSON: one row per step, carrying its step.
type traceJSON struct {
	Population string    `json:"population"`
	Field      string    `json:"field"`
	Neurons    []int     `json:"neurons"`
	Rows       []rowJSON `json:"rows"`
}

type rowJSON struct {
	Step   int     `json:"step"`
	Values []int32 `json:"values"`
}

// MarshalJSON writes {"population", "field", "neurons", "rows": [{"step", "values"}]}.
func (t Trace) MarshalJSON() ([]byte, error) {
	j := traceJSON{Population: t.Population, Field: t.Field, Neurons: nonNil(t.Neurons), Rows: []rowJSON{}}
	for i, v := range t.Values {
		j.Rows = append(j.Rows, rowJSON{Step: i + 1, Values: nonNil(v)})
	}
	return marshal(j), nil
}

// UnmarshalJSON reads what MarshalJSON writes; rows must be steps 1, 2, ... in order.
func (t *Trace) UnmarshalJSON(b []byte) error {
	var j traceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*t = Trace{Population: j.Population, Field: j.Field, Neurons: j.Neurons, Values: make([][]int32, len(j.Rows))}
	for i, r := range j.Rows {
		if r.Step != i+1 {
			return fmt.Errorf("run: probe %s:%s: row %d is step %d, want %d", j.Population, j.Field, i, r.Step, i+1)
		}
		t.Values[i] = r.Values
	}
	return nil
}

// WriteCSV writes one row per output spike and per probed value, ordered by step, with the
// header "step,kind,name,neuron,value":
//
//	step,kind,name,neuron,value
//	3,spike,out,5,1            an output spike: port "out", port neuron 5, payload 1
//	3,probe,exc:v,5,-1200      a probed value: population "exc", field v, population neuron 5
func (r *Result) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("step,kind,name,neuron,value\n")
	var b []byte
	si := 0
	for step := 1; step <= r.Steps; step++ {
		for ; si < len(r.Spikes) && r.Spikes[si].Step <= step; si++ {
			s := r.Spikes[si]
			b = strconv.AppendInt(b[:0], int64(s.Step), 10)
			b = append(b, ",spike,"...)
			b = append(b, s.Port...)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(s.Neuron), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(s.Payload), 10)
			bw.Write(append(b, '\n'))
		}
		for _, t := range r.Probes {
			if step > len(t.Values) {
				continue
			}
			for j, n := range t.Neurons {
				b = strconv.AppendInt(b[:0], int64(step), 10)
				b = append(b, ",probe,"...)
				b = append(b, t.Name()...)
				b = append(b, ',')
				b = strconv.AppendInt(b, int64(n), 10)
				b = append(b, ',')
				b = strconv.AppendInt(b, int64(t.Values[step-1][j]), 10)
				bw.Write(append(b, '\n'))
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("run: write csv: %w", err)
	}
	return nil
}

// WriteJSON writes the Result as one JSON object (its field names), one spike and one probe
// row per line, each row with its step:
//
//	{"network": "hello", "steps": 20,
//	 "outputs": [{"name": "out", "population": "exc", "start": 0, "count": 8}],
//	 "spikes": [{"step": 3, "port": "out", "neuron": 5, "payload": 1}, ...],
//	 "probes": [{"population": "exc", "field": "v", "neurons": [0, 1],
//	             "rows": [{"step": 1, "values": [0, 12]}, ...]}]}
func (r *Result) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := func(v any) { bw.Write(marshal(v)) }
	bw.WriteString("{\n  \"network\": ")
	enc(r.Network)
	fmt.Fprintf(bw, ",\n  \"steps\": %d,\n  \"outputs\": ", r.Steps)
	enc(nonNil(r.Outputs))
	bw.WriteString(",\n  \"spikes\": [")
	for i, s := range r.Spikes {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		enc(s)
	}
	if len(r.Spikes) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n  \"probes\": [")
	for i, t := range r.Probes {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    {\"population\": ")
		enc(t.Population)
		bw.WriteString(", \"field\": ")
		enc(t.Field)
		bw.WriteString(", \"neurons\": ")
		enc(nonNil(t.Neurons))
		bw.WriteString(", \"rows\": [")
		for j, row := range t.Values {
			if j > 0 {
				bw.WriteByte(',')
			}
			fmt.Fprintf(bw, "\n      {\"step\": %d, \"values\": ", j+1)
			enc(nonNil(row))
			bw.WriteByte('}')
		}
		bw.WriteString("]}")
	}
	if len(r.Probes) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("run: write json: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteNPZ writes the result as a NumPy .npz archive (numpy.load reads it) of int32 arrays:
//
//	steps                 [steps]: 1, 2, ..., the step of each row below
//	spikes/PORT           [steps][port neurons]: the payload of each output spike, 0 where none
//	probe/POP/FIELD       [steps][probed neurons]: the probed values
//	neurons/POP/FIELD     [probed neurons]: the population neuron of each column
//
// A probe of the same field twice gets the names of the second with "#2" appended.
func (r *Result) WriteNPZ(w io.Writer) error {
	z := zip.NewWriter(w)
	put := func(name string, v any) error {
		f, err := z.Create(name + ".npy")
		if err != nil {
			return err
		}
		return npy.Write(f, v)
	}
	fail := func(err error) error { return fmt.Errorf("run: write npz: %w", err) }
	steps := make([]int32, r.Steps)
	for i := range steps {
		steps[i] = int32(i + 1)
	}
	if err := put("steps", steps); err != nil {
		return fail(err)
	}
	idx := map[string]int{}
	grids := make([][][]int32, len(r.Outputs))
	for i, o := range r.Outputs {
		idx[o.Name] = i
		grids[i] = grid(r.Steps, o.Count)
	}
	for _, s := range r.Spikes {
		if i, ok := idx[s.Port]; ok && s.Step >= 1 && s.Step <= r.Steps && s.Neuron >= 0 && s.Neuron < r.Outputs[i].Count {
			grids[i][s.Step-1][s.Neuron] = s.Payload
		}
	}
	for i, o := range r.Outputs {
		if err := put("spikes/"+o.Name, grids[i]); err != nil {
			return fail(err)
		}
	}
	seen := map[string]int{}
	for _, t := range r.Probes {
		name := t.Population + "/" + t.Field
		seen[name]++
		if seen[name] > 1 {
			name += fmt.Sprintf("#%d", seen[name])
		}
		g := grid(r.Steps, len(t.Neurons))
		for i, row := range t.Values {
			if i < r.Steps {
				copy(g[i], row)
			}
		}
		neurons := make([]int32, len(t.Neurons))
		for i, n := range t.Neurons {
			neurons[i] = int32(n)
		}
		if err := put("probe/"+name, g); err != nil {
			return fail(err)
		}
		if err := put("neurons/"+name, neurons); err != nil {
			return fail(err)
		}
	}
	if err := z.Close(); err != nil {
		return fail(err)
	}
	return nil
}

// grid makes a steps×n array; with n = 0 its rows are empty (NumPy reads shape (steps, 0)).
func grid(steps, n int) [][]int32 {
	flat := make([]int32, steps*n)
	g := make([][]int32, steps)
	for i := range g {
		g[i] = flat[i*n : (i+1)*n : (i+1)*n]
	}
	return g
}
