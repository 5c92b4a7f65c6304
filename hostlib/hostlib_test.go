package hostlib_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/hostlib"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/pipeline"
	"github.com/lrchip/lrchip/runtime/sched"
)

const (
	examplePath = "../examples/pipeline/pipeline.yaml"
	inputs      = 20 // the example's input neurons
	classes     = 5
)

// patterns are lrctl pipeline's default input on the example.
var patterns = sched.Patterns{Inputs: inputs, Classes: classes, High: 0.5, Low: 0.05, Seed: 1}

// patternRates are the rates that encode patterns' windows 0..k-1.
func patternRates(k int) []float64 {
	r := make([]float64, k*inputs)
	for w := range k {
		for i := range inputs {
			r[w*inputs+i] = patterns.Low
			if i%classes == patterns.Class(w) {
				r[w*inputs+i] = patterns.High
			}
		}
	}
	return r
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// load opens a host on devs and loads the example on all of them.
func load(t testing.TB, devs []string, spec hostlib.Spec) (*hostlib.Host, *hostlib.Model) {
	t.Helper()
	h, err := hostlib.Open(ctxT(t), hostlib.Opts{Devices: devs})
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	if spec.Name == "" {
		spec.Name = "example"
	}
	if spec.Path == "" && spec.Network == nil && spec.Image == nil {
		spec.Path = examplePath
	}
	if spec.GPU == "" {
		spec.GPU = gpu.CPU
	}
	m, err := h.Load(ctxT(t), spec)
	require.NoError(t, err)
	return h, m
}

// reference runs lrctl pipeline's pipeline (runtime/pipeline) on a fresh emu: for windows
// windows of src, and returns each window's result.
func reference(t testing.TB, windows, window int, src sched.Source) []sched.Result {
	t.Helper()
	n, err := network.Load(examplePath)
	require.NoError(t, err)
	img, err := network.Map(n, chip.Prototype)
	require.NoError(t, err)
	layer, err := gpu.ReadLayerFile("../examples/pipeline/readout.json")
	require.NoError(t, err)
	dev, err := device.Open(ctxT(t), "emu:", device.Opts{})
	require.NoError(t, err)
	defer dev.Close()
	var got []sched.Result
	p, err := pipeline.New(ctxT(t), dev, img, layer, pipeline.Opts{GPU: gpu.CPU, Sched: sched.Opts{Window: window, Input: src,
		OnResult: func(r sched.Result) error { got = append(got, r); return nil }}})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Run(ctxT(t), windows)
	require.NoError(t, err)
	return got
}

func requireSame(t testing.TB, want []sched.Result, got hostlib.Result) {
	t.Helper()
	require.Equal(t, len(want), got.Windows)
	for w, r := range want {
		require.Equal(t, r.Argmax, got.Class[w], "window %d", w)
		require.Equal(t, r.Scores, got.Scores[w*classes:(w+1)*classes], "window %d", w)
		require.Equal(t, r.Counts, got.Counts[w*len(r.Counts):(w+1)*len(r.Counts)], "window %d", w)
	}
}

// TestSameBitsAsPipeline: a request of K windows of lrctl pipeline's patterns gives its K
// windows' counts, scores and classes, and so the accuracy pipeline.Evaluate reports.
func TestSameBitsAsPipeline(t *testing.T) {
	const k = 60
	want := reference(t, k, sched.DefaultWindow, patterns.Source())
	_, m := load(t, []string{"emu:"}, hostlib.Spec{})
	info := m.Info()
	require.Equal(t, hostlib.Info{Name: "example", Network: "pipeline", Input: "in", Output: "out", Inputs: 20, Outputs: 32,
		Scores: 5, Window: 100, MaxWindows: hostlib.DefaultMaxWindows, Seed: 1, GPU: gpu.CPU}, info)
	for range 2 { // twice: the second request starts from a fresh state as well
		got, err := m.Infer(ctxT(t), hostlib.Input{Rates: patternRates(k)})
		require.NoError(t, err)
		requireSame(t, want, got)
		require.Contains(t, got.Device, "emu:")
		require.Positive(t, got.Latency)
	}

	// The accuracy lrctl pipeline prints.
	n, err := network.Load(examplePath)
	require.NoError(t, err)
	img, err := network.Map(n, chip.Prototype)
	require.NoError(t, err)
	layer, err := gpu.ReadLayerFile("../examples/pipeline/readout.json")
	require.NoError(t, err)
	dev, err := device.Open(ctxT(t), "emu:", device.Opts{})
	require.NoError(t, err)
	defer dev.Close()
	rep, err := pipeline.Evaluate(ctxT(t), dev, img, layer, sched.Patterns{High: 0.5, Low: 0.05, Seed: 1}, k, pipeline.Opts{GPU: gpu.CPU})
	require.NoError(t, err)
	got, err := m.Infer(ctxT(t), hostlib.Input{Rates: patternRates(k)})
	require.NoError(t, err)
	right := 0
	for w, c := range got.Class {
		if c == patterns.Class(w) {
			right++
		}
	}
	require.Equal(t, rep.Accuracy, float64(right)/k)
}

// TestSpikesAndRates: explicit spikes give what the same spikes give lrctl pipeline's
// pipeline; rates given once hold for every window; an explicit spike adds to the encoded.
func TestSpikesAndRates(t *testing.T) {
	const k, window = 3, 40
	_, m := load(t, []string{"emu:"}, hostlib.Spec{Window: window})
	rng := rand.New(rand.NewPCG(1, 2))
	var spikes []hostlib.Spike
	byStep := map[[2]int][]chip.Spike{}
	for range 400 {
		s := hostlib.Spike{Step: uint32(rng.IntN(k * window)), Neuron: uint32(rng.IntN(inputs)), Payload: 1}
		spikes = append(spikes, s)
		key := [2]int{int(s.Step) / window, int(s.Step) % window}
		byStep[key] = append(byStep[key], chip.Spike{Neuron: int(s.Neuron), Payload: 1})
	}
	want := reference(t, k, window, func(w, s int, dst []chip.Spike) []chip.Spike { return append(dst, byStep[[2]int{w, s}]...) })
	got, err := m.Infer(ctxT(t), hostlib.Input{Spikes: spikes})
	require.NoError(t, err)
	requireSame(t, want, got) // k windows: enough for the last spike

	// One row of rates for all windows.
	row := patternRates(1)
	same := func(w, s int, dst []chip.Spike) []chip.Spike {
		for i := range inputs {
			if sched.Fires(7, w, s, i, sched.Threshold(row[i])) {
				dst = append(dst, chip.Spike{Neuron: i, Payload: 1})
			}
		}
		return dst
	}
	got, err = m.Infer(ctxT(t), hostlib.Input{Windows: k, Rates: row, Seed: 7})
	require.NoError(t, err)
	requireSame(t, reference(t, k, window, same), got)

	// Rates and spikes together.
	both := func(w, s int, dst []chip.Spike) []chip.Spike {
		return append(same(w, s, dst), byStep[[2]int{w, s}]...)
	}
	got, err = m.Infer(ctxT(t), hostlib.Input{Windows: k, Rates: row, Seed: 7, Spikes: spikes})
	require.NoError(t, err)
	requireSame(t, reference(t, k, window, both), got)
}

func TestInputErrors(t *testing.T) {
	_, m := load(t, []string{"emu:"}, hostlib.Spec{MaxWindows: 8, Window: 10})
	for _, c := range []struct {
		name string
		in   hostlib.Input
		msg  string
	}{
		{"rates not whole windows", hostlib.Input{Rates: make([]float64, 21)}, "21 rates is not a whole number of windows of 20"},
		{"NaN", hostlib.Input{Rates: append(make([]float64, 19), math.NaN())}, "rate NaN of input neuron 19 in window 0"},
		{"negative", hostlib.Input{Rates: append(make([]float64, 25), -0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)}, "rate -0.5 of input neuron 5 in window 1"},
		{"above 1", hostlib.Input{Rates: append(make([]float64, 3), 1.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)}, "rate 1.5"},
		{"infinite", hostlib.Input{Rates: append(make([]float64, 3), math.Inf(1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)}, "rate +Inf"},
		{"too many windows", hostlib.Input{Windows: 9}, "9 windows, want 1..8"},
		{"negative windows", hostlib.Input{Windows: -1}, "-1 windows"},
		{"too many rate windows", hostlib.Input{Rates: make([]float64, 9*20)}, "9 windows of rates, at most 8"},
		{"rate windows and windows disagree", hostlib.Input{Windows: 3, Rates: make([]float64, 2*20)}, "2 windows of rates for a request of 3 windows"},
		{"spike neuron", hostlib.Input{Spikes: []hostlib.Spike{{Step: 1, Neuron: 20}}}, "spike 0: neuron 20 outside the input port of 20"},
		{"spike after the windows", hostlib.Input{Windows: 2, Spikes: []hostlib.Spike{{Step: 5}, {Step: 20}}}, "a spike at step 20, after the request's 20 steps"},
		{"spikes need too many windows", hostlib.Input{Spikes: []hostlib.Spike{{Step: 80}}}, "need 9 windows of 10 steps, at most 8"},
		{"huge step", hostlib.Input{Spikes: []hostlib.Spike{{Step: math.MaxUint32}}}, "at most 8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Infer(ctxT(t), c.in)
			require.ErrorIs(t, err, hostlib.ErrInput)
			require.ErrorContains(t, err, c.msg)
			_, err = m.Check(c.in)
			require.ErrorIs(t, err, hostlib.ErrInput)
		})
	}
	w, err := m.Check(hostlib.Input{Spikes: []hostlib.Spike{{Step: 35}}})
	require.NoError(t, err)
	require.Equal(t, 4, w)
	w, err = m.Check(hostlib.Input{})
	require.NoError(t, err)
	require.Equal(t, 1, w, "an empty request runs one window of silence")
}

func TestSpecErrors(t *testing.T) {
	h, err := hostlib.Open(ctxT(t), hostlib.Opts{Devices: []string{"emu:"}})
	require.NoError(t, err)
	defer h.Close()
	layer, err := gpu.ReadLayerFile("../examples/pipeline/readout.json")
	require.NoError(t, err)
	small := gpu.Layer{M: 2, N: 3, W: make([]int32, 6)}
	for _, c := range []struct {
		name string
		spec hostlib.Spec
		err  error
		msg  string
	}{
		{"no name", hostlib.Spec{Path: examplePath}, hostlib.ErrConfig, `model name ""`},
		{"bad name", hostlib.Spec{Name: "a/b", Path: examplePath}, hostlib.ErrConfig, `model name "a/b"`},
		{"no network", hostlib.Spec{Name: "m"}, hostlib.ErrConfig, "give one of a path, a network and an image (0 given)"},
		{"missing file", hostlib.Spec{Name: "m", Path: "nowhere.yaml"}, hostlib.ErrConfig, "nowhere.yaml"},
		{"no readout", hostlib.Spec{Name: "m", Path: examplePath, ReadoutPath: "nowhere.json"}, hostlib.ErrConfig, "readout"},
		{"readout width", hostlib.Spec{Name: "m", Path: examplePath, Readout: &small, GPU: gpu.CPU}, hostlib.ErrConfig, "the readout takes 3 counts, the chip has 32 outputs"},
		{"bad port", hostlib.Spec{Name: "m", Path: examplePath, Input: "nope", GPU: gpu.CPU}, hostlib.ErrConfig, `no input "nope"`},
		{"window", hostlib.Spec{Name: "m", Path: examplePath, Window: -3}, hostlib.ErrConfig, "window of -3 steps"},
		{"no such device", hostlib.Spec{Name: "m", Path: examplePath, Devices: []string{"emu:unix:/nowhere"}}, hostlib.ErrNoDevice, `no free device "emu:unix:/nowhere"`},
		{"device twice", hostlib.Spec{Name: "m", Path: examplePath, Devices: []string{"emu:", "emu:"}}, hostlib.ErrNoDevice, `no free device "emu:"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.Load(ctxT(t), c.spec)
			require.ErrorIs(t, err, c.err)
			require.ErrorContains(t, err, c.msg)
		})
	}
	// The device is free again after the failures, and then taken.
	m, err := h.Load(ctxT(t), hostlib.Spec{Name: "m", Path: examplePath, Readout: &layer, GPU: gpu.CPU})
	require.NoError(t, err)
	_, err = h.Load(ctxT(t), hostlib.Spec{Name: "m", Path: examplePath, GPU: gpu.CPU})
	require.ErrorContains(t, err, `a model named "m" is loaded`)
	_, err = h.Load(ctxT(t), hostlib.Spec{Name: "other", Path: examplePath, GPU: gpu.CPU})
	require.ErrorIs(t, err, hostlib.ErrNoDevice)
	require.Equal(t, []hostlib.DeviceStatus{{URI: "emu:", Device: "emu: (in-process emulator, 8×1024)", Model: "m"}}, h.Devices())
	require.NoError(t, m.Close())
	require.Equal(t, "", h.Devices()[0].Model)
	_, err = h.Load(ctxT(t), hostlib.Spec{Name: "other", Path: examplePath, GPU: gpu.CPU})
	require.NoError(t, err, "a closed model's device is free")
}

var _ = errors.Is
var _ = fmt.Sprint
var _ sync.Mutex
