package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
)

// Errors.
var (
	ErrUsage  = errors.New("bad request")      // a probe spec, format or option is malformed or names nothing
	ErrSpikes = errors.New("bad input spikes") // the input spikes cannot be read or do not fit the network
	ErrDevice = errors.New("device error")     // the device failed
)

// Device is what Run needs of a chip: the in-process emulator (Emu) today, a board through
// the driver later. Ports, cores and neurons are the chip's: input port i is the image's input
// i, and output ports are the image's output blocks in order (image.Image.OutputBlocks), as
// emu.Chip.LoadImage numbers them.
type Device interface {
	LoadImage(img *image.Image) error
	Inject(port, neuron int, payload int32) error
	Step() error
	Output(port int, dst []emu.Spike) ([]emu.Spike, error)
	AddProbe(core int, f emu.Field, neurons []int) (int, error)
	ProbeData(probe int) ([][]int32, error)
	Close() error
}

// Emu is the in-process emulator as a Device.
type Emu struct{ *emu.Chip }

// NewEmu returns an emulated chip of the given size (zero: the prototype).
func NewEmu(size emu.Size) (*Emu, error) {
	c, err := emu.New(emu.Opts{Size: size})
	if err != nil {
		return nil, err
	}
	return &Emu{c}, nil
}

// Step runs one timestep.
func (e *Emu) Step() error { e.Chip.Step(); return nil }

// Close does nothing: the emulator holds only memory.
func (e *Emu) Close() error { return nil }

// Options say what to run.
type Options struct {
	Steps    int            // timesteps to run, at least 1
	Inputs   []Spike        // input spikes, by input port name; any order
	Probes   []ProbeSpec    // fields to record after every step
	Progress func(done int) // called after each step, when set
}

// Port describes an output port of the result.
type Port struct {
	Name       string `json:"name"`
	Population string `json:"population"`
	Start      int    `json:"start"` // port neuron j is population neuron Start+j
	Count      int    `json:"count"`
}

// Trace is what one probe recorded: Values[step-1][i] is the field of population neuron
// Neurons[i] after step.
type Trace struct {
	Population string    `json:"population"`
	Field      string    `json:"field"`
	Neurons    []int     `json:"neurons"`
	Values     [][]int32 `json:"values"`
}

// Name is "POPULATION:FIELD".
func (t *Trace) Name() string { return t.Population + ":" + t.Field }

// Result is what a run produced: the output spikes, ordered by step, port and neuron, and the
// probed traces.
type Result struct {
	Network string  `json:"network,omitempty"`
	Steps   int     `json:"steps"`
	Outputs []Port  `json:"outputs"`
	Spikes  []Spike `json:"spikes"`
	Probes  []Trace `json:"probes"`
}

type probeSlot struct {
	trace int
	id    int   // device probe
	pos   []int // positions in the trace of the device probe's neurons
}

// Run loads the image onto the device (which must be blank), checks the input spikes and
// probes against it, runs opts.Steps steps — injecting each step's input spikes before it —
// and collects the output spikes and probes. Errors about the inputs or probes wrap ErrSpikes
// or ErrUsage and come before anything runs; device errors wrap ErrDevice. The context is
// checked between steps.
func Run(ctx context.Context, dev Device, img *image.Image, opts Options) (*Result, error) {
	if opts.Steps < 1 {
		return nil, fmt.Errorf("run: %w: %d steps, want at least 1", ErrUsage, opts.Steps)
	}
	byStep, err := schedule(img, opts)
	if err != nil {
		return nil, err
	}
	traces, err := resolveProbes(img, opts.Probes)
	if err != nil {
		return nil, err
	}
	if err := dev.LoadImage(img); err != nil {
		return nil, fmt.Errorf("run: %w: %w", ErrDevice, err)
	}
	res := &Result{Network: img.Name, Steps: opts.Steps, Outputs: []Port{}, Spikes: []Spike{}, Probes: []Trace{}}
	type outBlock struct {
		port int
		off  int
	}
	var blocks []outBlock // by chip output port
	for i, o := range img.Outputs {
		res.Outputs = append(res.Outputs, Port{Name: o.Name, Population: img.Pops[o.Pop].Name, Start: o.Start, Count: o.Count})
		for _, b := range img.OutputBlocks(i) {
			blocks = append(blocks, outBlock{port: i, off: b.Offset})
		}
	}
	var slots []probeSlot
	for ti, t := range traces {
		res.Probes = append(res.Probes, Trace{Population: t.spec.Population, Field: t.spec.Field, Neurons: t.neurons})
		for _, core := range t.order {
			id, err := dev.AddProbe(core, t.field, t.local[core])
			if err != nil {
				return nil, fmt.Errorf("run: %w: probe %s: %w", ErrDevice, t.spec, err)
			}
			slots = append(slots, probeSlot{trace: ti, id: id, pos: t.pos[core]})
		}
	}
	var buf []emu.Spike
	for step := 1; step <= opts.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("run: step %d: %w", step, err)
		}
		for _, s := range byStep[step] {
			if err := dev.Inject(s.port, s.neuron, s.payload); err != nil {
				return nil, fmt.Errorf("run: %w: step %d: %w", ErrDevice, step, err)
			}
		}
		if err := dev.Step(); err != nil {
			return nil, fmt.Errorf("run: %w: step %d: %w", ErrDevice, step, err)
		}
		for cp, b := range blocks {
			if buf, err = dev.Output(cp, buf[:0]); err != nil {
				return nil, fmt.Errorf("run: %w: step %d: %w", ErrDevice, step, err)
			}
			name := img.Outputs[b.port].Name
			for _, s := range buf {
				res.Spikes = append(res.Spikes, Spike{Step: step, Port: name, Neuron: b.off + int(s.Neuron), Payload: s.Payload})
			}
		}
		if opts.Progress != nil {
			opts.Progress(step)
		}
	}
	for _, sl := range slots {
		rows, err := dev.ProbeData(sl.id)
		if err != nil {
			return nil, fmt.Errorf("run: %w: probe %s: %w", ErrDevice, traces[sl.trace].spec, err)
		}
		tr := &res.Probes[sl.trace]
		if tr.Values == nil {
			tr.Values = make([][]int32, len(rows))
			for i := range tr.Values {
				tr.Values[i] = make([]int32, len(tr.Neurons))
			}
		}
		for i, row := range rows {
			if i >= len(tr.Values) || len(row) != len(sl.pos) {
				return nil, fmt.Errorf("run: %w: probe %s returned %d rows of %d, want %d of %d", ErrDevice, traces[sl.trace].spec, len(rows), len(row), len(tr.Values), len(sl.pos))
			}
			for j, v := range row {
				tr.Values[i][sl.pos[j]] = v
			}
		}
	}
	return res, nil
}

type injection struct {
	port, neuron int
	payload      int32
}

// schedule checks the input spikes and groups them by step.
func schedule(img *image.Image, opts Options) (map[int][]injection, error) {
	out := map[int][]injection{}
	for i, s := range opts.Inputs {
		bad := func(f string, a ...any) error {
			return fmt.Errorf("run: %w: spike %d (step %d, port %q, neuron %d): %s", ErrSpikes, i+1, s.Step, s.Port, s.Neuron, fmt.Sprintf(f, a...))
		}
		p := img.Input(s.Port)
		switch {
		case p < 0:
			return nil, bad("no input port of that name (%s)", names("input ports", inputNames(img)))
		case s.Step < 1 || s.Step > opts.Steps:
			return nil, bad("step outside [1, %d] (the run's steps)", opts.Steps)
		case s.Neuron < 0 || s.Neuron >= img.Inputs[p].Size:
			return nil, bad("neuron outside [0, %d) of the port", img.Inputs[p].Size)
		}
		out[s.Step] = append(out[s.Step], injection{port: p, neuron: s.Neuron, payload: s.Payload})
	}
	return out, nil
}

func inputNames(img *image.Image) []string {
	var s []string
	for _, in := range img.Inputs {
		s = append(s, in.Name)
	}
	return s
}

func names(what string, l []string) string {
	if len(l) == 0 {
		return "the network has no " + what
	}
	return "have " + strings.Join(l, ", ")
}

type resolved struct {
	spec    ProbeSpec
	field   emu.Field
	neurons []int
	order   []int         // cores, in order of first use
	local   map[int][]int // per core, the core neurons to probe
	pos     map[int][]int // per core, their positions in neurons
}

func resolveProbes(img *image.Image, specs []ProbeSpec) ([]resolved, error) {
	var out []resolved
	for _, sp := range specs {
		bad := func(f string, a ...any) error {
			return fmt.Errorf("run: probe %s: %w: %s", sp, ErrUsage, fmt.Sprintf(f, a...))
		}
		pi := img.Pop(sp.Population)
		if pi < 0 {
			var l []string
			for _, p := range img.Pops {
				l = append(l, p.Name)
			}
			return nil, bad("no population %q (%s)", sp.Population, names("populations", l))
		}
		pop := img.Pops[pi]
		prog := img.Core(pop.Segments[0].Core).Program
		r := resolved{spec: sp, local: map[int][]int{}, pos: map[int][]int{}}
		switch sp.Field {
		case "a", "input":
			r.field = emu.Field{Kind: emu.FieldInput}
		case "spike":
			r.field = emu.Field{Kind: emu.FieldSpike}
		default:
			k := prog.StateIndex(sp.Field)
			if k < 0 {
				return nil, bad("no field %q: population %q has state %s, and a (input) and spike", sp.Field, pop.Name, strings.Join(prog.State, ", "))
			}
			r.field = emu.Field{Kind: emu.FieldState, Index: k}
		}
		r.neurons = sp.Neurons
		if r.neurons == nil {
			r.neurons = make([]int, pop.Size)
			for i := range r.neurons {
				r.neurons[i] = i
			}
		}
		r.neurons = slices.Clone(r.neurons)
		starts := make([]int, len(pop.Segments))
		for i, pos := 0, 0; i < len(pop.Segments); i++ {
			starts[i] = pos
			pos += pop.Segments[i].Count
		}
		for j, n := range r.neurons {
			if n < 0 || n >= pop.Size {
				return nil, bad("neuron %d outside population %q of %d", n, pop.Name, pop.Size)
			}
			si := sort.Search(len(starts), func(i int) bool { return starts[i] > n }) - 1
			seg := pop.Segments[si]
			if _, ok := r.local[seg.Core]; !ok {
				r.order = append(r.order, seg.Core)
			}
			r.local[seg.Core] = append(r.local[seg.Core], seg.Start+n-starts[si])
			r.pos[seg.Core] = append(r.pos[seg.Core], j)
		}
		out = append(out, r)
	}
	return out, nil
}
