package hostlib

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/pipeline"
	"github.com/lrchip/lrchip/runtime/sched"
)

// Defaults of Spec.
const (
	DefaultMaxWindows = 4096
	DefaultQueue      = 256
	DefaultSeed       = 1 // lrctl pipeline's --seed
	// MaxAttempts is how often a request runs at most: once, and once more on another
	// replica when its replica fails.
	MaxAttempts = 2
)

// Spec describes a model to load: a network, its readout, how requests are shaped, and
// which of the host's devices run it. The zero value of every optional field gives the
// documented default.
type Spec struct {
	// Name names the model (letters, digits, '.', '_', '-'; at most 64).
	Name string
	// The network: a description or image file (Path), or one already in memory (Network,
	// mapped onto each device's chip, or Image). Exactly one of the three.
	Path    string
	Network *network.Network
	Image   *image.Image
	// The readout layer: Readout, else the file ReadoutPath, else readout.json beside Path.
	Readout     *gpu.Layer
	ReadoutPath string
	// Input and Output name the network's input port (the requests' spikes) and output
	// port (whose counts feed the readout). Default: the first of each.
	Input, Output string
	// Window is the number of timesteps per window. Default sched.DefaultWindow.
	Window int
	// MaxWindows bounds the windows of one request. Default DefaultMaxWindows.
	MaxWindows int
	// Seed seeds the rate encoder of requests that give none. Default DefaultSeed.
	Seed uint64
	// Devices names the host's devices to run on by URI (one replica each; a URI listed
	// twice takes two devices of that URI). Default: every free device of the host.
	Devices []string
	// GPU is the readout's backend: gpu.Auto (default), gpu.CUDA or gpu.CPU.
	GPU string
	// Depth and Batch are the pipeline's (sched.Opts): windows in flight per replica and
	// windows per GPU round. Defaults sched.DefaultDepth and Depth.
	Depth, Batch int
	// Queue is the most requests waiting for a replica; Submit blocks for room beyond it.
	// Default DefaultQueue.
	Queue int
}

// Info describes a loaded model.
type Info struct {
	Name       string
	Network    string // the network's name
	Input      string // the input port ("" if the network has none)
	Output     string // the output port
	Inputs     int    // input neurons: the width of a window of rates
	Outputs    int    // output neurons: the width of a window of counts
	Scores     int    // the readout's scores (classes)
	Window     int    // steps per window
	MaxWindows int
	Seed       uint64
	GPU        string // the readout's backend
}

// Stats counts what a model has done.
type Stats struct {
	Submitted uint64 // requests accepted by Submit
	Completed uint64 // requests that gave a result
	Failed    uint64 // requests that ended with an error (cancellations included)
	Retried   uint64 // requests moved to another replica after theirs failed
	Windows   uint64 // windows delivered (all replicas)
	Queued    int    // requests waiting for a replica
	Latency   sched.Summary
	Replicas  []ReplicaStatus
}

// ReplicaStatus describes one replica of a model.
type ReplicaStatus struct {
	URI     string
	Device  string
	Up      bool  // false once the device failed and was taken out
	Err     error // why it was taken out
	Windows uint64
}

// Model is a network loaded on one or more devices (replicas) behind a readout, serving
// requests from any number of goroutines.
type Model struct {
	host     *Host
	info     Info
	layer    gpu.Layer
	q        *queue
	replicas []*replica
	exited   chan struct{} // closed when every replica has stopped

	closeOnce sync.Once
	closeErr  error

	submitted, completed, failed, retried, windows atomic.Uint64
	latMu                                          sync.Mutex
	lat                                            sched.Histogram
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Load loads a model onto the host's devices (one replica each, see Spec.Devices) and
// starts serving it.
func (h *Host) Load(ctx context.Context, spec Spec) (*Model, error) {
	if !nameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("%w: model name %q: want 1 to 64 letters, digits, '.', '_' or '-'", ErrConfig, spec.Name)
	}
	src, err := readNetwork(spec)
	if err != nil {
		return nil, err
	}
	layer, err := readReadout(spec)
	if err != nil {
		return nil, err
	}
	if spec.Window == 0 {
		spec.Window = sched.DefaultWindow
	}
	if spec.MaxWindows == 0 {
		spec.MaxWindows = DefaultMaxWindows
	}
	if spec.Seed == 0 {
		spec.Seed = DefaultSeed
	}
	if spec.Queue == 0 {
		spec.Queue = DefaultQueue
	}
	switch {
	case spec.Window < 1 || spec.Window > 1<<24:
		return nil, fmt.Errorf("%w: model %q: window of %d steps", ErrConfig, spec.Name, spec.Window)
	case spec.MaxWindows < 1 || int64(spec.MaxWindows)*int64(spec.Window) > 1<<32:
		return nil, fmt.Errorf("%w: model %q: at most %d windows of %d steps a request", ErrConfig, spec.Name, spec.MaxWindows, spec.Window)
	case spec.Queue < 1:
		return nil, fmt.Errorf("%w: model %q: queue of %d", ErrConfig, spec.Name, spec.Queue)
	}

	m := &Model{host: h, layer: layer, q: newQueue(spec.Queue), exited: make(chan struct{}),
		info: Info{Name: spec.Name, Window: spec.Window, MaxWindows: spec.MaxWindows, Seed: spec.Seed, Scores: layer.M}}
	slots, err := h.reserve(m, spec.Devices)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Model, error) {
		for _, rp := range m.replicas {
			rp.pipe.Close()
		}
		h.release(m)
		return nil, err
	}
	images := map[chip.Size]*image.Image{}
	for _, s := range slots {
		img := src.img
		if img == nil {
			size := s.dev.Size()
			if img = images[size]; img == nil {
				if img, err = network.Map(src.net, size); err != nil {
					return fail(fmt.Errorf("%w: model %q on %s: %w", ErrConfig, spec.Name, s.name, err))
				}
				images[size] = img
			}
		}
		rp := &replica{m: m, slot: s, img: img, window: spec.Window, exited: make(chan struct{})}
		rp.up.Store(true)
		rp.pipe, err = pipeline.New(ctx, s.dev, img, layer, pipeline.Opts{Input: spec.Input, Output: spec.Output, GPU: spec.GPU,
			Sched: sched.Opts{Window: spec.Window, Depth: spec.Depth, Batch: spec.Batch, Input: rp.source, Begin: rp.begin, OnResult: rp.result}})
		if err != nil {
			return fail(fmt.Errorf("%w: model %q on %s: %w", ErrConfig, spec.Name, s.name, err))
		}
		m.replicas = append(m.replicas, rp)
	}
	first := m.replicas[0].pipe
	ports := first.Ports()
	m.info.Network = first.Image().Name
	m.info.Output = first.Image().Outputs[ports.Output].Name
	m.info.Outputs = ports.Count
	if ports.Input >= 0 {
		m.info.Input = first.Image().Inputs[ports.Input].Name
		m.info.Inputs = first.Image().Inputs[ports.Input].Size
	}
	m.info.GPU = first.GPU().Backend
	for _, rp := range m.replicas {
		rp.runCtx, rp.cancel = context.WithCancelCause(context.Background())
		m.q.join()
	}
	var wg sync.WaitGroup
	for _, rp := range m.replicas {
		wg.Add(1)
		go func() { defer wg.Done(); rp.run() }()
	}
	go func() { wg.Wait(); close(m.exited) }()
	return m, nil
}

type source struct {
	net *network.Network
	img *image.Image
}

func readNetwork(spec Spec) (source, error) {
	n := 0
	for _, set := range []bool{spec.Path != "", spec.Network != nil, spec.Image != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return source{}, fmt.Errorf("%w: model %q: give one of a path, a network and an image (%d given)", ErrConfig, spec.Name, n)
	}
	switch {
	case spec.Network != nil:
		return source{net: spec.Network}, nil
	case spec.Image != nil:
		return source{img: spec.Image}, nil
	}
	b, err := os.ReadFile(spec.Path)
	if err != nil {
		return source{}, fmt.Errorf("%w: model %q: %w", ErrConfig, spec.Name, err)
	}
	if image.IsImage(b) {
		img, err := image.Decode(b)
		if err != nil {
			return source{}, fmt.Errorf("%w: model %q: %s: %w", ErrConfig, spec.Name, spec.Path, err)
		}
		return source{img: img}, nil
	}
	nw, err := network.Parse(b, network.FormatOf(spec.Path))
	if err != nil {
		return source{}, fmt.Errorf("%w: model %q: %s: %w", ErrConfig, spec.Name, spec.Path, err)
	}
	return source{net: nw}, nil
}

func readReadout(spec Spec) (gpu.Layer, error) {
	if spec.Readout != nil {
		if err := spec.Readout.Validate(); err != nil {
			return gpu.Layer{}, fmt.Errorf("%w: model %q: readout: %w", ErrConfig, spec.Name, err)
		}
		return *spec.Readout, nil
	}
	path := spec.ReadoutPath
	if path == "" {
		if spec.Path == "" {
			return gpu.Layer{}, fmt.Errorf("%w: model %q: no readout layer", ErrConfig, spec.Name)
		}
		path = filepath.Join(filepath.Dir(spec.Path), "readout.json")
	}
	l, err := gpu.ReadLayerFile(path)
	if err != nil {
		return gpu.Layer{}, fmt.Errorf("%w: model %q: readout: %w", ErrConfig, spec.Name, err)
	}
	return l, nil
}

// Info describes the model.
func (m *Model) Info() Info { return m.info }

// String names the model.
func (m *Model) String() string { return "hostlib model " + m.info.Name }

// Ready reports whether the model takes requests: it is not closing and a replica works.
func (m *Model) Ready() bool {
	select {
	case <-m.q.closedCh:
		return false
	default:
	}
	for _, rp := range m.replicas {
		if rp.up.Load() {
			return true
		}
	}
	return false
}

// Stats returns the model's counters and each replica's state.
func (m *Model) Stats() Stats {
	st := Stats{Submitted: m.submitted.Load(), Completed: m.completed.Load(), Failed: m.failed.Load(),
		Retried: m.retried.Load(), Windows: m.windows.Load(), Queued: m.q.len()}
	m.latMu.Lock()
	st.Latency = m.lat.Summary()
	m.latMu.Unlock()
	for _, rp := range m.replicas {
		rs := ReplicaStatus{URI: rp.slot.uri, Device: rp.slot.name, Up: rp.up.Load(), Windows: rp.delivered.Load()}
		if !rs.Up {
			rs.Err = rp.failure()
		}
		st.Replicas = append(st.Replicas, rs)
	}
	return st
}

// Pending is a request submitted and not necessarily done.
type Pending struct{ c *call }

// Done is closed when the request is done.
func (p *Pending) Done() <-chan struct{} { return p.c.done }

// Result returns the request's result once Done is closed (before, an error).
func (p *Pending) Result() (Result, error) {
	select {
	case <-p.c.done:
	default:
		return Result{}, fmt.Errorf("hostlib: result: the request is still running")
	}
	if p.c.err != nil {
		return Result{}, p.c.err
	}
	return p.c.res, nil
}

// Wait waits until the request is done or ctx is done (the request goes on: its own
// context, Submit's, decides that), and returns its result.
func (p *Pending) Wait(ctx context.Context) (Result, error) {
	select {
	case <-p.c.done:
		return p.Result()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("hostlib: wait: %w", ctx.Err())
	}
}

// Submit checks in and queues it for the model's replicas. It blocks while the queue is
// full. ctx bounds the whole request, not only the call: when it is done, the request ends
// with its error at once (its windows are skipped if they have not started). Submit fails
// at once with ErrInput for a request the model cannot run, ErrClosed once Close has
// begun, and ErrNoReplica when every replica has failed.
func (m *Model) Submit(ctx context.Context, in Input) (*Pending, error) {
	r, err := prepare(in, m.info.Inputs, m.info.Window, m.info.MaxWindows, m.info.Seed)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hostlib: submit: %w", err)
	}
	c := &call{ctx: ctx, req: r, m: m, done: make(chan struct{}), start: time.Now()}
	c.res = Result{Windows: r.windows, Class: make([]int, r.windows),
		Scores: make([]int64, r.windows*m.info.Scores), Counts: make([]int32, r.windows*m.info.Outputs)}
	if err := m.q.push(ctx, c); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("hostlib: submit: waiting for room in the queue: %w", err)
		}
		return nil, err
	}
	m.submitted.Add(1)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.finish(fmt.Errorf("hostlib: request: %w", context.Cause(ctx))) })
		c.stopWatch.Store(&stop)
		if c.finished() {
			stop() // finished before the watch was set: do not keep it
		}
	}
	return &Pending{c: c}, nil
}

// Infer runs one request and waits for its result (see Submit).
func (m *Model) Infer(ctx context.Context, in Input) (Result, error) {
	p, err := m.Submit(ctx, in)
	if err != nil {
		return Result{}, err
	}
	<-p.c.done // ctx ends the request itself
	return p.Result()
}

// Close stops taking requests, runs every request submitted before to its end, stops the
// replicas and gives their devices back to the host. It is idempotent.
func (m *Model) Close() error { return m.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx: when ctx is done first, the requests still waiting or
// running fail with ErrClosed.
func (m *Model) Shutdown(ctx context.Context) error {
	m.q.close()
	select {
	case <-m.exited:
	case <-ctx.Done():
		for _, c := range m.q.takeAll() {
			c.finish(fmt.Errorf("%w: model %q shut down before the request ran", ErrClosed, m.info.Name))
		}
		for _, rp := range m.replicas {
			rp.cancel(errAborted)
		}
		<-m.exited
	}
	m.closeOnce.Do(func() {
		var errs []error
		for _, rp := range m.replicas {
			errs = append(errs, rp.pipe.Close())
		}
		m.host.release(m)
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

// call is a request on its way.
type call struct {
	ctx       context.Context
	req       *request
	m         *Model
	res       Result
	attempts  int  // replica failures it went through
	slot      bool // holds a queue slot
	start     time.Time
	state     atomic.Bool // done
	done      chan struct{}
	err       error
	stopWatch atomic.Pointer[func() bool]
}

func (c *call) finished() bool { return c.state.Load() }

// finish ends the call once; the first to finish it wins.
func (c *call) finish(err error) bool {
	if !c.state.CompareAndSwap(false, true) {
		return false
	}
	m := c.m
	if err != nil {
		c.err = err
		m.failed.Add(1)
	} else {
		c.res.Latency = time.Since(c.start)
		m.completed.Add(1)
		m.latMu.Lock()
		m.lat.Record(c.res.Latency)
		m.latMu.Unlock()
	}
	close(c.done)
	if stop := c.stopWatch.Load(); stop != nil {
		(*stop)()
	}
	return true
}
