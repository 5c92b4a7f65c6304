package nir

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzLimits keeps every fuzz input small enough to run in milliseconds; the caps' own
// behaviour is the same at any size.
var fuzzLimits = Limits{Neurons: 1 << 14, NodeSize: 1 << 14, Synapses: 1 << 16, Work: 1 << 18}

var sentinels = []error{ErrFormat, ErrGraph, ErrUnsupported, ErrNumerics, ErrLimit, ErrUsage}

// checkErr fails unless err is nil or wraps one of the package's sentinels: every failure
// must say what kind it is.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}

func fixtures(t testing.TB) []string {
	a, err := filepath.Glob("testdata/*.nir")
	require.NoError(t, err)
	b, err := filepath.Glob("testdata/paper/*.nir")
	require.NoError(t, err)
	return append(a, b...)
}

// FuzzReadFile: any bytes as a .nir file give a graph and a network, or an error wrapping a
// sentinel (naming the node when it is about one) — never a panic, a hang or an unbounded
// allocation in this process. The HDF5 library runs in the child process ReadFile starts,
// under a memory limit and a timeout, so the HDF5 structures can be as hostile as the fuzzer
// makes them.
func FuzzReadFile(f *testing.F) {
	for _, p := range fixtures(f) {
		if filepath.Base(p) == "cnn_sinabs.nir" {
			continue // large; the small CNN covers the same node types
		}
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		countExec()
		p := filepath.Join(dir, "model.nir")
		require.NoError(t, os.WriteFile(p, b, 0o600))
		g, err := ReadFile(context.Background(), p, ReadOpts{Timeout: 20 * time.Second, MemoryLimit: 256 << 20})
		checkErr(t, err)
		if err != nil {
			return
		}
		_, _, err = Convert(g, Opts{Dt: 1e-3, PortNeurons: 1024, Limits: fuzzLimits})
		checkErr(t, err)
	})
}

// FuzzConvert: any graph (a file's groups and datasets written as JSON, see treeFromJSON)
// converts or fails with an error wrapping a sentinel: wrong shapes, missing datasets, huge
// dimensions, cycles through non-neuron nodes, NaNs, unknown edge ends... This runs the
// parser and converter in process, thousands of times faster than FuzzReadFile.
func FuzzConvert(f *testing.F) {
	for _, p := range fixtures(f) {
		if filepath.Base(p) == "cnn_sinabs.nir" || filepath.Base(p) == "hostile_link_cycle.nir" {
			continue
		}
		tr, err := readHDF5(p)
		require.NoError(f, err)
		f.Add(treeJSON(tr))
	}
	for _, s := range hostileGraphs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		countExec()
		tr, err := treeFromJSON(b)
		checkErr(t, err)
		if err != nil {
			return
		}
		g, err := parseFile(tr)
		checkErr(t, err)
		if err != nil {
			return
		}
		for _, dt := range []float64{1e-3, 1e-4} {
			_, _, err = Convert(g, Opts{Dt: dt, PortNeurons: 256, Limits: fuzzLimits})
			checkErr(t, err)
			var ne *NodeError
			if errors.As(err, &ne) {
				require.NotEmpty(t, ne.Node)
			}
		}
	})
}

// countExec appends a byte to the file $NIR_FUZZ_COUNT, when set, so that a fuzzing run's
// executions can be counted exactly across its worker processes (the fuzzer's own figure is
// sampled).
func countExec() {
	if p := os.Getenv("NIR_FUZZ_COUNT"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			_, _ = f.Write([]byte{1})
			_ = f.Close()
		}
	}
}

// treeJSON writes a tree in treeFromJSON's format.
func treeJSON(g *group) []byte {
	b, err := json.Marshal(jsonValue(g))
	if err != nil {
		panic(err)
	}
	return b
}

func jsonValue(g *group) map[string]any {
	m := map[string]any{}
	for k, sub := range g.Groups {
		m[k] = jsonValue(sub)
	}
	for k, d := range g.Datasets {
		var flat []any
		if d.String {
			for _, s := range d.Str {
				flat = append(flat, s)
			}
		} else {
			for _, x := range d.Num {
				flat = append(flat, x)
			}
		}
		if d.Shape == nil {
			m[k] = flat[0]
			continue
		}
		m[k] = nest(flat, d.Shape)
	}
	return m
}

func nest(flat []any, shape []int) any {
	if len(shape) == 1 {
		if flat == nil {
			return []any{}
		}
		return flat
	}
	n := len(flat) / max(1, shape[0])
	out := make([]any, shape[0])
	for i := range out {
		out[i] = nest(flat[i*n:(i+1)*n], shape[1:])
	}
	return out
}
