package nir

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// kind is what a node becomes on the chip.
type kind int

const (
	kInput  kind = iota // a top-level Input: an input port the host sends spikes into
	kOutput             // a top-level Output
	kLinear             // Affine, Linear, Scale, Conv1d/2d, SumPool2d, AvgPool2d, Flatten, nested Input/Output
	kNeuron             // LIF, CubaLIF, IF, LI, CubaLI, I, Threshold: a population
	kDelay              // Delay: a chain of relay populations
)

var kinds = map[string]kind{
	"Input": kInput, "Output": kOutput,
	"Affine": kLinear, "Linear": kLinear, "Scale": kLinear, "Conv1d": kLinear, "Conv2d": kLinear,
	"SumPool2d": kLinear, "AvgPool2d": kLinear, "Flatten": kLinear,
	"LIF": kNeuron, "CubaLIF": kNeuron, "IF": kNeuron, "LI": kNeuron, "CubaLI": kNeuron, "I": kNeuron, "Integrator": kNeuron, "Threshold": kNeuron,
	"Delay": kDelay,
}

// fnode is a node of the flattened graph: nested graphs are dissolved, their Input and Output
// nodes becoming identities.
type fnode struct {
	name    string // qualified: "outer.inner" for a nested node
	node    *Node
	lim     *Limits
	kind    kind
	in, out []int // shapes, once known
	preds   []int // one per incoming edge (a node may appear twice: the inputs add up)
}

func (f *fnode) typ() string { return f.node.Type }

// flat is the flattened graph.
type flat struct {
	nodes  []*fnode
	byName map[string]int
	lim    *Limits
}

type scope struct {
	prefix string
	ids    map[string]int
	subs   map[string]*scope
	ins    []int // nested Input nodes (entered by the graph's name)
	outs   []int // nested Output nodes
}

func flatten(g *Graph, lim *Limits) (*flat, error) {
	f := &flat{byName: map[string]int{}, lim: lim}
	if _, err := f.add(g, "", true); err != nil {
		return nil, err
	}
	if len(f.nodes) > MaxChildren*4 {
		return nil, fmt.Errorf("nir: %w: %d nodes", ErrLimit, len(f.nodes))
	}
	return f, nil
}

func (f *flat) add(g *Graph, prefix string, top bool) (*scope, error) {
	s := &scope{prefix: prefix, ids: map[string]int{}, subs: map[string]*scope{}}
	for _, name := range g.Names() {
		n := g.Nodes[name]
		q := prefix + name
		if n.Type == "NIRGraph" {
			sub, err := f.add(n.Graph, q+".", false)
			if err != nil {
				return nil, err
			}
			s.subs[name] = sub
			continue
		}
		k, known := kinds[n.Type]
		if !known {
			return nil, nodeErr(q, ErrUnsupported, "type %q: the chip runs %s", n.Type, typeList())
		}
		if !top && (k == kInput || k == kOutput) {
			k = kLinear // a nested graph's ports pass values through
		}
		if _, dup := f.byName[q]; dup {
			return nil, nodeErr(q, ErrGraph, "two nodes have this name once nested graphs are flattened (a literal dotted name and a nested node)")
		}
		id := len(f.nodes)
		f.byName[q] = id
		f.nodes = append(f.nodes, &fnode{name: q, node: n, kind: k, lim: f.lim})
		s.ids[name] = id
		switch n.Type {
		case "Input":
			s.ins = append(s.ins, id)
		case "Output":
			s.outs = append(s.outs, id)
		}
	}
	for _, e := range g.Edges {
		src, err := s.resolve(e.From, true)
		if err != nil {
			return nil, fmt.Errorf("nir: %w: edge (%q, %q): %v", ErrGraph, prefix+e.From, prefix+e.To, err)
		}
		dst, err := s.resolve(e.To, false)
		if err != nil {
			return nil, fmt.Errorf("nir: %w: edge (%q, %q): %v", ErrGraph, prefix+e.From, prefix+e.To, err)
		}
		if f.nodes[dst].kind == kInput {
			return nil, nodeErr(f.nodes[dst].name, ErrGraph, "an edge from %q leads into this Input node", f.nodes[src].name)
		}
		if f.nodes[src].kind == kOutput {
			return nil, nodeErr(f.nodes[src].name, ErrGraph, "an edge to %q leaves this Output node", f.nodes[dst].name)
		}
		if len(f.nodes[dst].preds) >= MaxChildren {
			return nil, nodeErr(f.nodes[dst].name, ErrLimit, "more than %d incoming edges", MaxChildren)
		}
		f.nodes[dst].preds = append(f.nodes[dst].preds, src)
	}
	return s, nil
}

// resolve finds the node an edge end names: a node of this graph by its literal name first
// (snnTorch writes dotted names such as "lif1.w_rec"), then a nested graph by its name (its
// one Output as a source, its one Input as a target), then "graph.rest" inside a nested graph.
func (s *scope) resolve(name string, source bool) (int, error) {
	if id, ok := s.ids[name]; ok {
		return id, nil
	}
	if sub, ok := s.subs[name]; ok {
		ports, what := sub.ins, "Input"
		if source {
			ports, what = sub.outs, "Output"
		}
		if len(ports) != 1 {
			return 0, fmt.Errorf("nested graph %q has %d %s nodes; name one as %q", s.prefix+name, len(ports), what, name+".NODE")
		}
		return ports[0], nil
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		if sub, ok := s.subs[name[:i]]; ok {
			if id, err := sub.resolve(name[i+1:], source); err == nil {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("no node %q", s.prefix+name)
}

func typeList() string {
	var l []string
	for k := range kinds {
		l = append(l, k)
	}
	sort.Strings(l)
	return strings.Join(l, ", ") + " (and NIRGraph)"
}

// ---- parameters ----

// param returns a numeric parameter, required.
func (f *fnode) param(name string) (*Array, error) {
	a, ok := f.node.Params[name]
	if !ok {
		return nil, nodeErr(f.name, ErrGraph, "%s node without the %s dataset", f.typ(), name)
	}
	if a.IsStr {
		return nil, nodeErr(f.name, ErrGraph, "%s is a string, want numbers", name)
	}
	if len(a.Data) != a.Size() {
		return nil, nodeErr(f.name, ErrGraph, "%s holds %d values for shape %v", name, len(a.Data), a.Shape)
	}
	return a, nil
}

// optParam returns a numeric parameter or nil when absent.
func (f *fnode) optParam(name string) (*Array, error) {
	if _, ok := f.node.Params[name]; !ok {
		return nil, nil
	}
	return f.param(name)
}

// ints reads a parameter of n integers: a scalar is repeated (PyTorch's stride=1), an array
// must have n entries. lo bounds each value from below.
func (f *fnode) ints(name string, n int, def []int, lo int) ([]int, error) {
	a, ok := f.node.Params[name]
	if !ok {
		if def == nil {
			return nil, nodeErr(f.name, ErrGraph, "%s node without the %s dataset", f.typ(), name)
		}
		return def, nil
	}
	if a.IsStr {
		return nil, nodeErr(f.name, ErrGraph, "%s is %q, want integers", name, a.Str)
	}
	vals := a.Data
	switch {
	case len(vals) == 1:
		vals = repeat(vals[0], n)
	case len(vals) != n:
		return nil, nodeErr(f.name, ErrGraph, "%s has %d values, want 1 or %d", name, len(vals), n)
	}
	out := make([]int, n)
	for i, v := range vals {
		if v != math.Trunc(v) || v < float64(lo) || v > float64(f.lim.NodeSize) {
			return nil, nodeErr(f.name, ErrGraph, "%s = %v: want an integer in [%d, %d]", name, v, lo, f.lim.NodeSize)
		}
		out[i] = int(v)
	}
	return out, nil
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// shapeParam reads a shape stored as a 1-D integer dataset (Input/Output "shape", Flatten
// "input_type", Conv "input_shape"), or a scalar.
func (f *fnode) shapeParam(name string) ([]int, bool, error) {
	a, ok := f.node.Params[name]
	if !ok {
		return nil, false, nil
	}
	if a.IsStr || len(a.Shape) > 1 || len(a.Data) > MaxDims || len(a.Data) == 0 {
		return nil, false, nodeErr(f.name, ErrGraph, "%s is not a shape (a short list of positive integers)", name)
	}
	s := make([]int, len(a.Data))
	for i, v := range a.Data {
		if v != math.Trunc(v) || v < 1 || v > float64(f.lim.NodeSize) {
			return nil, false, nodeErr(f.name, ErrLimit, "%s has dimension %v: want an integer in [1, %d]", name, v, f.lim.NodeSize)
		}
		s[i] = int(v)
	}
	if _, ok := shapeSize(s, f.lim.NodeSize); !ok {
		return nil, false, nodeErr(f.name, ErrLimit, "%s %v has more than %d elements", name, s, f.lim.NodeSize)
	}
	return s, true, nil
}

// neuronShape returns the shape a neuron's parameters share; a parameter with one value is
// broadcast to every neuron.
func (f *fnode) neuronShape(names ...string) ([]int, error) {
	var shape []int
	first, any := "", false
	for _, n := range names {
		a, err := f.optParam(n)
		if err != nil {
			return nil, err
		}
		if a == nil {
			continue
		}
		any = true
		if a.Size() == 1 {
			continue
		}
		if first == "" {
			shape, first = a.Shape, n
			continue
		}
		if !sameSize(a.Shape, shape) {
			return nil, nodeErr(f.name, ErrGraph, "%s has shape %v but %s has %v", n, a.Shape, first, shape)
		}
	}
	if !any {
		return nil, nodeErr(f.name, ErrGraph, "%s node without parameters", f.typ())
	}
	if first == "" {
		shape = []int{1}
	}
	if _, ok := shapeSize(shape, f.lim.NodeSize); !ok {
		return nil, nodeErr(f.name, ErrLimit, "%v neurons: more than %d", shape, f.lim.NodeSize)
	}
	return shape, nil
}

// vec returns a neuron parameter for n neurons (one value is broadcast); def is used when the
// parameter is absent, and an absent parameter without def is an error.
func (f *fnode) vec(name string, n int, def *float64) ([]float64, error) {
	a, err := f.optParam(name)
	if err != nil {
		return nil, err
	}
	if a == nil {
		if def == nil {
			return nil, nodeErr(f.name, ErrGraph, "%s node without the %s dataset", f.typ(), name)
		}
		return repeat(*def, n), nil
	}
	switch a.Size() {
	case 1:
		return repeat(a.Data[0], n), nil
	case n:
		return a.Data, nil
	}
	return nil, nodeErr(f.name, ErrGraph, "%s has %d values for %d neurons", name, a.Size(), n)
}

func sameSize(a, b []int) bool {
	x, _ := shapeSize(a, math.MaxInt)
	y, _ := shapeSize(b, math.MaxInt)
	return x == y
}

func size(s []int) int {
	n, _ := shapeSize(s, math.MaxInt)
	return n
}
