package nir

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lrchip/lrchip/network"
)

// Reset says how spiking neurons reset (docs/nir.md, "Reset").
type Reset int

const (
	// ResetAuto follows the file: a node's v_reset where it has one; else, in files of NIR
	// before 1.0.6, subtraction of the threshold (what NIR specified then), and in later files
	// reset to 0 (what the reference reader assumes).
	ResetAuto     Reset = iota
	ResetZero           // every spiking node resets to 0 (Lava's LIF)
	ResetSubtract       // every spiking node subtracts its threshold (snnTorch's and Sinabs' default)
)

// ParseReset reads "auto" (or ""), "zero" or "subtract".
func ParseReset(s string) (Reset, error) {
	switch s {
	case "", "auto":
		return ResetAuto, nil
	case "zero":
		return ResetZero, nil
	case "subtract":
		return ResetSubtract, nil
	}
	return 0, fmt.Errorf("nir: %w: reset %q: want auto, zero or subtract", ErrUsage, s)
}

func (r Reset) String() string {
	switch r {
	case ResetZero:
		return "zero"
	case ResetSubtract:
		return "subtract"
	}
	return "auto"
}

// Opts are the conversion's settings.
type Opts struct {
	// Dt is the time step in seconds. NIR files do not store one (the model is continuous);
	// it must be given, and it should be the dt the model was trained with. Required.
	Dt float64
	// Reset overrides how spiking nodes reset (default ResetAuto: by the file).
	Reset Reset
	// PortNeurons is the most neurons an input port may have: a larger NIR Input becomes
	// ports NAME.0, NAME.1, ... of this size, in C order. lrctl passes the chip's neurons per
	// core; 0 means one port per Input, whatever its size.
	PortNeurons int
	// Name is the network's name (default "nir").
	Name string
	// Limits cap the network's size and the work of building it (zero: the defaults).
	Limits Limits
}

// Import reads a .nir file and converts it: ReadFile, then Convert. The network's name
// defaults to the file's base name. (This is the network.FromNIR; it lives here
// because package network cannot import this one, which builds network.Network values.)
func Import(ctx context.Context, path string, o Opts, ro ReadOpts) (*network.Network, *Report, error) {
	g, err := ReadFile(ctx, path, ro)
	if err != nil {
		return nil, nil, err
	}
	if o.Name == "" {
		o.Name = sanitize(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	}
	return Convert(g, o)
}

type converter struct {
	o       Opts
	g       *Graph
	f       *flat
	err     error
	legacy  bool
	wb      workBudget
	lim     Limits
	sigs    map[int]*signal
	visit   map[int]int // 1 while a linear node's signal is being computed, 2 once done
	stack   []int
	models  map[int]*neuron
	delays  map[int]*delayLine
	popName map[int]string // chip population (or port) name of a spike source
	inPorts map[int][]port // input node → its chip ports
	used    map[string]bool
	outUsed map[string]bool // output port names
	net     *network.Network
	rep     *Report
	syn     int
}

type port struct {
	name   string
	lo, hi int // the NIR input's elements [lo, hi)
}

type delayLine struct {
	steps  int
	relays []string // chip populations, in order; the last is the source for what follows
}

func (c *converter) fail(err error) {
	if c.err == nil && err != nil {
		c.err = err
	}
}

// Convert turns a graph into a network description for the chip, with the report of what the
// conversion did to the numbers. Errors wrap ErrGraph, ErrUnsupported, ErrNumerics, ErrLimit
// or ErrUsage, and name the node at fault (*NodeError) where there is one.
func Convert(g *Graph, o Opts) (*network.Network, *Report, error) {
	if math.IsNaN(o.Dt) || o.Dt <= 0 || o.Dt > 10 {
		return nil, nil, fmt.Errorf("nir: %w: dt = %v s: give the time step the model was trained with (NIR files do not store it), in seconds, e.g. 1e-3", ErrUsage, o.Dt)
	}
	if o.Reset < ResetAuto || o.Reset > ResetSubtract {
		return nil, nil, fmt.Errorf("nir: %w: reset %d", ErrUsage, o.Reset)
	}
	if o.PortNeurons < 0 {
		return nil, nil, fmt.Errorf("nir: %w: port neurons %d", ErrUsage, o.PortNeurons)
	}
	if o.Name == "" {
		o.Name = "nir"
	}
	lim := o.Limits.withDefaults()
	f, err := flatten(g, &lim)
	if err != nil {
		return nil, nil, err
	}
	v, ok := parseVersion(g.Version)
	c := &converter{o: o, g: g, f: f, legacy: !ok || v.less(version{1, 0, 6}), wb: workBudget{left: lim.Work}, lim: lim,
		sigs: map[int]*signal{}, visit: map[int]int{}, models: map[int]*neuron{}, delays: map[int]*delayLine{},
		popName: map[int]string{}, inPorts: map[int][]port{}, used: map[string]bool{}, outUsed: map[string]bool{}}
	c.net = &network.Network{Name: sanitize(o.Name)}
	c.rep = &Report{Network: c.net.Name, Version: g.Version, Dt: o.Dt, Reset: o.Reset.String()}
	for _, step := range []func() error{c.shapes, c.build} {
		if err := step(); err != nil {
			return nil, nil, err
		}
		if c.err != nil {
			return nil, nil, c.err
		}
	}
	if err := c.net.Validate(); err != nil {
		return nil, nil, fmt.Errorf("nir: the converted network does not validate (a bug in the importer): %w", err)
	}
	return c.net, c.rep, nil
}

func (c *converter) versionText() string {
	if c.g.Version == "" {
		return "(no version)"
	}
	return c.g.Version
}

// ---- shapes ----

// shapes finds every node's input and output shape: from the node's own parameters where it
// has them, else from what feeds it; and checks that every edge carries as many values as its
// target takes.
func (c *converter) shapes() error {
	nodes := c.f.nodes
	for _, n := range nodes {
		if err := c.intrinsic(n); err != nil {
			return err
		}
	}
	for pass := 0; pass <= len(nodes); pass++ {
		changed := false
		for _, n := range nodes {
			if n.in == nil && n.kind != kInput {
				for _, p := range n.preds {
					if out := nodes[p].out; out != nil {
						n.in, changed = out, true
						break
					}
				}
			}
			if n.in != nil && n.out == nil {
				if err := c.outOf(n); err != nil {
					return err
				}
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for _, n := range nodes {
		for _, p := range n.preds {
			src := nodes[p]
			if src.out == nil {
				return nodeErr(src.name, ErrGraph, "cannot tell its output shape (it needs an input shape, e.g. input_shape, or a predecessor of known shape)")
			}
			if n.in != nil && size(src.out) != size(n.in) {
				return nodeErr(n.name, ErrGraph, "takes %v (%d values) but %q gives %v (%d values)", n.in, size(n.in), src.name, src.out, size(src.out))
			}
		}
	}
	return nil
}

// intrinsic sets the shapes a node's own parameters give.
func (c *converter) intrinsic(n *fnode) error {
	var err error
	switch n.kind {
	case kInput, kOutput:
		s, ok, e := n.shapeParam("shape")
		if e == nil && !ok {
			s, ok, e = n.shapeParam("input_type")
		}
		if e != nil {
			return e
		}
		if !ok {
			if n.kind == kInput {
				return nodeErr(n.name, ErrGraph, "Input node without a shape dataset")
			}
			return nil
		}
		if n.kind == kInput {
			n.out = s
		} else {
			n.in = s
		}
	case kNeuron:
		var names []string
		switch n.typ() {
		case "LIF":
			names = []string{"tau", "r", "v_leak", "v_threshold", "v_reset"}
		case "LI":
			names = []string{"tau", "r", "v_leak"}
		case "CubaLIF":
			names = []string{"tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"}
		case "CubaLI":
			names = []string{"tau_syn", "tau_mem", "r", "v_leak", "w_in"}
		case "IF":
			names = []string{"r", "v_threshold", "v_reset"}
		case "I", "Integrator":
			names = []string{"r"}
		case "Threshold":
			names = []string{"threshold"}
		}
		n.in, err = n.neuronShape(names...)
		n.out = n.in
	case kDelay:
		d, e := n.param("delay")
		if e != nil {
			return e
		}
		n.in = d.Shape
		if n.in == nil {
			n.in = []int{1}
		}
		n.out = n.in
	case kLinear:
		switch n.typ() {
		case "Input", "Output": // nested ports
			s, ok, e := n.shapeParam("shape")
			if e != nil {
				return e
			}
			if ok {
				n.in = s
			}
		case "Flatten":
			s, ok, e := n.shapeParam("input_type")
			if e != nil {
				return e
			}
			if ok {
				n.in = s
			}
		case "Affine", "Linear":
			w, e := n.param("weight")
			if e != nil {
				return e
			}
			if len(w.Shape) >= 2 {
				n.in = []int{w.Shape[len(w.Shape)-1]}
			}
		case "Scale":
			s, e := n.param("scale")
			if e != nil {
				return e
			}
			n.in = s.Shape
			if n.in == nil {
				n.in = []int{1}
			}
		case "Conv1d", "Conv2d":
			w, e := n.param("weight")
			if e != nil {
				return e
			}
			is, ok, e := n.shapeParam("input_shape")
			if e != nil {
				return e
			}
			g, e := n.ints("groups", 1, []int{1}, 1)
			if e != nil {
				return e
			}
			if ok && len(w.Shape) >= 2 {
				nd := len(w.Shape) - 2
				if len(is) == nd+1 {
					is = is[1:]
				}
				n.in = append([]int{w.Shape[1] * g[0]}, is...)
			}
		}
		if n.in != nil {
			if _, ok := shapeSize(n.in, c.lim.NodeSize); !ok {
				return nodeErr(n.name, ErrLimit, "input %v has more than %d elements", n.in, c.lim.NodeSize)
			}
		}
	}
	return err
}

func (c *converter) outOf(n *fnode) error {
	switch n.kind {
	case kLinear:
		o, err := n.linearOp(n.in, false)
		if err != nil {
			return err
		}
		n.out = o.out
	case kOutput:
		n.out = n.in
	default:
		n.out = n.in
	}
	return nil
}

// ---- signals ----

// output is the signal a node gives: spike sources give their own spikes; a linear node gives
// its operation applied to the sum of its inputs; a delay of zero steps passes its input on.
func (c *converter) output(id int) (*signal, error) {
	n := c.f.nodes[id]
	if n.out == nil {
		return nil, nodeErr(n.name, ErrGraph, "cannot tell its output shape")
	}
	switch n.kind {
	case kInput, kNeuron:
		return sourceSignal(id, size(n.out)), nil
	case kDelay:
		d, err := c.delay(id)
		if err != nil {
			return nil, err
		}
		if d.steps > 0 {
			return sourceSignal(id, size(n.out)), nil
		}
		// a delay of no steps passes its input on, like an identity
	}
	if s, ok := c.sigs[id]; ok {
		return s, nil
	}
	if c.visit[id] == 1 {
		var path []string
		for i := len(c.stack) - 1; i >= 0; i-- {
			path = append(path, c.f.nodes[c.stack[i]].name)
			if c.stack[i] == id {
				break
			}
		}
		for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
			path[i], path[j] = path[j], path[i]
		}
		return nil, nodeErr(n.name, ErrGraph, "a cycle without a neuron or delay on it: %s → %s (no time step separates its values)", strings.Join(path, " → "), n.name)
	}
	c.visit[id] = 1
	c.stack = append(c.stack, id)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()
	x, err := c.input(id)
	if err != nil {
		return nil, err
	}
	o := &op{a: identity(size(n.in)), out: n.in}
	if n.kind == kLinear {
		if o, err = n.linearOp(n.in, true); err != nil {
			return nil, err
		}
	}
	y, err := o.apply(x, n.name, &c.wb)
	if err != nil {
		return nil, err
	}
	c.visit[id] = 2
	c.sigs[id] = y
	return y, nil
}

// input is the sum of what a node's incoming edges carry.
func (c *converter) input(id int) (*signal, error) {
	n := c.f.nodes[id]
	if n.in == nil {
		return nil, nodeErr(n.name, ErrGraph, "cannot tell its input shape")
	}
	var xs []*signal
	for _, p := range n.preds {
		s, err := c.output(p)
		if err != nil {
			return nil, err
		}
		xs = append(xs, s)
	}
	return addSignals(xs, size(n.in), &c.wb)
}

// delay reads a Delay node: one delay for all its elements, a whole number of steps.
func (c *converter) delay(id int) (*delayLine, error) {
	if d, ok := c.delays[id]; ok {
		return d, nil
	}
	n := c.f.nodes[id]
	a, err := n.param("delay")
	if err != nil {
		return nil, err
	}
	first := a.Data[0]
	for _, x := range a.Data {
		if x != first {
			return nil, nodeErr(n.name, ErrUnsupported, "delays differ between elements (%v and %v s); the chip delays a connection's spikes alike", first, x)
		}
	}
	steps := math.Round(first / c.o.Dt)
	if math.IsNaN(steps) || steps < 0 || steps > 1024 {
		return nil, nodeErr(n.name, ErrUnsupported, "delay %v s is not between 0 and 1024 steps of dt = %g s", first, c.o.Dt)
	}
	if math.Abs(steps*c.o.Dt-first) > 1e-6*c.o.Dt+1e-12 {
		c.rep.note("%s: delay %g s is not a whole number of steps of %g s; rounded to %d steps", n.name, first, c.o.Dt, int(steps))
	}
	d := &delayLine{steps: int(steps)}
	c.delays[id] = d
	return d, nil
}
