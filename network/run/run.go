package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/firmware/image"
)

// Errors.
var (
	ErrUsage  = errors.New("bad request")      // a probe spec, format or option is malformed or names nothing
	ErrSpikes = errors.New("bad input spikes") // the input spikes cannot be read or do not fit the network
	ErrDevice = errors.New("device error")     // the device failed
)

// Options say what to run.
type Options struct {
	Steps    int            // timesteps to run, at least 1
	Inputs   []Spike        // input spikes, by input port name; any order
	Probes   []ProbeSpec    // fields to record after every step
	Progress func(done int) // called with the steps done so far, when set
	// Sources generate input spikes step by step (a description's Poisson and regular
	// sources, network.Generator): each chunk's spikes are made and injected just before it
	// runs, so a long run never holds them all.
	Sources []Source
	// Loaded says the image is already loaded on the device (lrctl load), which is at step
	// At: Run does not load it, and runs steps At+1, ..., At+Steps, which the result
	// numbers 1, ..., Steps.
	Loaded bool
	At     uint64
	// Chunk is how many steps run between reads of the device's output: longer chunks make
	// fewer round trips to a device in another process, shorter ones report progress more
	// often. Default DefaultChunk.
	Chunk int
}

// DefaultChunk is Options.Chunk's default.
const DefaultChunk = 4096

// Source generates the spikes of an input port, for any range of steps, the same whatever the
// ranges asked (network.Generator is one).
type Source interface {
	PortName() string
	// Spikes calls emit for each spike of steps [lo, hi], in step order.
	Spikes(lo, hi int, emit func(step, neuron int, payload int32))
	// Expected is about how many spikes steps [1, steps] hold.
	Expected(steps int) float64
}

// maxChunkSpikes bounds the generated spikes one chunk holds: the chunk is shortened for
// sources that make more.
const maxChunkSpikes = 1 << 20

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

	// Ignored counts the input spikes for steps after the run's last: they are dropped (a
	// file of input for a longer run can drive a shorter one), and a tool says so.
	Ignored int `json:"-"`
}

type probeSlot struct {
	trace int
	pos   []int // positions in the trace of the device probe's neurons
}

// Run loads the image onto the device, checks the input spikes and probes against it,
// injects the input spikes ahead, runs opts.Steps steps in chunks and collects the output
// spikes and probes. Errors about the inputs or probes wrap ErrSpikes or ErrUsage and come
// before anything runs; device errors wrap ErrDevice. When the device fails or ctx ends
// during the run, Run returns the result of the steps that completed (Steps says how many)
// with the error, so that nothing already computed is lost.
func Run(ctx context.Context, dev device.Device, img *image.Image, opts Options) (*Result, error) {
	if opts.Steps < 1 {
		return nil, fmt.Errorf("run: %w: %d steps, want at least 1", ErrUsage, opts.Steps)
	}
	chunk := opts.Chunk
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	in, ignored, err := schedule(img, opts)
	if err != nil {
		return nil, err
	}
	ports := make([]int, len(opts.Sources))
	perStep := 0.0
	for i, src := range opts.Sources {
		if ports[i] = img.Input(src.PortName()); ports[i] < 0 {
			return nil, fmt.Errorf("run: %w: source of port %q: no input port of that name (%s)", ErrSpikes, src.PortName(), names("input ports", inputNames(img)))
		}
		perStep += src.Expected(opts.Steps) / float64(opts.Steps)
	}
	if perStep*float64(chunk) > maxChunkSpikes {
		chunk = max(1, int(maxChunkSpikes/perStep))
	}
	traces, err := resolveProbes(img, opts.Probes)
	if err != nil {
		return nil, err
	}
	var base uint64 // the device's step before this run's first
	if opts.Loaded {
		base = opts.At
	} else if err := dev.Load(ctx, img); err != nil {
		return nil, fmt.Errorf("run: %w: %w", ErrDevice, err)
	}
	res := &Result{Network: img.Name, Outputs: []Port{}, Spikes: []Spike{}, Probes: []Trace{}, Ignored: ignored}
	for _, o := range img.Outputs {
		res.Outputs = append(res.Outputs, Port{Name: o.Name, Population: img.Pops[o.Pop].Name, Start: o.Start, Count: o.Count})
	}
	var slots []probeSlot
	for ti, t := range traces {
		res.Probes = append(res.Probes, Trace{Population: t.spec.Population, Field: t.spec.Field, Neurons: t.neurons, Values: [][]int32{}})
		for _, core := range t.order {
			id, err := dev.AddProbe(ctx, chip.Probe{Core: core, Field: t.field, Neurons: t.local[core]})
			if err != nil {
				return nil, fmt.Errorf("run: %w: probe %s: %w", ErrDevice, t.spec, err)
			}
			if id != len(slots) {
				hint := ""
				if opts.Loaded {
					hint = " (probes of an earlier run are still on the device: load the image again)"
				}
				return nil, fmt.Errorf("run: %w: probe %s: the device numbered it %d, want %d%s", ErrDevice, t.spec, id, len(slots), hint)
			}
			slots = append(slots, probeSlot{trace: ti, pos: t.pos[core]})
		}
	}
	var out chip.Output
	var batch []chip.Spike
	for done := 0; done < opts.Steps; {
		n := min(chunk, opts.Steps-done)
		// This chunk's input: the file's (in is in step order), then the sources'.
		k := 0
		for k < len(in) && int(in[k].Step) <= done+n {
			k++
		}
		batch = append(batch[:0], in[:k]...)
		in = in[k:]
		for i, src := range opts.Sources {
			size := img.Inputs[ports[i]].Size
			var bad error
			src.Spikes(done+1, done+n, func(step, neuron int, payload int32) {
				if neuron < 0 || neuron >= size || step <= done || step > done+n {
					bad = fmt.Errorf("run: %w: source of port %q made a spike on neuron %d, step %d", ErrSpikes, src.PortName(), neuron, step)
					return
				}
				batch = append(batch, chip.Spike{Step: uint64(step), Port: ports[i], Neuron: neuron, Payload: payload})
			})
			if bad != nil {
				return res, bad
			}
		}
		if len(batch) > 0 {
			slices.SortStableFunc(batch, func(a, b chip.Spike) int { return int(a.Step) - int(b.Step) })
			for i := range batch {
				batch[i].Step += base
			}
			if err := dev.Inject(ctx, batch); err != nil {
				return res, fmt.Errorf("run: %w: %w", ErrDevice, err)
			}
		}
		runErr := dev.Run(ctx, n)
		out.Reset()
		readErr := dev.Read(ctx, &out)
		if base > 0 {
			rebase(&out, base)
		}
		// What the device emitted counts even when it failed: keep the steps that completed.
		got, err := res.collect(img, &out, slots, done)
		if err == nil {
			err = runErr
		}
		if err == nil {
			err = readErr
		}
		if err != nil {
			if len(slots) == 0 {
				// Without probes, the device's clock says how far it got.
				got = max(got, min(int(dev.Time()-min(dev.Time(), base)), done+n))
			}
			res.Steps = got
			if ctx.Err() != nil {
				return res, fmt.Errorf("run: after step %d: %w", got, ctx.Err())
			}
			return res, fmt.Errorf("run: %w: steps %d-%d: %w", ErrDevice, done+1, done+n, err)
		}
		done += n
		res.Steps = done
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
	return res, nil
}

// collect adds a chunk's output to the result and returns the last step it holds complete:
// every step for which each probe has its sample (with no probes, the last spike's step,
// at least done).
func (r *Result) collect(img *image.Image, out *chip.Output, slots []probeSlot, done int) (int, error) {
	for _, s := range out.Spikes {
		if s.Port < 0 || s.Port >= len(img.Outputs) || s.Neuron < 0 || s.Neuron >= img.Outputs[s.Port].Count || s.Step <= uint64(done) {
			return done, fmt.Errorf("run: %w: the device sent a spike on output %d, neuron %d, step %d", ErrDevice, s.Port, s.Neuron, s.Step)
		}
		r.Spikes = append(r.Spikes, Spike{Step: int(s.Step), Port: img.Outputs[s.Port].Name, Neuron: s.Neuron, Payload: s.Payload})
	}
	complete := done
	if len(slots) == 0 {
		if n := len(out.Spikes); n > 0 {
			complete = int(out.Spikes[n-1].Step)
		}
	}
	seen := make([]int, len(slots))
	for _, s := range out.Samples {
		if s.Probe < 0 || s.Probe >= len(slots) || len(s.Values) != len(slots[s.Probe].pos) || s.Step != uint64(done+seen[s.Probe]+1) {
			return done, fmt.Errorf("run: %w: the device sent a sample of probe %d, step %d, with %d values", ErrDevice, s.Probe, s.Step, len(s.Values))
		}
		seen[s.Probe]++
		sl := slots[s.Probe]
		tr := &r.Probes[sl.trace]
		k := int(s.Step) - 1
		for len(tr.Values) <= k {
			tr.Values = append(tr.Values, make([]int32, len(tr.Neurons)))
		}
		for j, v := range s.Values {
			tr.Values[k][sl.pos[j]] = v
		}
	}
	if len(slots) > 0 {
		complete = done + slices.Min(seen)
		for i := range r.Probes {
			r.Probes[i].Values = r.Probes[i].Values[:min(len(r.Probes[i].Values), complete)]
		}
	}
	return complete, nil
}

// schedule checks the input spikes and returns them for the device, in step order, with the
// number of spikes past the last step (left out) and of payloads beyond 24 bits.
func schedule(img *image.Image, opts Options) (out []chip.Spike, ignored int, err error) {
	for i, s := range opts.Inputs {
		bad := func(f string, a ...any) error {
			return fmt.Errorf("run: %w: spike %d (step %d, port %s, neuron %d): %s", ErrSpikes, i+1, s.Step, quote(s.Port), s.Neuron, fmt.Sprintf(f, a...))
		}
		p := img.Input(s.Port)
		switch {
		case p < 0:
			return nil, 0, bad("no input port of that name (%s)", names("input ports", inputNames(img)))
		case s.Step < 1:
			return nil, 0, bad("step %d: steps count from 1", s.Step)
		case s.Neuron < 0 || s.Neuron >= img.Inputs[p].Size:
			return nil, 0, bad("neuron outside [0, %d) of the port", img.Inputs[p].Size)
		case s.Step > opts.Steps:
			ignored++
			continue
		}
		out = append(out, chip.Spike{Step: uint64(s.Step), Port: p, Neuron: s.Neuron, Payload: s.Payload})
	}
	slices.SortStableFunc(out, func(a, b chip.Spike) int { return int(a.Step) - int(b.Step) })
	return out, ignored, nil
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
	field   chip.Field
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
			return nil, bad("no population %s (%s)", quote(sp.Population), names("populations", l))
		}
		pop := img.Pops[pi]
		prog := img.Core(pop.Segments[0].Core).Program
		r := resolved{spec: sp, local: map[int][]int{}, pos: map[int][]int{}}
		f, err := chip.ParseField(sp.Field, prog.State)
		if err != nil {
			return nil, bad("population %q: %v", pop.Name, err)
		}
		r.field = f
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

// rebase numbers a continued run's output from its first step: device step base+k is k
// (anything older is left at 0, which collect refuses).
func rebase(out *chip.Output, base uint64) {
	at := func(s uint64) uint64 {
		if s <= base {
			return 0
		}
		return s - base
	}
	for i := range out.Spikes {
		out.Spikes[i].Step = at(out.Spikes[i].Step)
	}
	for i := range out.Samples {
		out.Samples[i].Step = at(out.Samples[i].Step)
	}
}

// quote is %q of s cut to 64 bytes: an input file's names are not echoed without bound.
func quote(s string) string {
	if len(s) <= 64 {
		return strconv.Quote(s)
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
