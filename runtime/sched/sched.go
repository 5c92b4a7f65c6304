package sched

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/ring"
)

// Sentinel errors. Errors from this package wrap one of them or the error of the stage that
// failed (the chip, the ring, the GPU backend, the result callback).
var (
	// ErrConfig reports options, a layer or a chip that do not fit together.
	ErrConfig = errors.New("sched: bad configuration")
	// ErrBusy reports a Run while another Run of the same pipeline is in progress.
	ErrBusy = errors.New("sched: pipeline is running")
	// ErrClosed reports use of a closed pipeline.
	ErrClosed = errors.New("sched: pipeline closed")
	// ErrRecord reports a window record in the ring that is not what the chip stage wrote
	// (wrong type, size, shape or order).
	ErrRecord = errors.New("sched: bad window record")
)

// Defaults of Opts.
const (
	DefaultWindow = 100
	DefaultDepth  = 4
)

// Source gives the input spikes of step s (0-based) of window w, appended to dst.
type Source func(w, s int, dst []chip.Spike) []chip.Spike

// Opts configures a pipeline. The zero value gives the documented defaults.
type Opts struct {
	// Window is the number of timesteps per window. Default DefaultWindow.
	Window int
	// Depth is the most windows in flight: started by the chip stage and not yet delivered
	// by the GPU stage. The chip stage waits for a slot (backpressure) when Depth windows
	// are in flight. 1 serializes the stages; 2 or more overlaps them. Default DefaultDepth.
	Depth int
	// Batch is the most windows the GPU stage takes from the ring for one round of launches.
	// Default Depth.
	Batch int
	// Input gives the spikes to inject. Default: none.
	Input Source
	// Begin, when set, is called by the chip stage before it starts window w (before it
	// waits for a slot and asks Input for the window's steps). It may block until there is
	// input for the window, honouring ctx, and may prepare the chip (hostlib waits for a
	// request there and resets the network's state between requests). An error stops the
	// run; an error after ctx is done ends it as a cancellation does. Default: none.
	Begin func(ctx context.Context, w int) error
	// OnResult receives every window's result, in window order, from the GPU stage's
	// goroutine; an error from it stops the run. Default: results are only counted.
	OnResult func(Result) error
	// SpinPolls is how often a stage polls the ring before it sleeps (ring.Opts.SpinPolls).
	// Default ring.DefaultSpinPolls.
	SpinPolls int
}

func (o Opts) withDefaults() (Opts, error) {
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Depth == 0 {
		o.Depth = DefaultDepth
	}
	if o.Batch == 0 {
		o.Batch = o.Depth
	}
	switch {
	case o.Window < 1 || o.Window > 1<<30:
		return o, fmt.Errorf("%w: window of %d steps", ErrConfig, o.Window)
	case o.Depth < 1 || o.Depth > 1<<16:
		return o, fmt.Errorf("%w: depth %d, want 1..65536", ErrConfig, o.Depth)
	case o.Batch < 1 || o.Batch > o.Depth:
		return o, fmt.Errorf("%w: batch %d, want 1..depth (%d)", ErrConfig, o.Batch, o.Depth)
	}
	return o, nil
}

// Result is the readout of one window.
type Result struct {
	Window int     // 0-based
	Argmax int     // the first largest score
	Scores []int64 // the layer's M scores (a copy the callee may keep)
	Counts []int32 // the window's N spike counts, the readout's input (a copy the callee may keep)
	// Latency is the time from the window's first step to its delivery.
	Latency time.Duration
}

// Stats describes a run.
type Stats struct {
	Backend  string        // the GPU backend
	Windows  int           // windows delivered
	Steps    int64         // timesteps run in delivered windows
	Spikes   int64         // output spikes counted in delivered windows
	Launches int           // readout kernel launches
	Elapsed  time.Duration // from the start of the run until the last result
	// MaxInFlight is the most windows that were in flight at once (at most Opts.Depth).
	MaxInFlight int
	// Stalled is the time the chip stage waited for a free slot: the GPU stage's
	// backpressure.
	Stalled time.Duration

	Chip     Summary // chip stage: running one window's steps and counting its spikes
	Queue    Summary // from a window's publication in the ring to the GPU stage taking it
	GPU      Summary // GPU stage: launch to completion of one batch, as seen by the host
	Kernel   Summary // readout kernels of one batch, timed by device events
	EndToEnd Summary // from a window's first step to its result's delivery
}

// WindowsPerSec is the throughput in windows.
func (s Stats) WindowsPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Windows) / s.Elapsed.Seconds()
}

// StepsPerSec is the throughput in timesteps.
func (s Stats) StepsPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Steps) / s.Elapsed.Seconds()
}

// Window records. The chip stage writes one record per window into the ring; the GPU
// backend reads the counts and writes the output in place, in the registered ring memory.
// The payload (little-endian, 8-byte aligned):
//
//	0x00  u64   window index
//	0x08  u32   steps
//	0x0c  u32   N, the counts
//	0x10  u32   M, the scores
//	0x14  u32   0
//	0x18  i64   start: ns from the run's start to the window's first step
//	0x20  i64   ready: ns from the run's start to the window's publication
//	0x28  i32   counts[N], zero-padded to a multiple of 8 bytes
//	...   the readout's output (gpu.OutputSize(M) bytes): argmax, 0, scores
const (
	RecordType   uint16 = 0x5701 // ring record type of a window
	recWindow           = 0x00
	recSteps            = 0x08
	recN                = 0x0c
	recM                = 0x10
	recStart            = 0x18
	recReady            = 0x20
	RecordCounts        = 0x28 // offset of the counts in a window record's payload
)

// RecordSize returns the payload size of a window record and the offset of its output.
func RecordSize(n, m int) (size, out int) {
	out = RecordCounts + (4*n+7)&^7
	return out + gpu.OutputSize(m), out
}

// Pipeline runs a chip and a GPU readout as two stages joined by a ring in registered host
// memory: while the GPU stage reads out window k, the chip stage runs window k+1.
type Pipeline struct {
	chip  Chip
	dev   gpu.Device
	opts  Opts
	m, n  int
	size  int // record payload
	out   int // output offset in a record
	cap   int // ring capacity
	mem   []byte
	reg   gpu.Registration
	ro    gpu.Readout
	st    gpu.Stream
	e0    gpu.Event
	e1    gpu.Event
	busy  atomic.Bool
	close sync.Once
	shut  atomic.Bool
}

// New prepares a pipeline: the ring's memory, registered with dev, and the readout layer,
// loaded on dev. The layer's N must be the chip's number of outputs. The pipeline does not
// own chip or dev; Close it before closing dev.
func New(chip Chip, dev gpu.Device, layer gpu.Layer, opts Opts) (*Pipeline, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if chip == nil || dev == nil {
		return nil, fmt.Errorf("%w: a chip and a GPU device are needed", ErrConfig)
	}
	if err := layer.Validate(); err != nil {
		return nil, fmt.Errorf("sched: %w", err)
	}
	if layer.N != chip.Outputs() {
		return nil, fmt.Errorf("%w: the readout takes %d counts, the chip has %d outputs", ErrConfig, layer.N, chip.Outputs())
	}
	p := &Pipeline{chip: chip, dev: dev, opts: opts, m: layer.M, n: layer.N}
	p.size, p.out = RecordSize(layer.N, layer.M)
	// Room for Depth records plus the padding that wrapping may need (less than a record).
	stride := ring.RecordHeaderSize + p.size
	p.cap = max(1<<bits.Len(uint((opts.Depth+1)*stride-1)), ring.MinCapacity)
	p.mem = pageAligned(ring.HeaderSize + p.cap)

	fail := func(err error) (*Pipeline, error) { p.release(); return nil, err }
	if p.reg, err = dev.RegisterHost(p.mem); err != nil {
		return fail(fmt.Errorf("sched: ring memory: %w", err))
	}
	if p.ro, err = dev.LoadReadout(layer); err != nil {
		return fail(fmt.Errorf("sched: readout: %w", err))
	}
	if p.st, err = dev.NewStream(); err != nil {
		return fail(fmt.Errorf("sched: %w", err))
	}
	if p.e0, err = dev.NewEvent(); err != nil {
		return fail(fmt.Errorf("sched: %w", err))
	}
	if p.e1, err = dev.NewEvent(); err != nil {
		return fail(fmt.Errorf("sched: %w", err))
	}
	return p, nil
}

// pageAligned returns n bytes (rounded up to whole pages) starting on a page boundary, in
// Go memory: the garbage collector does not move it, the race detector sees it, and a GPU
// can register exactly its pages.
func pageAligned(n int) []byte {
	const page = 4096
	n = (n + page - 1) &^ (page - 1)
	b := make([]byte, n+page)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (page - 1))
	return b[off : off+n : off+n]
}

// Close releases the GPU objects and the ring memory's registration. It waits for nothing:
// call it after Run has returned. It is idempotent.
func (p *Pipeline) Close() error {
	var err error
	p.close.Do(func() {
		p.shut.Store(true)
		err = p.release()
	})
	return err
}

func (p *Pipeline) release() error {
	var errs []error
	if p.st != nil {
		errs = append(errs, p.st.Synchronize())
	}
	for _, c := range []interface{ Close() error }{p.e0, p.e1, p.st, p.ro, p.reg} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sched: close: %w", err)
	}
	return nil
}

// stageStats are what each stage measures; each is written by one goroutine only.
type chipStats struct {
	hist    Histogram
	steps   int64
	stalled time.Duration
}

type gpuStats struct {
	queue, gpu, kernel, e2e Histogram
	windows, launches       int
	steps, spikes           int64
	last                    time.Duration
}

// Run runs windows windows (0: until ctx is done) through the pipeline and returns when
// every window the chip finished has been read out and delivered.
//
// Cancelling ctx stops the chip stage (between two steps of a window; that window is
// dropped) and drains: the windows already in the ring are still read out and delivered,
// then Run returns the statistics and an error wrapping ctx's error. An error in a stage
// stops both. Run starts one goroutine and waits for it, so none outlives the call.
func (p *Pipeline) Run(ctx context.Context, windows int) (Stats, error) {
	if p.shut.Load() {
		return Stats{}, ErrClosed
	}
	if windows < 0 {
		return Stats{}, fmt.Errorf("%w: %d windows", ErrConfig, windows)
	}
	if !p.busy.CompareAndSwap(false, true) {
		return Stats{}, ErrBusy
	}
	defer p.busy.Store(false)

	r, err := ring.New(p.mem, ring.Opts{Capacity: p.cap, SpinPolls: p.opts.SpinPolls, Heartbeat: -1})
	if err != nil {
		return Stats{}, fmt.Errorf("sched: ring: %w", err)
	}
	defer r.Close()
	prod, err := r.Producer()
	if err != nil {
		return Stats{}, fmt.Errorf("sched: ring: %w", err)
	}
	cons, err := r.Consumer()
	if err != nil {
		return Stats{}, fmt.Errorf("sched: ring: %w", err)
	}

	// stop ends both stages on an error; the caller's ctx only ends the chip stage.
	stop, abort := context.WithCancelCause(context.Background())
	defer abort(nil)
	slots := make(chan struct{}, p.opts.Depth)
	var inFlight, maxInFlight atomic.Int64
	epoch := time.Now()

	// The chip stage runs under ctx, cut short by a failure of the GPU stage too.
	chipCtx, chipCancel := context.WithCancel(ctx)
	defer chipCancel()
	defer context.AfterFunc(stop, chipCancel)()

	var cs chipStats
	chipErr := make(chan error, 1)
	go func() {
		err := p.produce(chipCtx, stop, prod, slots, windows, epoch, &inFlight, &maxInFlight, &cs)
		prod.Close() // the GPU stage drains what was published, then sees ring.ErrClosed
		if err != nil {
			abort(err)
		}
		chipErr <- err
	}()

	var gs gpuStats
	gpuErr := p.consume(stop, cons, slots, epoch, &inFlight, &gs)
	if gpuErr != nil {
		abort(gpuErr)
		cons.Close() // a chip stage waiting for room sees ring.ErrClosed
	}
	cErr := <-chipErr

	st := Stats{
		Backend:     p.dev.Info().Backend,
		Windows:     gs.windows,
		Steps:       gs.steps,
		Spikes:      gs.spikes,
		Launches:    gs.launches,
		Elapsed:     gs.last,
		MaxInFlight: int(maxInFlight.Load()),
		Stalled:     cs.stalled,
		Chip:        cs.hist.Summary(),
		Queue:       gs.queue.Summary(),
		GPU:         gs.gpu.Summary(),
		Kernel:      gs.kernel.Summary(),
		EndToEnd:    gs.e2e.Summary(),
	}
	switch {
	case cErr != nil:
		return st, cErr
	case gpuErr != nil:
		return st, gpuErr
	case ctx.Err() != nil && (windows == 0 || st.Windows < windows):
		return st, fmt.Errorf("sched: run stopped after %d windows: %w", st.Windows, context.Cause(ctx))
	}
	return st, nil
}

// produce is the chip stage.
func (p *Pipeline) produce(ctx, stop context.Context, prod *ring.Producer, slots chan struct{}, windows int,
	epoch time.Time, inFlight, maxInFlight *atomic.Int64, cs *chipStats) error {
	in := make([][]chip.Spike, p.opts.Window)
	le := binary.LittleEndian
	for w := 0; windows == 0 || w < windows; w++ {
		if p.opts.Begin != nil {
			if err := p.opts.Begin(ctx, w); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("sched: chip stage: window %d: %w", w, err)
			}
		}
		t0 := time.Now()
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		case <-stop.Done():
			return nil
		}
		cs.stalled += time.Since(t0)
		if n := inFlight.Add(1); n > maxInFlight.Load() {
			maxInFlight.Store(n) // only this goroutine raises it
		}
		buf, err := prod.Reserve(stop, RecordType, p.size)
		if err != nil {
			if stop.Err() != nil {
				return nil // the GPU stage failed and says why
			}
			return fmt.Errorf("sched: chip stage: window %d: %w", w, err)
		}
		if p.opts.Input != nil {
			for s := range in {
				in[s] = p.opts.Input(w, s, in[s][:0])
			}
		}
		clear(buf)
		le.PutUint64(buf[recWindow:], uint64(w))
		le.PutUint32(buf[recSteps:], uint32(p.opts.Window))
		le.PutUint32(buf[recN:], uint32(p.n))
		le.PutUint32(buf[recM:], uint32(p.m))
		start := time.Now()
		le.PutUint64(buf[recStart:], uint64(start.Sub(epoch)))
		counts := unsafe.Slice((*int32)(unsafe.Pointer(&buf[RecordCounts])), p.n)
		if err := p.chip.RunWindow(ctx, in, counts); err != nil {
			if ctx.Err() != nil {
				return nil // cancelled mid-window (or the GPU stage failed): the reservation is dropped
			}
			return fmt.Errorf("sched: chip stage: window %d: %w", w, err)
		}
		ready := time.Now()
		le.PutUint64(buf[recReady:], uint64(ready.Sub(epoch)))
		prod.Commit()
		prod.Publish()
		cs.hist.Record(ready.Sub(start))
		cs.steps += int64(p.opts.Window)
	}
	return nil
}

// window is one record taken from the ring by the GPU stage.
type window struct {
	off          int // payload offset in the ring memory
	index        int
	start, ready time.Duration
	spikes       int64
}

// consume is the GPU stage.
func (p *Pipeline) consume(stop context.Context, cons *ring.Consumer, slots chan struct{}, epoch time.Time,
	inFlight *atomic.Int64, gs *gpuStats) error {
	recs := make([]ring.Record, p.opts.Batch)
	wins := make([]window, 0, p.opts.Batch)
	base := uintptr(unsafe.Pointer(&p.mem[0]))
	le := binary.LittleEndian
	next := 0
	var scores []int64
	for {
		k, err := cons.ReadBatch(stop, recs)
		if errors.Is(err, ring.ErrClosed) {
			return nil // the chip stage is done and everything it published was delivered
		}
		if err != nil {
			if stop.Err() != nil {
				return nil // the chip stage failed and says why
			}
			return fmt.Errorf("sched: gpu stage: %w", err)
		}
		taken := time.Since(epoch)
		wins = wins[:0]
		for _, rec := range recs[:k] {
			b := rec.Payload
			if rec.Type != RecordType || len(b) != p.size {
				return fmt.Errorf("%w: type %#x, %d bytes (want %#x, %d)", ErrRecord, rec.Type, len(b), RecordType, p.size)
			}
			w := window{
				off:   int(uintptr(unsafe.Pointer(&b[0])) - base),
				index: int(le.Uint64(b[recWindow:])),
				start: time.Duration(le.Uint64(b[recStart:])),
				ready: time.Duration(le.Uint64(b[recReady:])),
			}
			if w.index != next || int(le.Uint32(b[recN:])) != p.n || int(le.Uint32(b[recM:])) != p.m {
				return fmt.Errorf("%w: window %d (%d×%d) where window %d (%d×%d) was due", ErrRecord,
					w.index, le.Uint32(b[recM:]), le.Uint32(b[recN:]), next, p.m, p.n)
			}
			if w.off < 0 || w.off+p.size > len(p.mem) {
				return fmt.Errorf("%w: payload at offset %d is outside the ring memory", ErrRecord, w.off)
			}
			for _, c := range unsafe.Slice((*int32)(unsafe.Pointer(&b[RecordCounts])), p.n) {
				w.spikes += int64(c)
			}
			next++
			wins = append(wins, w)
			gs.queue.Record(taken - w.ready)
		}

		// One launch per run of records at a constant stride (the ring wraps at most once).
		t0 := time.Now()
		if err := p.e0.Record(p.st); err != nil {
			return fmt.Errorf("sched: gpu stage: %w", err)
		}
		stride := ring.RecordHeaderSize + p.size
		for i := 0; i < len(wins); {
			j := i + 1
			for j < len(wins) && wins[j].off == wins[j-1].off+stride {
				j++
			}
			b := gpu.Batch{In: wins[i].off + RecordCounts, InStride: stride, Out: wins[i].off + p.out, OutStride: stride, Windows: j - i}
			if err := p.ro.Launch(p.st, p.reg, b); err != nil {
				return fmt.Errorf("sched: gpu stage: windows %d..%d: %w", wins[i].index, wins[j-1].index, err)
			}
			gs.launches++
			i = j
		}
		if err := p.e1.Record(p.st); err != nil {
			return fmt.Errorf("sched: gpu stage: %w", err)
		}
		if err := p.e1.Synchronize(); err != nil {
			return fmt.Errorf("sched: gpu stage: %w", err)
		}
		gs.gpu.Record(time.Since(t0))
		if d, err := p.e1.Since(p.e0); err == nil {
			gs.kernel.Record(d)
		}

		for _, w := range wins {
			var arg int
			arg, scores = gpu.Output(p.mem[w.off+p.out:], p.m, scores)
			now := time.Since(epoch)
			counts := unsafe.Slice((*int32)(unsafe.Pointer(&p.mem[w.off+RecordCounts])), p.n)
			res := Result{Window: w.index, Argmax: arg, Scores: append([]int64(nil), scores...),
				Counts: append([]int32(nil), counts...), Latency: now - w.start}
			if p.opts.OnResult != nil {
				if err := p.opts.OnResult(res); err != nil {
					return fmt.Errorf("sched: result of window %d: %w", w.index, err)
				}
			}
			gs.e2e.Record(res.Latency)
			gs.windows++
			gs.steps += int64(p.opts.Window)
			gs.spikes += w.spikes
			gs.last = now
		}
		cons.Release()
		for range wins {
			inFlight.Add(-1)
			<-slots
		}
	}
}
