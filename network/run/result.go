package run

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Write writes the result in CSV or JSON (Auto: CSV).
func (r *Result) Write(w io.Writer, f Format) error {
	if f == JSON {
		return r.WriteJSON(w)
	}
	return r.WriteCSV(w)
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
// row per line:
//
//	{"network": "hello", "steps": 20,
//	 "outputs": [{"name": "out", "population": "exc", "start": 0, "count": 8}],
//	 "spikes": [{"step": 3, "port": "out", "neuron": 5, "payload": 1}, ...],
//	 "probes": [{"population": "exc", "field": "v", "neurons": [0, 1], "values": [[0, 12], ...]}]}
func (r *Result) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := func(v any) {
		b, _ := json.Marshal(v) // plain data: cannot fail
		bw.Write(b)
	}
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
		bw.WriteString(", \"values\": [")
		for j, row := range t.Values {
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n      ")
			enc(nonNil(row))
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
