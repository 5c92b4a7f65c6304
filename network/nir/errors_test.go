package nir

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Helpers that write NIR graphs in treeFromJSON's format.

type obj = map[string]any

func file(version string, g obj) []byte {
	f := obj{"node": g}
	if version != "" {
		f["version"] = version
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

func graph(nodes obj, edges ...[2]string) obj {
	e := []any{}
	for _, x := range edges {
		e = append(e, []any{x[0], x[1]})
	}
	return obj{"type": "NIRGraph", "nodes": nodes, "edges": e}
}

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func input(shape ...int) obj  { return obj{"type": "Input", "shape": shape} }
func output(shape ...int) obj { return obj{"type": "Output", "shape": shape} }

func lif(n int, tau, vth float64) obj {
	return obj{"type": "LIF", "tau": fill(n, tau), "r": fill(n, 1), "v_leak": fill(n, 0), "v_threshold": fill(n, vth), "v_reset": fill(n, 0)}
}

func affine(w [][]float64) obj {
	return obj{"type": "Affine", "weight": w, "bias": fill(len(w), 0)}
}

func eye(n int, v float64) [][]float64 {
	w := make([][]float64, n)
	for i := range w {
		w[i] = fill(n, 0)
		w[i][i] = v
	}
	return w
}

// chain is Input(n) → nodes... → Output, named in order.
func chain(n int, names []string, nodes ...obj) obj {
	all := obj{"input": input(n), "output": output(n)}
	var edges [][2]string
	prev := "input"
	for i, x := range nodes {
		all[names[i]] = x
		edges = append(edges, [2]string{prev, names[i]})
		prev = names[i]
	}
	edges = append(edges, [2]string{prev, "output"})
	return graph(all, edges...)
}

func convertJSON(t *testing.T, b []byte, o Opts) error {
	t.Helper()
	tr, err := treeFromJSON(b)
	if err != nil {
		return err
	}
	g, err := parseFile(tr)
	if err != nil {
		return err
	}
	_, _, err = Convert(g, o)
	return err
}

var hostileGraphs []string

type errCase struct {
	name     string
	file     []byte
	dt       float64
	sentinel error
	node     string // the node the error names; "" when it is about the file or an edge
	msg      string
}

func errCases() []errCase {
	huge := obj{"type": "Conv2d", "weight": [][][][]float64{{{{1}}}}, "bias": []float64{0}, "stride": 1, "padding": 0,
		"dilation": 1, "groups": 1, "input_shape": []int{4000, 4000}}
	nested := func(depth int) obj {
		g := chain(1, []string{"lif"}, lif(1, 1e-2, 1))
		for i := 0; i < depth; i++ {
			g = graph(obj{"input": input(1), "sub": g, "output": output(1)}, [2]string{"input", "sub"}, [2]string{"sub", "output"})
		}
		return g
	}
	return []errCase{
		{"no node group", []byte(`{"version": "1.0.7"}`), 0, ErrFormat, "", "no /node group"},
		{"unknown type", file("1.0.7", chain(1, []string{"x"}, obj{"type": "Izhikevich", "a": 0.02})), 0, ErrUnsupported, "x", `type "Izhikevich"`},
		{"type is not a string", file("1.0.7", chain(1, []string{"x"}, obj{"type": 3.0})), 0, ErrGraph, "x", "type is a"},
		{"missing dataset", file("1.0.7", chain(1, []string{"lif"}, obj{"type": "LIF", "r": []float64{1}, "v_leak": []float64{0}, "v_threshold": []float64{1}})), 0, ErrGraph, "lif", "without the tau dataset"},
		{"parameters of different shapes", file("1.0.7", chain(2, []string{"lif"}, obj{"type": "LIF", "tau": fill(2, 1e-2), "r": fill(2, 1), "v_leak": fill(2, 0), "v_threshold": fill(3, 1)})), 0, ErrGraph, "lif", "v_threshold has shape [3] but tau has [2]"},
		{"weight of the wrong shape", file("1.0.7", chain(2, []string{"a", "lif"}, affine([][]float64{{1, 2, 3}, {4, 5, 6}}), lif(2, 1e-2, 1))), 0, ErrGraph, "a", "takes [3] (3 values) but \"input\" gives [2]"},
		{"neurons of the wrong size", file("1.0.7", chain(2, []string{"a", "lif"}, affine(eye(2, 1)), lif(3, 1e-2, 1))), 0, ErrGraph, "lif", "takes [3]"},
		{"huge input shape", file("1.0.7", chain(1, []string{"lif"}, lif(1, 1e-2, 1))[`nodes`].(obj)["input"].(obj)), 0, ErrFormat, "", ""}, // replaced below
		{"huge convolution", file("1.0.7", graph(obj{"input": input(1, 4000, 4000), "conv": huge, "lif": lif(1, 1e-2, 1)}, [2]string{"input", "conv"}, [2]string{"conv", "lif"})), 0, ErrLimit, "conv", "more than"},
		{"cycle through non-neuron nodes", file("1.0.7", graph(obj{"input": input(2), "a": affine(eye(2, 1)), "s": obj{"type": "Scale", "scale": fill(2, 1)}, "lif": lif(2, 1e-2, 1)},
			[2]string{"input", "a"}, [2]string{"a", "s"}, [2]string{"s", "a"}, [2]string{"s", "lif"})), 0, ErrGraph, "", "a cycle without a neuron or delay on it"},
		{"edge to an unknown node", file("1.0.7", graph(obj{"input": input(1), "lif": lif(1, 1e-2, 1)}, [2]string{"input", "lyf"})), 0, ErrGraph, "", `no node "lyf"`},
		{"edge into an Input", file("1.0.7", graph(obj{"input": input(1), "lif": lif(1, 1e-2, 1)}, [2]string{"lif", "input"})), 0, ErrGraph, "input", "leads into this Input"},
		{"delay of weighted sums", file("1.0.7", chain(2, []string{"a", "dly", "lif"}, affine([][]float64{{1, 1}, {0, 1}}), obj{"type": "Delay", "delay": fill(2, 2e-4)}, lif(2, 1e-2, 1))), 0, ErrUnsupported, "dly", "delays weighted sums"},
		{"delays that differ", file("1.0.7", chain(2, []string{"dly", "lif"}, obj{"type": "Delay", "delay": []float64{1e-4, 2e-4}}, lif(2, 1e-2, 1))), 0, ErrUnsupported, "dly", "delays differ"},
		{"leaky integrator feeding a layer", file("1.0.7", chain(1, []string{"li", "a", "lif"}, obj{"type": "LI", "tau": []float64{1e-2}, "r": []float64{1}, "v_leak": []float64{0}}, affine(eye(1, 1)), lif(1, 1e-2, 1))), 0, ErrUnsupported, "lif", "a voltage, not spikes"},
		{"tau below dt", file("1.0.7", chain(1, []string{"lif"}, lif(1, 1e-5, 1))), 0, ErrNumerics, "lif", "shorter than dt"},
		{"tau zero", file("1.0.7", chain(1, []string{"lif"}, lif(1, 0, 1))), 0, ErrNumerics, "lif", "must be positive"},
		{"negative threshold", file("1.0.7", chain(1, []string{"lif"}, lif(1, 1e-2, -1))), 0, ErrNumerics, "lif", "thresholds are 0 ≤ v"},
		{"threshold beyond 17 bits", file("1.0.7", chain(1, []string{"lif"}, lif(1, 1e-2, 1000))), 0, ErrNumerics, "lif", "v_threshold = 1000"},
		{"weight beyond the largest exponent", file("1.0.7", chain(1, []string{"a", "lif"}, affine([][]float64{{1e9}}), lif(1, 1e-2, 1))), 0, ErrNumerics, "lif", "more than 8 bits"},
		{"not a number", file("1.0.7", chain(1, []string{"a", "lif"}, obj{"type": "Linear", "weight": [][]any{{"x"}}}, lif(1, 1e-2, 1))), 0, ErrGraph, "a", "is a string"},
		{"nested graph with two inputs", file("1.0.7", graph(obj{"input": input(1), "sub": graph(obj{"i1": input(1), "i2": input(1), "lif": lif(1, 1e-2, 1)}, [2]string{"i1", "lif"}, [2]string{"i2", "lif"})},
			[2]string{"input", "sub"})), 0, ErrGraph, "", "has 2 Input nodes"},
		{"output reading an input", file("1.0.7", graph(obj{"input": input(1), "output": output(1), "lif": lif(1, 1e-2, 1)}, [2]string{"input", "output"})), 0, ErrUnsupported, "output", "reads input"},
		{"no neurons", file("1.0.7", graph(obj{"input": input(1), "a": affine(eye(1, 1))}, [2]string{"input", "a"})), 0, ErrUnsupported, "", "no neuron nodes"},
		{"edges of the wrong shape", file("1.0.7", obj{"type": "NIRGraph", "nodes": obj{"lif": lif(1, 1e-2, 1)}, "edges": []any{"lif", "lif", "lif"}}), 0, ErrGraph, "(top graph)", "edges is a"},
		{"3-D weight", file("1.0.7", chain(2, []string{"a", "lif"}, obj{"type": "Linear", "weight": [][][]float64{{{1, 0}, {0, 1}}}}, lif(2, 1e-2, 1))), 0, ErrUnsupported, "a", "only 2-D weights"},
		{"padding same with stride 2", file("1.0.7", graph(obj{"input": input(1, 4, 4), "conv": obj{"type": "Conv2d", "weight": [][][][]float64{{{{1, 1}, {1, 1}}}}, "bias": []float64{0}, "stride": 2, "padding": "same", "dilation": 1, "groups": 1}, "lif": lif(16, 1e-2, 1)},
			[2]string{"input", "conv"}, [2]string{"conv", "lif"})), 0, ErrGraph, "conv", `padding "same" with stride`},
		{"pool larger than its input", file("1.0.7", graph(obj{"input": input(1, 2, 2), "pool": obj{"type": "SumPool2d", "kernel_size": []int{3, 3}, "stride": []int{1, 1}, "padding": []int{0, 0}}, "lif": lif(1, 1e-2, 1)},
			[2]string{"input", "pool"}, [2]string{"pool", "lif"})), 0, ErrGraph, "pool", "does not fit input"},
		{"flatten beyond the input's dimensions", file("1.0.7", chain(4, []string{"fl", "lif"}, obj{"type": "Flatten", "start_dim": 0, "end_dim": 3, "input_type": []int{4}}, lif(4, 1e-2, 1))), 0, ErrGraph, "fl", "flattens dimensions 0..3"},
		{"graphs nested too deep", file("1.0.7", nested(MaxDepth+1)), 0, ErrLimit, "", "nest deeper"},
		{"dt missing", file("1.0.7", chain(1, []string{"lif"}, lif(1, 1e-2, 1))), -1, ErrUsage, "", "give the time step"},
	}
}

func init() {
	for _, c := range errCases() {
		hostileGraphs = append(hostileGraphs, string(c.file))
	}
}

// TestErrorsNameTheNode: hostile and malformed graphs get an error that wraps the right
// sentinel and names the node at fault.
func TestErrorsNameTheNode(t *testing.T) {
	cases := errCases()
	// a dimension beyond the caps: a tiny dataset that asks for a giant Input
	cases[7].file = file("1.0.7", graph(obj{"input": input(100000, 100000), "lif": lif(1, 1e-2, 1)}, [2]string{"input", "lif"}))
	cases[7].sentinel, cases[7].node, cases[7].msg = ErrLimit, "input", "more than"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dt := 1e-4
			if c.dt != 0 {
				dt = max(c.dt, 0)
			}
			err := convertJSON(t, c.file, Opts{Dt: dt})
			require.Error(t, err)
			require.ErrorIs(t, err, c.sentinel, "%v", err)
			require.ErrorContains(t, err, c.msg)
			var ne *NodeError
			if c.node != "" {
				require.True(t, errors.As(err, &ne), "a NodeError: %v", err)
				require.Equal(t, c.node, ne.Node)
				require.Contains(t, err.Error(), `node "`+c.node+`"`)
			}
		})
	}
}

func TestNaNIsRefused(t *testing.T) {
	// JSON has no NaN: build the graph and set it.
	b := file("1.0.7", chain(1, []string{"a", "lif"}, affine([][]float64{{1}}), lif(1, 1e-2, 1)))
	tr, err := treeFromJSON(b)
	require.NoError(t, err)
	tr.Groups["node"].Groups["nodes"].Groups["a"].Datasets["weight"].Num[0] = math.NaN()
	g, err := parseFile(tr)
	require.NoError(t, err)
	_, _, err = Convert(g, Opts{Dt: 1e-4})
	require.ErrorIs(t, err, ErrNumerics)
	var ne *NodeError
	require.ErrorAs(t, err, &ne)
	require.Equal(t, "lif", ne.Node)
}
