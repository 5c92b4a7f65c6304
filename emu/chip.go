package emu

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/internal/kernels"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/syn"
)

// Errors.
var (
	ErrLimit  = errors.New("beyond the chip's limits")
	ErrConfig = errors.New("bad configuration")
)

// ParallelNeurons is the size from which a chip with automatic Workers steps its cores in
// parallel.
const ParallelNeurons = 32768

// Opts configures a chip. The zero value is the prototype.
type Opts struct {
	Size chip.Size // default chip.Prototype
	// Workers is how many goroutines step the cores of a chip in parallel (each phase of a
	// step is split by core and joined at a barrier; the result is bit-identical for any
	// number). 0 means automatic: GOMAXPROCS goroutines once the chip holds at least
	// ParallelNeurons neurons, else one — below that, a step is too short to pay for the
	// hand-offs. 1 steps everything on the calling goroutine; more forces that many.
	Workers int
	// Portable turns off the vector kernels (AVX2 on amd64, picked at run time) and runs the
	// pure-Go interpreter everywhere. Both give the same bits; this is for comparison.
	Portable bool
}

// CoreConfig is what a core runs: a program, its neuron count, constants, parameters and
// initial state. Nil Params or State rows mean zeros.
type CoreConfig struct {
	Program *isa.Program
	Neurons int
	Consts  []int32   // one per constant the program declares
	Params  [][]int32 // [param][neuron]
	State   [][]int32 // [state register][neuron]
}

// SourceKind says where a connection's spikes come from.
type SourceKind uint8

// Source kinds.
const (
	FromCore  SourceKind = iota // neurons of a core
	FromInput                   // an input port (spikes injected by the host)
)

// Connection is a Dense block of synapses from a range of source neurons to a range of
// neurons of one core.
type Connection struct {
	Kind     SourceKind
	Src      int // core or input port
	SrcStart int
	SrcCount int
	Dst      int // core
	DstStart int
	DstCount int
	// Dense: Weights is [src][dst], SrcCount × DstCount. Sparse (Index non-nil): source
	// neuron i (relative to SrcStart) has synapses k in [Index[i], Index[i+1]) onto neuron
	// DstStart+Targets[k] with weight Weights[k]. Weights are as given; they are clipped and
	// truncated at load.
	Weights    []int32
	Index      []int32 // sparse: SrcCount+1 offsets into Targets and Weights
	Targets    []int32 // sparse: target neuron of each synapse, relative to DstStart
	SignMode   syn.SignMode
	WeightBits int  // num_weight_bits, 1..8
	WeightExp  int  // the summed input is shifted by this (left if ≥ 0)
	Graded     bool // weight × payload; otherwise every spike counts as 1
}

type input struct {
	n       int
	payload []int32 // payloads of this step's spikes
	fired   []int32 // this step's injected spikes
	pending []int32 // neurons injected for the next step, in order of first injection
	pendPay []int32 // their payloads, indexed by neuron
	pendSet []bool
}

// publish makes the spikes injected since the last step the port's spikes of this step.
func (in *input) publish() {
	for _, i := range in.fired {
		in.payload[i] = 0
	}
	in.fired = append(in.fired[:0], in.pending...)
	slices.Sort(in.fired) // routing finds a connection's sources by binary search
	for _, i := range in.pending {
		in.payload[i] = in.pendPay[i]
		in.pendSet[i] = false
	}
	in.pending = in.pending[:0]
}

type probe struct {
	core    int
	field   chip.Field
	neurons []int
	data    [][]int32 // [step][i]
}

// Stats counts the work a chip has done since it was made; a board model derives its power
// and temperature from it.
type Stats struct {
	Steps          uint64 // timesteps run
	NeuronUpdates  uint64 // neuron program executions (neurons × steps)
	SynapticEvents uint64 // synapses that received a spike (fan-out of every routed spike)
	Spikes         uint64 // spikes emitted by cores
}

// output is an output port: blocks of core neurons, port neuron Offset+i being neuron
// Start+i of the block's core.
type output struct {
	blocks []outBlock
}

type outBlock struct {
	core, start, count, offset int
}

// Chip is the bit-exact model of one chip: cores stepping in lock step, routing spikes to each
// other with one step of delay, input ports the host injects into, output ports and probes
// the host reads.
type Chip struct {
	size        chip.Size
	cores       []*core
	inputs      []*input
	outputs     []output
	probes      []*probe
	t           int32
	stats       Stats
	simd        bool
	workers     int
	autoWorkers bool    // Workers was 0: go parallel only for large chips
	neurons     int     // in all configured cores
	active      []*core // configured cores, in index order
	// synDirty says sparse connections were added since the synapse memory was laid out.
	synDirty bool
	groups   []*srcGroup // sparse synapse memory by source
	flat     []uint16    // scratch of conn.deliverAll on one worker
}

// Stats returns the work counters.
func (c *Chip) Stats() Stats { return c.stats }

// New returns a chip with every core empty.
func New(opts Opts) (*Chip, error) {
	s := opts.Size
	if s == (chip.Size{}) {
		s = chip.Prototype
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("emu: %w: %w", ErrLimit, err)
	}
	w, auto := opts.Workers, false
	if w <= 0 {
		w, auto = runtime.GOMAXPROCS(0), true
	}
	return &Chip{size: s, cores: make([]*core, s.Cores), simd: !opts.Portable, workers: w, autoWorkers: auto}, nil
}

// Size returns the chip's shape.
func (c *Chip) Size() chip.Size { return c.size }

// Time returns the number of steps run; the next step's t register is Time()+1.
func (c *Chip) Time() int32 { return c.t }

// SetCore loads a program and its neurons into core i, replacing what was there.
func (c *Chip) SetCore(i int, cfg CoreConfig) error {
	if i < 0 || i >= len(c.cores) {
		return fmt.Errorf("emu: core %d: %w (chip has %d cores)", i, ErrLimit, len(c.cores))
	}
	k, err := newCore(i, cfg, c.size.NeuronsPerCore, c.simd)
	if err != nil {
		return fmt.Errorf("emu: %w", err)
	}
	c.cores[i] = k
	c.active, c.neurons = c.active[:0], 0
	for _, k := range c.cores {
		if k != nil {
			c.active = append(c.active, k)
			c.neurons += k.n
		}
	}
	return nil
}

// AddInput adds an input port of n neurons and returns its index.
func (c *Chip) AddInput(n int) (int, error) {
	if n < 1 || n > c.size.NeuronsPerCore {
		return 0, fmt.Errorf("emu: input port of %d neurons: %w [1, %d]", n, ErrLimit, c.size.NeuronsPerCore)
	}
	c.inputs = append(c.inputs, &input{n: n, payload: make([]int32, n), pendPay: make([]int32, n), pendSet: make([]bool, n)})
	return len(c.inputs) - 1, nil
}

// Connect adds a connection. Its weights are clipped and truncated now, once.
func (c *Chip) Connect(cn Connection) error {
	where := fmt.Sprintf("emu: connection to core %d", cn.Dst)
	if cn.Dst < 0 || cn.Dst >= len(c.cores) || c.cores[cn.Dst] == nil {
		return fmt.Errorf("%s: %w: no such configured core", where, ErrConfig)
	}
	dst := c.cores[cn.Dst]
	if cn.DstStart < 0 || cn.DstCount < 0 || cn.DstStart+cn.DstCount > dst.n {
		return fmt.Errorf("%s: neurons [%d, %d) %w: core has %d", where, cn.DstStart, cn.DstStart+cn.DstCount, ErrConfig, dst.n)
	}
	x := &conn{Connection: cn, exp: cn.WeightExp}
	var srcN int
	switch cn.Kind {
	case FromCore:
		if cn.Src < 0 || cn.Src >= len(c.cores) || c.cores[cn.Src] == nil {
			return fmt.Errorf("%s: %w: source core %d not configured", where, ErrConfig, cn.Src)
		}
		s := c.cores[cn.Src]
		srcN, x.src, x.pay = s.n, &s.fired, s.payload
	case FromInput:
		if cn.Src < 0 || cn.Src >= len(c.inputs) {
			return fmt.Errorf("%s: %w: no input port %d", where, ErrConfig, cn.Src)
		}
		in := c.inputs[cn.Src]
		srcN, x.src, x.pay = in.n, &in.fired, in.payload
	default:
		return fmt.Errorf("%s: %w: source kind %d", where, ErrConfig, cn.Kind)
	}
	if cn.SrcStart < 0 || cn.SrcCount < 0 || cn.SrcStart+cn.SrcCount > srcN {
		return fmt.Errorf("%s: source neurons [%d, %d) %w: source has %d", where, cn.SrcStart, cn.SrcStart+cn.SrcCount, ErrConfig, srcN)
	}
	if cn.Index == nil {
		if len(cn.Weights) != cn.SrcCount*cn.DstCount || cn.Targets != nil {
			return fmt.Errorf("%s: %d weights for %d×%d dense synapses: %w", where, len(cn.Weights), cn.SrcCount, cn.DstCount, ErrConfig)
		}
	} else if err := checkSparse(cn); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if !cn.SignMode.Valid() {
		return fmt.Errorf("%s: %w: sign mode %d", where, ErrConfig, cn.SignMode)
	}
	if err := syn.CheckWeightBits(cn.WeightBits); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := syn.CheckExp(cn.WeightExp); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	x.dst = dst
	if cn.WeightExp < 0 {
		if dst.nbanks >= chip.MaxBanksPerCore {
			return fmt.Errorf("%s: %w: more than %d incoming connections with a negative weight exponent", where, ErrLimit, chip.MaxBanksPerCore)
		}
		dst.nbanks++
		x.bank = make([]int32, cn.DstCount)
	}
	x.store(cn)
	if x.layout != layoutDense {
		c.synDirty = true
	}
	dst.in = append(dst.in, x)
	return nil
}

// Inject queues a spike from input port p, neuron i, as a spike of the next step: it reaches
// its targets one step later, like a spike a core emits. The payload is kept whole (32 bits, as
// Lava carries payloads); for binary connections any payload counts as 1. A second spike on the same neuron in the
// same step replaces the first.
func (c *Chip) Inject(p, i int, payload int32) error {
	if p < 0 || p >= len(c.inputs) {
		return fmt.Errorf("emu: inject: %w: no input port %d", ErrConfig, p)
	}
	in := c.inputs[p]
	if i < 0 || i >= in.n {
		return fmt.Errorf("emu: inject: input port %d neuron %d: %w (port has %d)", p, i, ErrLimit, in.n)
	}
	if !in.pendSet[i] {
		in.pendSet[i] = true
		in.pending = append(in.pending, int32(i))
	}
	in.pendPay[i] = payload
	return nil
}

// AddOutput declares neurons [start, start+count) of a core as an output port.
func (c *Chip) AddOutput(core, start, count int) (int, error) {
	return c.addOutput([]image.Block{{Core: core, Start: start, Count: count}})
}

// addOutput adds an output port made of blocks of core neurons (Offset: where each block
// starts in the port).
func (c *Chip) addOutput(blocks []image.Block) (int, error) {
	var o output
	for _, b := range blocks {
		if b.Core < 0 || b.Core >= len(c.cores) || c.cores[b.Core] == nil {
			return 0, fmt.Errorf("emu: output port: %w: core %d not configured", ErrConfig, b.Core)
		}
		if b.Start < 0 || b.Count < 0 || b.Start+b.Count > c.cores[b.Core].n {
			return 0, fmt.Errorf("emu: output port: neurons [%d, %d) %w: core %d has %d", b.Start, b.Start+b.Count, ErrConfig, b.Core, c.cores[b.Core].n)
		}
		o.blocks = append(o.blocks, outBlock{core: b.Core, start: b.Start, count: b.Count, offset: b.Offset})
	}
	c.outputs = append(c.outputs, o)
	return len(c.outputs) - 1, nil
}

// Output appends the spikes of the last step on an output port to dst: Port is port, Neuron
// counts within the port, Step is the step that ran (Time()).
func (c *Chip) Output(port int, dst []chip.Spike) ([]chip.Spike, error) {
	if port < 0 || port >= len(c.outputs) {
		return dst, fmt.Errorf("emu: output: %w: no output port %d", ErrConfig, port)
	}
	for _, b := range c.outputs[port].blocks {
		k := c.cores[b.core]
		for _, i := range k.fired {
			if int(i) >= b.start && int(i) < b.start+b.count {
				dst = append(dst, chip.Spike{Step: uint64(c.t), Port: port, Neuron: b.offset + int(i) - b.start, Payload: k.payload[i]})
			}
		}
	}
	return dst, nil
}

// Outputs returns the number of output ports.
func (c *Chip) Outputs() int { return len(c.outputs) }

// AddProbe records a field of the given neurons of a core after every step.
func (c *Chip) AddProbe(core int, f chip.Field, neurons []int) (int, error) {
	if core < 0 || core >= len(c.cores) || c.cores[core] == nil {
		return 0, fmt.Errorf("emu: probe: %w: core %d not configured", ErrConfig, core)
	}
	k := c.cores[core]
	if f.Kind == chip.FieldState && (f.Index < 0 || f.Index >= len(k.state)) {
		return 0, fmt.Errorf("emu: probe: %w: core %d has %d state registers, not %d", ErrConfig, core, len(k.state), f.Index)
	}
	if f.Kind > chip.FieldSpike {
		return 0, fmt.Errorf("emu: probe: %w: field kind %d", ErrConfig, f.Kind)
	}
	for _, n := range neurons {
		if n < 0 || n >= k.n {
			return 0, fmt.Errorf("emu: probe: neuron %d: %w: core %d has %d", n, ErrConfig, core, k.n)
		}
	}
	c.probes = append(c.probes, &probe{core: core, field: f, neurons: append([]int(nil), neurons...)})
	return len(c.probes) - 1, nil
}

// ProbeData returns what a probe recorded, one row per step, and forgets it.
func (c *Chip) ProbeData(id int) ([][]int32, error) {
	if id < 0 || id >= len(c.probes) {
		return nil, fmt.Errorf("emu: probe %d: %w", id, ErrConfig)
	}
	d := c.probes[id].data
	c.probes[id].data = nil
	return d, nil
}

// Read returns the current value of a field of neuron n of a core.
func (c *Chip) Read(core int, f chip.Field, n int) (int32, error) {
	if core < 0 || core >= len(c.cores) || c.cores[core] == nil {
		return 0, fmt.Errorf("emu: read: %w: core %d not configured", ErrConfig, core)
	}
	k := c.cores[core]
	if n < 0 || n >= k.n {
		return 0, fmt.Errorf("emu: read: neuron %d: %w: core %d has %d", n, ErrConfig, core, k.n)
	}
	switch f.Kind {
	case chip.FieldState:
		if f.Index < 0 || f.Index >= len(k.state) {
			return 0, fmt.Errorf("emu: read: %w: state register %d", ErrConfig, f.Index)
		}
		return k.state[f.Index][n], nil
	case chip.FieldInput:
		return k.a[n], nil
	case chip.FieldSpike:
		return k.payload[n], nil
	}
	return 0, fmt.Errorf("emu: read: %w: field kind %d", ErrConfig, f.Kind)
}

// Step runs one timestep: every core turns the spikes routed to it in the previous step into
// its dendritic input and runs its program over all its neurons; the spikes it emits, and the
// host's injected spikes, are routed for the next step.
func (c *Chip) Step() {
	if c.synDirty {
		c.layoutSynapses()
		c.synDirty = false
	}
	c.t++
	c.stats.Steps++
	if c.serial() {
		c.stats.SynapticEvents += c.accumulateBySource()
	} else {
		c.parallel(func(k *core) { k.events = k.accumulate() })
	}
	c.parallel(func(k *core) { k.compute(c.t) })
	for _, k := range c.active {
		c.stats.SynapticEvents += k.events
		c.stats.NeuronUpdates += uint64(k.n)
		c.stats.Spikes += uint64(len(k.fired))
	}
	for _, in := range c.inputs {
		in.publish()
	}
	for _, p := range c.probes {
		k := c.cores[p.core]
		var src []int32
		switch p.field.Kind {
		case chip.FieldState:
			src = k.state[p.field.Index]
		case chip.FieldInput:
			src = k.a
		case chip.FieldSpike:
			src = k.payload
		}
		row := make([]int32, len(p.neurons))
		for j, n := range p.neurons {
			row[j] = src[n]
		}
		p.data = append(p.data, row)
	}
}

// span returns the run [i0, i1) of the ascending list fired whose values lie in [lo, hi): by
// a linear scan for the short lists of most steps, by binary search for long ones.
func span(fired []int32, lo, hi int32) (i0, i1 int) {
	if len(fired) > 32 {
		i0, _ = slices.BinarySearch(fired, lo)
		i1, _ = slices.BinarySearch(fired[i0:], hi)
		return i0, i0 + i1
	}
	for i0 < len(fired) && fired[i0] < lo {
		i0++
	}
	i1 = i0
	for i1 < len(fired) && fired[i1] < hi {
		i1++
	}
	return i0, i1
}

// parallel runs f on every configured core, spread over the chip's workers, and returns when
// all are done: the barrier between the phases of a step. Each call touches only its own
// core's state, so the order does not matter.
func (c *Chip) parallel(f func(k *core)) {
	w := min(c.workers, len(c.active))
	if c.serial() {
		for _, k := range c.active {
			f(k)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(c.active); j += w {
				f(c.active[j])
			}
		}()
	}
	wg.Wait()
}

// serial reports whether steps run on the calling goroutine alone.
func (c *Chip) serial() bool {
	return min(c.workers, len(c.active)) <= 1 || (c.autoWorkers && c.neurons < ParallelNeurons)
}

// accumulateBySource is accumulate for every core at once, for a chip stepped on one
// goroutine: the sparse synapses are walked source by source, each source's spikes once per
// column of its synapse memory rather than once per connection, and each column feeds one
// destination range, whose accumulators stay in L1 while it is walked. It returns the number
// of synaptic events. The sums are those of accumulate: integer additions in another order.
func (c *Chip) accumulateBySource() (events uint64) {
	for _, k := range c.active {
		clear(k.a)
		k.events = 0
		for _, x := range k.in {
			if len(*x.src) == 0 {
				continue
			}
			clear(x.bank)
			if x.layout == layoutDense {
				fired := *x.src
				i0, i1 := span(fired, int32(x.SrcStart), int32(x.SrcStart+x.SrcCount))
				acc, shift := x.target()
				events += x.deliverAll(acc, fired[i0:i1], shift, &c.flat)
			}
		}
	}
	for _, g := range c.groups {
		fired := *g.src
		if len(fired) == 0 {
			continue
		}
		for _, col := range g.cols {
			// col's connections have disjoint source ranges, in ascending order, and fired is
			// ascending: one merge-like walk pairs every spike with its connection.
			i := 0
			for _, x := range col {
				lo, hi := int32(x.SrcStart), int32(x.SrcStart+x.SrcCount)
				for i < len(fired) && fired[i] < lo {
					i++
				}
				j := i
				for j < len(fired) && fired[j] < hi {
					j++
				}
				if j > i {
					acc, shift := x.target()
					events += x.deliverAll(acc, fired[i:j], shift, &c.flat)
				}
				i = j
			}
		}
	}
	for _, k := range c.active {
		for _, x := range k.in {
			if x.bank != nil && len(*x.src) > 0 {
				x.flush()
			}
		}
	}
	return events
}

// accumulate sums the weighted spikes that the previous step routed to this core, connection
// by connection, into a (through the connection's bank when it has one).
// It returns the number of synaptic events.
func (k *core) accumulate() (events uint64) {
	clear(k.a)
	for _, x := range k.in {
		fired := *x.src
		if len(fired) == 0 {
			continue
		}
		clear(x.bank)
		// fired is ascending: the spikes of this connection's sources are one run of it, found
		// by binary search rather than tested one by one.
		i0, i1 := span(fired, int32(x.SrcStart), int32(x.SrcStart+x.SrcCount))
		acc, shift := x.target()
		events += x.deliverAll(acc, fired[i0:i1], shift, &k.flat)
		if x.bank != nil {
			x.flush()
		}
	}
	return events
}

// checkSparse validates a sparse connection's index: monotonic offsets covering exactly the
// synapses given, and every target within the destination range.
func checkSparse(cn Connection) error {
	if len(cn.Index) != cn.SrcCount+1 {
		return fmt.Errorf("%w: sparse index has %d offsets, want SrcCount+1 = %d", ErrConfig, len(cn.Index), cn.SrcCount+1)
	}
	if len(cn.Targets) != len(cn.Weights) {
		return fmt.Errorf("%w: %d sparse targets for %d weights", ErrConfig, len(cn.Targets), len(cn.Weights))
	}
	if cn.Index[0] != 0 || int(cn.Index[cn.SrcCount]) != len(cn.Weights) {
		return fmt.Errorf("%w: sparse index must run from 0 to %d, runs from %d to %d", ErrConfig, len(cn.Weights), cn.Index[0], cn.Index[cn.SrcCount])
	}
	for i := 0; i < cn.SrcCount; i++ {
		if cn.Index[i+1] < cn.Index[i] {
			return fmt.Errorf("%w: sparse index decreases at source %d", ErrConfig, i)
		}
	}
	for k, t := range cn.Targets {
		if t < 0 || int(t) >= cn.DstCount {
			return fmt.Errorf("%w: synapse %d targets neuron %d, outside [0, %d)", ErrConfig, k, t, cn.DstCount)
		}
	}
	return nil
}

// KernelName names the executor a chip made with the given Portable setting uses on this
// machine: "go" for the portable interpreter, else the vector kernel family.
func KernelName(portable bool) string {
	if portable || !kernels.Available {
		return "go"
	}
	return kernels.Best().Name
}
