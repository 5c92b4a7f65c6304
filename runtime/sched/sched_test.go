package sched

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
)

const (
	nIn     = 16
	nHidden = 48
	nOut    = 24
	nScores = 7
)

// testNetwork builds a small two-layer LIF network: an input port of nIn neurons, nHidden
// hidden neurons, nOut output neurons (the output port), mapped onto the prototype.
func testNetwork(t testing.TB) (*image.Image, Ports) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	weights := func(rows, cols int) *network.Matrix {
		w := make([][]int32, rows)
		for i := range w {
			w[i] = make([]int32, cols)
			for j := range w[i] {
				w[i][j] = rng.Int32N(301) - 140
			}
		}
		return network.Rows(w)
	}
	lif := func(name string, n int) network.Population {
		return network.Population{Name: name, Size: n, Program: "lif", Consts: map[string]int32{"du": 2048, "dv": 1024, "vth": 150}}
	}
	n := &network.Network{Name: "test",
		Inputs:      []network.Input{{Name: "in", Size: nIn}},
		Populations: []network.Population{lif("hidden", nHidden), lif("out", nOut)},
		Connections: []network.Connection{
			{From: "in", To: "hidden", Weights: weights(nHidden, nIn), SignMode: "MIXED"},
			{From: "hidden", To: "out", Weights: weights(nOut, nHidden), SignMode: "MIXED"},
		},
		Outputs: []network.Output{{Name: "out", Population: "out"}},
	}
	img, err := network.Map(n, chip.Prototype)
	require.NoError(t, err)
	ports, err := ImagePorts(img, "", "")
	require.NoError(t, err)
	return img, ports
}

// testChip is testNetwork loaded on the in-process emulator.
func testChip(t testing.TB) *DeviceChip {
	img, ports := testNetwork(t)
	return loadChip(t, img, ports)
}

func loadChip(t testing.TB, img *image.Image, ports Ports) *DeviceChip {
	d, err := emu.NewDevice(emu.Opts{})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	require.NoError(t, d.Load(context.Background(), img))
	c, err := NewDeviceChip(d, ports)
	require.NoError(t, err)
	return c
}

// input is a deterministic input: neuron i fires at step s of window w when a hash says so,
// more often for the neurons of the window's "class" (w mod 4).
func input(w, s int, dst []chip.Spike) []chip.Spike {
	for i := range nIn {
		h := uint32(w*7919+s*104729+i*1299709) * 2654435761
		p := uint32(1 << 29) // 1/8
		if i%4 == w%4 {
			p = 1 << 31 // 1/2
		}
		if h < p {
			dst = append(dst, chip.Spike{Neuron: i, Payload: 1})
		}
	}
	return dst
}

func layer() gpu.Layer {
	rng := rand.New(rand.NewPCG(5, 6))
	l := gpu.Layer{M: nScores, N: nOut, W: make([]int32, nScores*nOut), Bias: make([]int64, nScores)}
	for i := range l.W {
		l.W[i] = rng.Int32N(2001) - 1000
	}
	for i := range l.Bias {
		l.Bias[i] = rng.Int64N(2001) - 1000
	}
	return l
}

// direct runs a fresh chip step by step, counts each window's output spikes and applies the
// layer with plain loops: what the pipeline must deliver.
func direct(t testing.TB, windows, steps int) []Result {
	img, ports := testNetwork(t)
	c, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	require.NoError(t, c.LoadImage(img))
	l := layer()
	var out []Result
	var buf []chip.Spike
	var in []chip.Spike
	for w := range windows {
		counts := make([]int64, nOut)
		for s := range steps {
			in = input(w, s, in[:0])
			for _, sp := range in {
				require.NoError(t, c.Inject(ports.Input, int(sp.Neuron), sp.Payload))
			}
			c.Step()
			var err error
			buf, err = c.Output(ports.Output, buf[:0])
			require.NoError(t, err)
			for _, sp := range buf {
				counts[sp.Neuron]++
			}
		}
		scores := make([]int64, nScores)
		best := 0
		for m := range nScores {
			scores[m] = l.Bias[m]
			for n := range nOut {
				scores[m] += int64(l.W[m*nOut+n]) * counts[n]
			}
			if scores[m] > scores[best] {
				best = m
			}
		}
		c32 := make([]int32, nOut)
		for n, c := range counts {
			c32[n] = int32(c)
		}
		out = append(out, Result{Window: w, Argmax: best, Scores: scores, Counts: c32})
	}
	return out
}

// collector gathers results; Latency is dropped so results compare with direct's.
type collector struct {
	mu  sync.Mutex
	got []Result
}

func (c *collector) add(r Result) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Latency <= 0 {
		return fmt.Errorf("window %d: latency %v", r.Window, r.Latency)
	}
	r.Latency = 0
	c.got = append(c.got, r)
	return nil
}

func newPipeline(t *testing.T, chip Chip, dev gpu.Device, opts Opts) *Pipeline {
	t.Helper()
	return newPipelineLayer(t, chip, dev, layer(), opts)
}

func newPipelineLayer(t *testing.T, chip Chip, dev gpu.Device, l gpu.Layer, opts Opts) *Pipeline {
	t.Helper()
	p, err := New(chip, dev, l, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func cpuDevice(t *testing.T) gpu.Device {
	d, err := gpu.Open(gpu.CPU, gpu.Opts{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

// noLeaks checks that the goroutines started during a test have ended.
func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines still running")
	})
}

func TestPipelineMatchesDirect(t *testing.T) {
	const windows = 12
	for _, c := range []struct {
		window, depth, batch int
	}{
		{1, 1, 1},
		{10, 1, 1},
		{10, 2, 1},
		{10, 4, 4},
		{37, 3, 2},
		{25, 8, 8},
	} {
		t.Run(fmt.Sprintf("window %d depth %d batch %d", c.window, c.depth, c.batch), func(t *testing.T) {
			noLeaks(t)
			want := direct(t, windows, c.window)
			ec := testChip(t)
			var col collector
			p := newPipeline(t, ec, cpuDevice(t), Opts{Window: c.window, Depth: c.depth, Batch: c.batch, Input: input, OnResult: col.add})
			st, err := p.Run(context.Background(), windows)
			require.NoError(t, err)
			require.Equal(t, want, col.got)
			require.Equal(t, windows, st.Windows)
			require.Equal(t, int64(windows*c.window), st.Steps)
			require.Equal(t, gpu.CPU, st.Backend)
			require.LessOrEqual(t, st.MaxInFlight, c.depth)
			require.Equal(t, windows, st.EndToEnd.Count)
			require.Equal(t, windows, st.Chip.Count)
			require.Equal(t, windows, st.Queue.Count)
			require.Positive(t, st.GPU.Count)
			require.Equal(t, st.GPU.Count, st.Kernel.Count)
			require.GreaterOrEqual(t, st.Launches, st.GPU.Count)
			require.Positive(t, st.WindowsPerSec())
			require.Positive(t, st.StepsPerSec())
			require.Positive(t, st.Spikes, "the network is active")
			require.LessOrEqual(t, st.EndToEnd.P50, st.EndToEnd.P99)
			require.Equal(t, int64(windows*c.window), int64(ec.Device().Time()))
		})
	}
}

// TestPipelineRunsAgain runs the same pipeline twice: the chip's state carries over, as if
// it ran 2K windows, and the ring starts afresh.
func TestPipelineRunsAgain(t *testing.T) {
	want := direct(t, 6, 10)
	ec := testChip(t)
	var col collector
	// The second run's windows restart at 0, so its input repeats the first three windows'.
	shift := 0
	in := func(w, s int, dst []chip.Spike) []chip.Spike { return input(w+shift, s, dst) }
	p := newPipeline(t, ec, cpuDevice(t), Opts{Window: 10, Depth: 2, Input: in, OnResult: col.add})
	_, err := p.Run(context.Background(), 3)
	require.NoError(t, err)
	shift = 3
	_, err = p.Run(context.Background(), 3)
	require.NoError(t, err)
	for i := range col.got {
		col.got[i].Window = i
	}
	require.Equal(t, want, col.got)

	require.NoError(t, p.Close())
	_, err = p.Run(context.Background(), 1)
	require.ErrorIs(t, err, ErrClosed)
}

// slowDevice is a GPU whose readout takes at least delay per launch.
type slowDevice struct {
	gpu.Device
	delay    time.Duration
	launches atomic.Int64
	fail     error
}

type slowReadout struct {
	gpu.Readout
	d *slowDevice
}

func (d *slowDevice) LoadReadout(l gpu.Layer) (gpu.Readout, error) {
	r, err := d.Device.LoadReadout(l)
	if err != nil {
		return nil, err
	}
	return slowReadout{r, d}, nil
}

func (r slowReadout) Launch(s gpu.Stream, reg gpu.Registration, b gpu.Batch) error {
	time.Sleep(r.d.delay)
	if r.d.launches.Add(1) == 3 && r.d.fail != nil {
		return r.d.fail
	}
	return r.Readout.Launch(s, reg, b)
}

// watchChip records, at the start of every window, how many windows were started but not
// yet delivered.
type watchChip struct {
	Chip
	started   atomic.Int64
	delivered atomic.Int64
	most      atomic.Int64
	onWindow  func(int)
}

func (c *watchChip) RunWindow(ctx context.Context, in [][]chip.Spike, counts []int32) error {
	w := c.started.Add(1)
	if n := w - c.delivered.Load(); n > c.most.Load() {
		c.most.Store(n)
	}
	if c.onWindow != nil {
		c.onWindow(int(w - 1))
	}
	return c.Chip.RunWindow(ctx, in, counts)
}

func TestPipelineBackpressure(t *testing.T) {
	for _, depth := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("depth %d", depth), func(t *testing.T) {
			noLeaks(t)
			ec := testChip(t)
			wc := &watchChip{Chip: ec}
			dev := &slowDevice{Device: cpuDevice(t), delay: 4 * time.Millisecond}
			var col collector
			p := newPipeline(t, wc, dev, Opts{Window: 2, Depth: depth, Batch: 1, Input: input, OnResult: func(r Result) error {
				wc.delivered.Add(1)
				return col.add(r)
			}})
			const windows = 10
			st, err := p.Run(context.Background(), windows)
			require.NoError(t, err)
			require.Equal(t, direct(t, windows, 2), col.got)
			// The chip is far faster than the GPU stage: it fills every slot and then waits.
			require.Equal(t, depth, st.MaxInFlight)
			require.Equal(t, int64(depth), wc.most.Load(), "windows started and not delivered")
			require.Greater(t, st.Stalled, time.Duration(windows-depth-1)*dev.delay/2)
			require.GreaterOrEqual(t, st.GPU.P50, dev.delay)
		})
	}
}

func TestPipelineCancel(t *testing.T) {
	const window = 5
	want := direct(t, 40, window)
	for _, c := range []struct {
		name  string
		delay time.Duration // of the GPU stage
		// cancel is called with the cancel function when window w starts on the chip.
		at int
	}{
		{"while running", 0, 7},
		{"while the chip waits for a slot", 3 * time.Millisecond, 9},
		{"at the first window", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			ec := testChip(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wc := &watchChip{Chip: ec, onWindow: func(w int) {
				if w == c.at {
					cancel()
				}
			}}
			dev := &slowDevice{Device: cpuDevice(t), delay: c.delay}
			var col collector
			p := newPipeline(t, wc, dev, Opts{Window: window, Depth: 3, Input: input, OnResult: col.add})
			st, err := p.Run(ctx, 0)
			require.ErrorIs(t, err, context.Canceled)
			// The window cancelled mid-run is dropped; every window before it is delivered.
			require.Equal(t, c.at, st.Windows)
			require.Len(t, col.got, c.at)
			if c.at > 0 {
				require.Equal(t, want[:c.at], col.got)
			}
			// The pipeline can run again after a cancellation.
			st, err = p.Run(context.Background(), 2)
			require.NoError(t, err)
			require.Equal(t, 2, st.Windows)
		})
	}
}

type failingChip struct {
	Chip
	at  int
	err error
	n   int
}

func (c *failingChip) RunWindow(ctx context.Context, in [][]chip.Spike, counts []int32) error {
	c.n++
	if c.n > c.at {
		return c.err
	}
	return c.Chip.RunWindow(ctx, in, counts)
}

func TestPipelineErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name  string
		chip  func(Chip) Chip
		dev   func(gpu.Device) gpu.Device
		onRes func(Result) error
	}{
		{name: "chip fails", chip: func(c Chip) Chip { return &failingChip{Chip: c, at: 4, err: boom} }},
		{name: "gpu fails", dev: func(d gpu.Device) gpu.Device { return &slowDevice{Device: d, fail: boom} }},
		{name: "result callback fails", onRes: func(r Result) error {
			if r.Window == 2 {
				return boom
			}
			return nil
		}},
		{name: "result callback fails while the chip waits", chip: func(c Chip) Chip { return c },
			dev: func(d gpu.Device) gpu.Device { return &slowDevice{Device: d, delay: 2 * time.Millisecond} },
			onRes: func(r Result) error {
				if r.Window == 1 {
					return boom
				}
				return nil
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			var ch Chip = testChip(t)
			if c.chip != nil {
				ch = c.chip(ch)
			}
			dev := cpuDevice(t)
			if c.dev != nil {
				dev = c.dev(dev)
			}
			p := newPipeline(t, ch, dev, Opts{Window: 3, Depth: 2, Input: input, OnResult: c.onRes})
			_, err := p.Run(context.Background(), 20)
			require.ErrorIs(t, err, boom)
			require.ErrorContains(t, err, "sched: ")
		})
	}
}

func TestNewErrors(t *testing.T) {
	ec := testChip(t)
	dev := cpuDevice(t)
	for _, c := range []struct {
		name  string
		layer gpu.Layer
		opts  Opts
		msg   string
	}{
		{"layer width", gpu.Layer{M: 1, N: 3, W: make([]int32, 3)}, Opts{}, "readout takes 3 counts, the chip has 24 outputs"},
		{"bad layer", gpu.Layer{M: 1, N: nOut}, Opts{}, "0 weights"},
		{"window", layer(), Opts{Window: -1}, "window of -1 steps"},
		{"depth", layer(), Opts{Depth: -2}, "depth -2"},
		{"batch", layer(), Opts{Depth: 2, Batch: 3}, "batch 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(ec, dev, c.layer, c.opts)
			require.ErrorContains(t, err, c.msg)
		})
	}
	_, err := NewDeviceChip(ec.Device(), Ports{Output: 0})
	require.ErrorIs(t, err, ErrConfig)
	_, err = NewDeviceChip(nil, Ports{Output: 0, Count: 3})
	require.ErrorIs(t, err, ErrConfig)
	_, err = New(nil, dev, layer(), Opts{})
	require.ErrorIs(t, err, ErrConfig)
}

func TestRunBusy(t *testing.T) {
	ec := testChip(t)
	release := make(chan struct{})
	started := make(chan struct{})
	wc := &watchChip{Chip: ec, onWindow: func(w int) {
		if w == 0 {
			close(started)
			<-release
		}
	}}
	p := newPipeline(t, wc, cpuDevice(t), Opts{Window: 1})
	done := make(chan error)
	go func() { _, err := p.Run(context.Background(), 2); done <- err }()
	<-started
	_, err := p.Run(context.Background(), 1)
	require.ErrorIs(t, err, ErrBusy)
	close(release)
	require.NoError(t, <-done)
}

func TestPatterns(t *testing.T) {
	p := Patterns{Inputs: 20, Classes: 5, High: 0.5, Low: 0.05, Seed: 3}
	require.NoError(t, p.Validate())
	src := p.Source()
	hits := make([]int, 20)
	const windows, steps = 50, 40
	for w := range windows {
		for s := range steps {
			for _, sp := range src(w, s, nil) {
				require.Equal(t, int32(1), sp.Payload)
				if int(sp.Neuron)%5 == p.Class(w) {
					hits[sp.Neuron]++
				}
			}
		}
	}
	for i, h := range hits {
		rate := float64(h) / (windows / 5 * steps)
		require.InDelta(t, 0.5, rate, 0.1, "neuron %d", i)
	}
	require.Equal(t, src(7, 3, nil), src(7, 3, nil), "deterministic")
	for _, bad := range []Patterns{{Inputs: 0, Classes: 1}, {Inputs: 2, Classes: 3}, {Inputs: 2, Classes: 1, High: 2}} {
		require.ErrorIs(t, bad.Validate(), ErrConfig)
	}
	all := Patterns{Inputs: 3, Classes: 1, High: 1}
	require.Len(t, all.Source()(0, 0, nil), 3)
}

// TestBegin checks the Begin hook: called once per window, in order, before the window's
// input is asked for; a Begin that blocks is ended by cancelling the run; its error stops
// the run.
func TestBegin(t *testing.T) {
	noLeaks(t)
	boom := errors.New("boom")
	var begun, before []int // windows begun, and the last window whose input was asked for then
	asked := -1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var col collector
	p := newPipeline(t, testChip(t), cpuDevice(t), Opts{Window: 4, Depth: 2,
		Input: func(w, s int, dst []chip.Spike) []chip.Spike {
			if s == 0 {
				asked = w
			}
			return input(w, s, dst)
		},
		Begin: func(ctx context.Context, w int) error {
			begun, before = append(begun, w), append(before, asked)
			if w == 5 {
				cancel()
				<-ctx.Done() // blocks, as a Begin waiting for input does, until the run ends
				return ctx.Err()
			}
			return nil
		},
		OnResult: col.add})
	st, err := p.Run(ctx, 0)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5}, begun)
	require.Equal(t, []int{-1, 0, 1, 2, 3, 4}, before, "each window begins after the one before it was given its input")
	require.Equal(t, 5, st.Windows)
	require.Equal(t, direct(t, 5, 4), col.got)

	p = newPipeline(t, testChip(t), cpuDevice(t), Opts{Window: 2, Begin: func(ctx context.Context, w int) error {
		if w == 3 {
			return boom
		}
		return nil
	}})
	st, err = p.Run(context.Background(), 10)
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "sched: chip stage: window 3")
	require.Equal(t, 3, st.Windows)
}

// TestFires checks that the rate encoder is Patterns' spikes: a window of the pattern's
// rates gives its spikes.
func TestFires(t *testing.T) {
	p := Patterns{Inputs: 20, Classes: 5, High: 0.5, Low: 0.05, Seed: 9}
	src := p.Source()
	for w := range 7 {
		for s := range 30 {
			var want []chip.Spike
			for i := range p.Inputs {
				r := p.Low
				if i%5 == p.Class(w) {
					r = p.High
				}
				if Fires(p.Seed, w, s, i, Threshold(r)) {
					want = append(want, chip.Spike{Neuron: i, Payload: 1})
				}
			}
			require.Equal(t, want, src(w, s, nil))
		}
	}
	require.Equal(t, uint64(0), Threshold(0))
	require.Equal(t, uint64(1)<<63, Threshold(0.5))
	require.Equal(t, ^uint64(0), Threshold(1))
	require.False(t, Fires(1, 2, 3, 4, 0), "probability 0 never fires")
}
