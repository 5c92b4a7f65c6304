package run

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Spike is one spike on a named port at a step (counting from 1): an input spike the host
// injects, or an output spike the chip emitted. Neuron is the index within the port.
type Spike struct {
	Step    int    `json:"step"`
	Port    string `json:"port"`
	Neuron  int    `json:"neuron"`
	Payload int32  `json:"payload"`
}

// Format is a file format of spike and result files.
type Format int

// Formats. Auto picks by content (JSON when it starts with '[' or '{').
const (
	Auto Format = iota
	CSV
	JSON
	NPZ // NumPy arrays, for results only (Result.WriteNPZ)
)

func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case JSON:
		return "json"
	case NPZ:
		return "npz"
	}
	return "auto"
}

// ParseFormat reads "csv", "json" or "npz".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return CSV, nil
	case "json":
		return JSON, nil
	case "npz":
		return NPZ, nil
	}
	return Auto, fmt.Errorf("run: %w: format %q, want csv, json or npz", ErrUsage, s)
}

// ResultFormat picks the format of a result file: format when given, else by the file's
// extension (.csv, .json, .npz). An unknown extension without a format is an error, never a
// silent CSV; no file (standard output) is CSV.
func ResultFormat(file, format string) (Format, error) {
	if format != "" {
		return ParseFormat(format)
	}
	if file == "" || file == "-" {
		return CSV, nil
	}
	if f := FormatOf(file); f != Auto {
		return f, nil
	}
	return Auto, fmt.Errorf("run: %w: %s: unknown extension %q: name the file .csv, .json or .npz, or give --format", ErrUsage, file, filepath.Ext(file))
}

// FormatOf returns the format a file name's extension implies: JSON for .json, CSV for .csv,
// NPZ for .npz, Auto otherwise.
func FormatOf(name string) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return JSON
	case ".csv":
		return CSV
	case ".npz":
		return NPZ
	}
	return Auto
}

// MaxSpikesFile bounds the spike files ReadSpikes reads.
const MaxSpikesFile = 512 << 20

// ReadSpikes reads an input spike file (see ParseSpikes) of at most MaxSpikesFile bytes.
func ReadSpikes(r io.Reader, f Format) ([]Spike, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSpikesFile+1))
	if err != nil {
		return nil, fmt.Errorf("run: spikes: %w", err)
	}
	if len(b) > MaxSpikesFile {
		return nil, fmt.Errorf("run: spikes: %w: larger than %d bytes", ErrSpikes, MaxSpikesFile)
	}
	return ParseSpikes(b, f)
}

// ParseSpikes reads input spikes.
//
// CSV: one spike per line, "step,port,neuron[,payload]": the step (from 1) in which the port
// emits the spike (its targets see it in step+1, as for a spike a core emits), the input
// port's name, the neuron within the port, and the payload (default 1; graded connections
// multiply it by the weight, binary ones count 1). A first line "step,port,neuron[,payload]"
// is a header; lines starting with '#' and blank lines are skipped.
//
// JSON: a list of objects {"step": S, "port": "P", "neuron": N, "payload": X}, payload
// optional (default 1).
//
// Errors name the line (CSV) or element (JSON) and wrap ErrSpikes. Ports and ranges are
// checked against the network by Run.
func ParseSpikes(data []byte, f Format) ([]Spike, error) {
	if f == Auto {
		f = CSV
		if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
			f = JSON
		}
	}
	switch f {
	case JSON:
		return parseJSONSpikes(data)
	case NPZ:
		return nil, fmt.Errorf("run: spikes: %w: input spikes are CSV or JSON, not npz", ErrSpikes)
	}
	return parseCSVSpikes(data)
}

func parseCSVSpikes(data []byte) ([]Spike, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var out []Spike
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("run: spikes: %w: line %d: %v", ErrSpikes, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("run: spikes: %w: %v", ErrSpikes, err)
		}
		line, _ := r.FieldPos(0)
		bad := func(f string, a ...any) error {
			return fmt.Errorf("run: spikes: %w: line %d: %s", ErrSpikes, line, fmt.Sprintf(f, a...))
		}
		if first {
			first = false
			if strings.EqualFold(strings.TrimSpace(rec[0]), "step") {
				if len(rec) < 3 || len(rec) > 4 || !strings.EqualFold(strings.TrimSpace(rec[1]), "port") || !strings.EqualFold(strings.TrimSpace(rec[2]), "neuron") ||
					len(rec) == 4 && !strings.EqualFold(strings.TrimSpace(rec[3]), "payload") {
					return nil, bad("header %q, want step,port,neuron[,payload]", strings.Join(rec, ","))
				}
				continue
			}
		}
		if len(rec) < 3 || len(rec) > 4 {
			return nil, bad("%d fields, want step,port,neuron[,payload]", len(rec))
		}
		var s Spike
		var err2 error
		if s.Step, err2 = atoi(rec[0], 1, 1<<31-1); err2 != nil {
			return nil, bad("step: %v", err2)
		}
		s.Port = strings.TrimSpace(rec[1])
		if s.Port == "" {
			return nil, bad("empty port name")
		}
		if s.Neuron, err2 = atoi(rec[2], 0, 1<<31-1); err2 != nil {
			return nil, bad("neuron: %v", err2)
		}
		s.Payload = 1
		if len(rec) == 4 {
			p, err := atoi(rec[3], -1<<31, 1<<31-1)
			if err != nil {
				return nil, bad("payload: %v", err)
			}
			s.Payload = int32(p)
		}
		out = append(out, s)
	}
}

func atoi(s string, lo, hi int64) (int, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d outside [%d, %d]", v, lo, hi)
	}
	return int(v), nil
}

type jsonSpike struct {
	Step    *int   `json:"step"`
	Port    string `json:"port"`
	Neuron  *int   `json:"neuron"`
	Payload *int32 `json:"payload"`
}

func parseJSONSpikes(data []byte) ([]Spike, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw []jsonSpike
	if err := dec.Decode(&raw); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("run: spikes: %w: byte %d: %v", ErrSpikes, se.Offset, se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("run: spikes: %w: byte %d: %s: want %s, got a JSON %s (the file is a list of {\"step\", \"port\", \"neuron\", \"payload\"})", ErrSpikes, te.Offset, fieldOr(te.Field), te.Type, te.Value)
		}
		return nil, fmt.Errorf("run: spikes: %w: %s", ErrSpikes, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("run: spikes: %w: data after the list", ErrSpikes)
	}
	out := make([]Spike, len(raw))
	for i, r := range raw {
		bad := func(f string, a ...any) error {
			return fmt.Errorf("run: spikes: %w: element %d: %s", ErrSpikes, i, fmt.Sprintf(f, a...))
		}
		switch {
		case r.Step == nil:
			return nil, bad("no step")
		case *r.Step < 1:
			return nil, bad("step %d, steps count from 1", *r.Step)
		case r.Port == "":
			return nil, bad("no port")
		case r.Neuron == nil:
			return nil, bad("no neuron")
		case *r.Neuron < 0:
			return nil, bad("neuron %d is negative", *r.Neuron)
		}
		out[i] = Spike{Step: *r.Step, Port: r.Port, Neuron: *r.Neuron, Payload: 1}
		if r.Payload != nil {
			out[i].Payload = *r.Payload
		}
	}
	return out, nil
}

func fieldOr(f string) string {
	if f == "" {
		return "the file"
	}
	return f
}
