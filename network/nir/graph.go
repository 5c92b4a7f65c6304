package nir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Graph is a NIR graph as a file stores it: nodes by name and edges between them. A node of
// type NIRGraph holds a nested graph.
type Graph struct {
	Version string // the file's /version; "" when it has none (set on the top graph only)
	Nodes   map[string]*Node
	Edges   []Edge
}

// Edge says that the output of node From is an input of node To. A name may be "graph.node"
// for a node inside a nested graph; a name that exists literally is taken literally first.
type Edge struct{ From, To string }

// Node is one node: its type ("LIF", "Affine", ...), its parameter datasets by name, and for a
// NIRGraph node the nested graph.
type Node struct {
	Name   string
	Type   string
	Params map[string]*Array
	Graph  *Graph
}

// Array is a parameter: numbers in C order with their shape (Shape nil: a scalar), or a
// scalar string (Conv padding "same").
type Array struct {
	Shape []int
	Data  []float64
	Str   string
	IsStr bool
}

// Size is the number of elements.
func (a *Array) Size() int {
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	return n
}

// Names returns the node names in sorted order.
func (g *Graph) Names() []string {
	names := make([]string, 0, len(g.Nodes))
	for k := range g.Nodes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// parseFile turns the file's tree into its graph: /version (a string) and /node (a NIRGraph).
func parseFile(t *group) (*Graph, error) {
	root, ok := t.Groups["node"]
	if !ok {
		return nil, fmt.Errorf("nir: %w: no /node group (is this a NIR file?)", ErrFormat)
	}
	version := ""
	if v, ok := t.Datasets["version"]; ok {
		if !v.String || len(v.Str) != 1 {
			return nil, fmt.Errorf("nir: %w: /version is a %s, want a string", ErrFormat, v.describe())
		}
		version = strings.TrimSpace(v.Str[0])
	}
	n, err := parseNode("", root, 0)
	if err != nil {
		return nil, err
	}
	if n.Type != "NIRGraph" {
		return nil, fmt.Errorf("nir: %w: /node is a %s, want a NIRGraph", ErrFormat, n.Type)
	}
	n.Graph.Version = version
	return n.Graph, nil
}

func parseNode(name string, g *group, depth int) (*Node, error) {
	display := name
	if display == "" {
		display = "(top graph)"
	}
	td, ok := g.Datasets["type"]
	if !ok {
		return nil, nodeErr(display, ErrGraph, "no type dataset")
	}
	if !td.String || len(td.Str) != 1 {
		return nil, nodeErr(display, ErrGraph, "type is a %s, want a string", td.describe())
	}
	n := &Node{Name: name, Type: td.Str[0], Params: map[string]*Array{}}
	if n.Type != "NIRGraph" {
		for k, d := range g.Datasets {
			if k == "type" {
				continue
			}
			a := &Array{Shape: d.Shape, Data: d.Num}
			if d.String {
				if len(d.Str) != 1 || d.Shape != nil {
					return nil, nodeErr(display, ErrGraph, "parameter %s is a %s; NIR parameters are numbers or one string", k, d.describe())
				}
				a.Str, a.IsStr, a.Data = d.Str[0], true, nil
			}
			n.Params[k] = a
		}
		return n, nil
	}
	if depth >= MaxDepth {
		return nil, nodeErr(display, ErrLimit, "graphs nest deeper than %d", MaxDepth)
	}
	ng, ok := g.Groups["nodes"]
	if !ok {
		return nil, nodeErr(display, ErrGraph, "a NIRGraph without a nodes group")
	}
	n.Graph = &Graph{Nodes: map[string]*Node{}}
	prefix := ""
	if name != "" {
		prefix = name + "."
	}
	for k, sub := range ng.Groups {
		if k == "" {
			return nil, nodeErr(display, ErrGraph, "holds a node with an empty name")
		}
		c, err := parseNode(prefix+k, sub, depth+1)
		if err != nil {
			return nil, err
		}
		c.Name = k
		n.Graph.Nodes[k] = c
	}
	if len(ng.Datasets) > 0 {
		for k := range ng.Datasets {
			return nil, nodeErr(display, ErrGraph, "nodes holds a dataset %q, want only groups", k)
		}
	}
	e, ok := g.Datasets["edges"]
	if !ok {
		return nil, nodeErr(display, ErrGraph, "a NIRGraph without an edges dataset")
	}
	switch {
	case e.size() == 0:
	case !e.String || len(e.Shape) != 2 || e.Shape[1] != 2:
		return nil, nodeErr(display, ErrGraph, "edges is a %s, want strings [n x 2]", e.describe())
	default:
		for i := 0; i < e.Shape[0]; i++ {
			n.Graph.Edges = append(n.Graph.Edges, Edge{From: e.Str[2*i], To: e.Str[2*i+1]})
		}
	}
	return n, nil
}

// version is a NIR version number; files without one are the oldest.
type version [3]int

// parseVersion reads "1.0.6", "0.2.0", "1.0.8.dev9+g7232ada": the first three numbers.
func parseVersion(s string) (version, bool) {
	var v version
	parts := strings.SplitN(s, ".", 4)
	if len(parts) < 2 {
		return v, false
	}
	for i := 0; i < 3 && i < len(parts); i++ {
		p := parts[i]
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		x, err := strconv.Atoi(p[:end])
		if err != nil || x > 1<<20 {
			return v, i > 1
		}
		v[i] = x
	}
	return v, true
}

func (v version) less(w version) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}
