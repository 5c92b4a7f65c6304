// Package pipeline assembles the chip→GPU pipeline for a network: the network image loaded
// on a device, the ports it reads and writes, a GPU backend with the readout layer, and
// runtime/sched's pipeline between them. lrctl pipeline is a thin front end over it, and
// hostlib builds its inference backend on it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/sched"
)

// ErrConfig is wrapped by errors about a network, layer or options that do not fit together.
var ErrConfig = errors.New("pipeline: bad configuration")

// Opts configures a pipeline. The zero value gives the documented defaults.
type Opts struct {
	// Input and Output name the network's input port (where the spikes go) and output port
	// (whose spike counts feed the readout). Default: the network's first of each.
	Input, Output string
	// GPU is the GPU backend: gpu.Auto (default), gpu.CUDA or gpu.CPU.
	GPU string
	// Sched are the scheduler's options (window, depth, batch, input source, result callback).
	Sched sched.Opts
}

// Pipeline is a network running on a device beside a readout on a GPU. Close it.
type Pipeline struct {
	dev    device.Device
	img    *image.Image
	ports  sched.Ports
	layer  gpu.Layer
	gpu    gpu.Device
	p      *sched.Pipeline
	chip   *sched.DeviceChip
	window int
}

// New loads img on dev (which the pipeline uses from then on but does not own), opens the GPU
// backend and builds the pipeline. The layer must read as many counts as the output port has
// neurons.
func New(ctx context.Context, dev device.Device, img *image.Image, layer gpu.Layer, opts Opts) (*Pipeline, error) {
	ports, err := sched.ImagePorts(img, opts.Input, opts.Output)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", img.Name, err)
	}
	if ports.Input < 0 && opts.Sched.Input != nil {
		return nil, fmt.Errorf("%w: network %q has no input port for the input", ErrConfig, img.Name)
	}
	if err := dev.Load(ctx, img); err != nil {
		return nil, fmt.Errorf("pipeline: loading %q on %s: %w", img.Name, dev, err)
	}
	ec, err := sched.NewDeviceChip(dev, ports)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	backend := opts.GPU
	if backend == "" {
		backend = gpu.Auto
	}
	g, err := gpu.Open(backend, gpu.Opts{})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p, err := sched.New(ec, g, layer, opts.Sched)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	window := opts.Sched.Window
	if window == 0 {
		window = sched.DefaultWindow
	}
	return &Pipeline{dev: dev, img: img, ports: ports, layer: layer, gpu: g, p: p, chip: ec, window: window}, nil
}

// Run runs windows windows and returns the run's figures (see sched.Pipeline.Run).
func (p *Pipeline) Run(ctx context.Context, windows int) (sched.Stats, error) {
	return p.p.Run(ctx, windows)
}

// Ports says which ports the pipeline uses.
func (p *Pipeline) Ports() sched.Ports { return p.ports }

// Image is the loaded network.
func (p *Pipeline) Image() *image.Image { return p.img }

// GPU describes the GPU backend.
func (p *Pipeline) GPU() gpu.Info { return p.gpu.Info() }

// Close releases the scheduler and the GPU backend (not the device).
func (p *Pipeline) Close() error {
	return errors.Join(p.p.Close(), p.gpu.Close())
}

// Report is what an evaluation on labelled patterns measured: what `lrctl pipeline` prints.
type Report struct {
	Network     string             `json:"network"`
	Readout     string             `json:"readout"`
	Device      string             `json:"device"`
	GPU         gpu.Info           `json:"gpu"`
	Input       string             `json:"input"`
	Outputs     int                `json:"outputs"`
	Window      int                `json:"window"`
	Depth       int                `json:"depth"`
	Batch       int                `json:"batch"`
	Windows     int                `json:"windows"`
	Steps       int64              `json:"steps"`
	Spikes      int64              `json:"output_spikes"`
	Launches    int                `json:"launches"`
	ElapsedS    float64            `json:"elapsed_s"`
	WindowsPerS float64            `json:"windows_per_s"`
	StepsPerS   float64            `json:"steps_per_s"`
	MaxInFlight int                `json:"max_in_flight"`
	StalledS    float64            `json:"chip_stalled_s"`
	Latency     map[string]Latency `json:"latency"`
	Classes     int                `json:"classes"`
	Accuracy    float64            `json:"accuracy"`
	Stats       sched.Stats        `json:"-"`
}

// Latency is one stage's latency, in microseconds.
type Latency struct {
	Count int     `json:"count"`
	P50US float64 `json:"p50_us"`
	P90US float64 `json:"p90_us"`
	P99US float64 `json:"p99_us"`
	MaxUS float64 `json:"max_us"`
}

func latencyOf(s sched.Summary) Latency {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return Latency{Count: s.Count, P50US: us(s.P50), P90US: us(s.P90), P99US: us(s.P99), MaxUS: us(s.Max)}
}

// Evaluate runs windows windows of the labelled patterns pat (whose Inputs it sets to the
// input port's width) on dev and measures throughput, latency and the readout's accuracy:
// window w shows class pat.Class(w), and a window counts as right when the argmax names it.
// opts.Sched.Input and OnResult are the evaluation's own. The report is filled as far as
// the run got when it fails.
func Evaluate(ctx context.Context, dev device.Device, img *image.Image, layer gpu.Layer, pat sched.Patterns, windows int, opts Opts) (Report, error) {
	ports, err := sched.ImagePorts(img, opts.Input, opts.Output)
	if err != nil {
		return Report{}, fmt.Errorf("pipeline: %s: %w", img.Name, err)
	}
	if ports.Input < 0 {
		return Report{}, fmt.Errorf("%w: network %q has no input port to show the patterns on", ErrConfig, img.Name)
	}
	pat.Inputs = img.Inputs[ports.Input].Size
	if pat.Classes == 0 {
		pat.Classes = layer.M
	}
	if err := pat.Validate(); err != nil {
		return Report{}, fmt.Errorf("pipeline: %w", err)
	}
	right, seen := 0, 0
	opts.Sched.Input = pat.Source()
	opts.Sched.OnResult = func(r sched.Result) error {
		seen++
		if r.Argmax == pat.Class(r.Window) {
			right++
		}
		return nil
	}
	p, err := New(ctx, dev, img, layer, opts)
	if err != nil {
		return Report{}, err
	}
	defer p.Close()
	st, runErr := p.Run(ctx, windows)
	o := opts.Sched
	if o.Depth == 0 {
		o.Depth = sched.DefaultDepth
	}
	if o.Batch == 0 {
		o.Batch = o.Depth
	}
	rep := Report{
		Network: img.Name, Device: dev.String(), GPU: p.GPU(), Input: img.Inputs[ports.Input].Name, Outputs: ports.Count,
		Window: p.window, Depth: o.Depth, Batch: o.Batch,
		Windows: st.Windows, Steps: st.Steps, Spikes: st.Spikes, Launches: st.Launches,
		ElapsedS: st.Elapsed.Seconds(), WindowsPerS: st.WindowsPerSec(), StepsPerS: st.StepsPerSec(),
		MaxInFlight: st.MaxInFlight, StalledS: st.Stalled.Seconds(),
		Latency: map[string]Latency{
			"chip": latencyOf(st.Chip), "queue": latencyOf(st.Queue), "gpu": latencyOf(st.GPU),
			"kernel": latencyOf(st.Kernel), "end_to_end": latencyOf(st.EndToEnd),
		},
		Classes: pat.Classes, Stats: st,
	}
	if seen > 0 {
		rep.Accuracy = float64(right) / float64(seen)
	}
	if runErr != nil {
		return rep, fmt.Errorf("pipeline: %w", runErr)
	}
	return rep, nil
}
