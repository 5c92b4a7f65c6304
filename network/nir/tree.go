package nir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Caps on what a file may make the importer read or build. A file beyond them gets an error
// wrapping ErrLimit that says which cap and where, before anything of that size is allocated.
const (
	MaxFileSize        = 1 << 30 // bytes of a .nir file
	MaxDepth           = 16      // nested groups in the HDF5 file (a NIR graph nests one group per level, plus two)
	MaxChildren        = 1 << 16 // objects in one group
	MaxDatasetElements = 1 << 24 // elements of one dataset
	MaxTotalElements   = 1 << 25 // elements of all datasets together
	MaxStringLen       = 4096    // bytes of one string (a node name, a type)
	MaxDims            = 8       // dimensions of a dataset or a shape
	// Defaults of Limits, the caps on what one conversion builds.
	MaxNeurons  = 1 << 21 // neurons of the imported network (twice the full chip)
	MaxNodeSize = 1 << 22 // elements of one node's input or output
	MaxSynapses = 1 << 23 // synapses of the imported network, and entries of one expanded node
	MaxWork     = 1 << 26 // multiply-adds spent composing linear nodes
)

// Limits cap what one conversion builds, so that a hostile graph gets an error wrapping
// ErrLimit instead of taking the machine's memory or time; zero fields take the defaults
// (MaxNeurons, MaxNodeSize, MaxSynapses, MaxWork). At the defaults a conversion holds at most
// a few hundred MB; a server importing untrusted files may lower them.
type Limits struct {
	Neurons  int
	NodeSize int
	Synapses int
	Work     int
}

func (l Limits) withDefaults() Limits {
	for _, x := range []struct {
		p   *int
		def int
	}{{&l.Neurons, MaxNeurons}, {&l.NodeSize, MaxNodeSize}, {&l.Synapses, MaxSynapses}, {&l.Work, MaxWork}} {
		if *x.p <= 0 {
			*x.p = x.def
		}
	}
	return l
}

// group and dataset are the HDF5 objects of a NIR file, read whole: what crosses from the
// HDF5 reader (possibly in a child process) to the graph parser. Metadata groups are not read:
// NIR says no backend may rely on them.
type group struct {
	Groups   map[string]*group
	Datasets map[string]*dataset
}

// dataset is a numeric or string dataset: Shape nil is a scalar; Num (numbers, integers exact
// up to 2^53) or Str holds the elements in C order.
type dataset struct {
	Shape  []int
	Num    []float64
	Str    []string
	String bool
}

func (d *dataset) size() int {
	n := 1
	for _, s := range d.Shape {
		n *= s
	}
	return n
}

// shapeSize multiplies dims, failing past limit (or on a negative dim) instead of overflowing.
func shapeSize(dims []int, limit int) (int, bool) {
	if len(dims) > MaxDims {
		return 0, false
	}
	n := 1
	for _, d := range dims {
		if d < 0 || (d > 0 && n > limit/d) {
			return 0, false
		}
		n *= d
	}
	return n, n <= limit
}

func (d *dataset) describe() string {
	kind := "numeric"
	if d.String {
		kind = "string"
	}
	if d.Shape == nil {
		return "scalar " + kind
	}
	s := make([]string, len(d.Shape))
	for i, x := range d.Shape {
		s[i] = fmt.Sprint(x)
	}
	return kind + " [" + strings.Join(s, " x ") + "]"
}

// budget counts elements read against MaxTotalElements.
type budget struct{ left int }

func (b *budget) take(path string, n int) error {
	if n > MaxDatasetElements {
		return fmt.Errorf("nir: %w: dataset %s has %d elements (at most %d)", ErrLimit, path, n, MaxDatasetElements)
	}
	if n > b.left {
		return fmt.Errorf("nir: %w: datasets hold more than %d elements in all (at %s)", ErrLimit, MaxTotalElements, path)
	}
	b.left -= n
	return nil
}

// treeFromJSON builds a tree from JSON, for tests and the fuzzer: an object is a group, a
// string or number a scalar dataset, and nested lists of numbers or of strings a dataset of
// that shape (lists must be rectangular). {"version": "1.0.7", "node": {...}} is a file.
func treeFromJSON(b []byte) (*group, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("nir: %w: json: %v", ErrFormat, err)
	}
	bud := &budget{left: MaxTotalElements}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("nir: %w: json: the file is not an object", ErrFormat)
	}
	return jsonGroup(obj, "/", 0, bud)
}

func jsonGroup(obj map[string]any, path string, depth int, bud *budget) (*group, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("nir: %w: groups nest deeper than %d at %s", ErrLimit, MaxDepth, path)
	}
	if len(obj) > MaxChildren {
		return nil, fmt.Errorf("nir: %w: group %s has %d members (at most %d)", ErrLimit, path, len(obj), MaxChildren)
	}
	g := &group{Groups: map[string]*group{}, Datasets: map[string]*dataset{}}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + k
		if sub, ok := obj[k].(map[string]any); ok {
			if k == "metadata" {
				continue
			}
			c, err := jsonGroup(sub, p+"/", depth+1, bud)
			if err != nil {
				return nil, err
			}
			g.Groups[k] = c
			continue
		}
		d, err := jsonDataset(obj[k], p, bud)
		if err != nil {
			return nil, err
		}
		g.Datasets[k] = d
	}
	return g, nil
}

func jsonDataset(v any, path string, bud *budget) (*dataset, error) {
	d := &dataset{}
	var shape []int
	// Find the shape along the first elements, then check every list against it.
	for x := v; ; {
		l, ok := x.([]any)
		if !ok {
			break
		}
		if len(shape) >= MaxDims {
			return nil, fmt.Errorf("nir: %w: dataset %s has more than %d dimensions", ErrLimit, path, MaxDims)
		}
		shape = append(shape, len(l))
		if len(l) == 0 {
			break
		}
		x = l[0]
	}
	if _, ok := v.([]any); ok {
		d.Shape = shape
	}
	n, ok := shapeSize(shape, MaxDatasetElements)
	if !ok {
		return nil, fmt.Errorf("nir: %w: dataset %s is larger than %d elements", ErrLimit, path, MaxDatasetElements)
	}
	if err := bud.take(path, n); err != nil {
		return nil, err
	}
	var walk func(x any, dim int) error
	walk = func(x any, dim int) error {
		if dim < len(shape) {
			l, ok := x.([]any)
			if !ok || len(l) != shape[dim] {
				return fmt.Errorf("nir: %w: dataset %s is not rectangular", ErrFormat, path)
			}
			for _, e := range l {
				if err := walk(e, dim+1); err != nil {
					return err
				}
			}
			return nil
		}
		switch e := x.(type) {
		case string:
			if len(d.Num) > 0 || len(e) > MaxStringLen {
				return fmt.Errorf("nir: %w: dataset %s mixes strings and numbers or has a string over %d bytes", ErrFormat, path, MaxStringLen)
			}
			d.String = true
			d.Str = append(d.Str, e)
		case json.Number:
			f, err := e.Float64()
			if err != nil && !math.IsInf(f, 0) || d.String {
				return fmt.Errorf("nir: %w: dataset %s: bad number %s", ErrFormat, path, e)
			}
			d.Num = append(d.Num, f)
		default:
			return fmt.Errorf("nir: %w: dataset %s holds a %T", ErrFormat, path, x)
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	return d, nil
}
