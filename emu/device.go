package emu

import (
	"context"
	"fmt"
	"slices"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/firmware/image"
)

// URI names the emulator in this process: the chip model run directly, with no board
// protocol in between. As a board (lrctl info, sensors, validate, flash), emu: is the board
// model emu/board around the same chip model, reached through the driver (emu/register).
const URI = "emu:"

func init() {
	device.Register(URI, func(ctx context.Context, uri string, opts device.Opts) (device.Device, error) {
		if uri != URI {
			return nil, fmt.Errorf("emu: device %q: %w (the in-process emulator is %q)", uri, device.ErrNoDevice, URI)
		}
		return NewDevice(Opts{Size: opts.Size})
	})
}

// Device is the in-process emulator as a device.Device: a chip of a fixed size that loads
// network images, queues input spikes for any later step and collects what every step
// emits. It is not safe for concurrent use.
type Device struct {
	opts    Opts
	chip    *Chip // nil before the first Load
	img     *image.Image
	pending []chip.Spike // injected spikes not yet delivered, by step from head on
	head    int
	sorted  bool // pending[head:] is in step order
	probes  int
	out     chip.Output
	closed  bool
}

// NewDevice returns an emulator of opts.Size with nothing loaded.
func NewDevice(opts Opts) (*Device, error) {
	if opts.Size == (chip.Size{}) {
		opts.Size = chip.Prototype
	}
	if err := opts.Size.Check(); err != nil {
		return nil, fmt.Errorf("emu: %w: %w", ErrLimit, err)
	}
	return &Device{opts: opts, sorted: true}, nil
}

func (d *Device) check(op string) error {
	if d.closed {
		return fmt.Errorf("emu: %s: %w: the device is closed", op, ErrConfig)
	}
	if d.chip == nil {
		return fmt.Errorf("emu: %s: %w: no network loaded", op, ErrConfig)
	}
	return nil
}

// Load implements device.Device.
func (d *Device) Load(ctx context.Context, img *image.Image) error {
	if d.closed {
		return fmt.Errorf("emu: load: %w: the device is closed", ErrConfig)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("emu: load: %w", err)
	}
	c, err := New(d.opts)
	if err != nil {
		return err
	}
	if err := c.LoadImage(img); err != nil {
		return err
	}
	d.chip, d.img = c, img
	d.pending, d.head, d.sorted, d.probes = d.pending[:0], 0, true, 0
	d.out.Reset()
	return nil
}

// Chip returns the chip model of the loaded network (nil before Load), for inspection.
func (d *Device) Chip() *Chip { return d.chip }

// AddProbe implements device.Device.
func (d *Device) AddProbe(ctx context.Context, p chip.Probe) (int, error) {
	if err := d.check("probe"); err != nil {
		return 0, err
	}
	id, err := d.chip.AddProbe(p.Core, p.Field, p.Neurons)
	if err == nil {
		d.probes++
	}
	return id, err
}

// Inject implements device.Device.
func (d *Device) Inject(ctx context.Context, spikes []chip.Spike) error {
	if err := d.check("inject"); err != nil {
		return err
	}
	t := uint64(d.chip.Time())
	for i, s := range spikes {
		if s.Port < 0 || s.Port >= len(d.img.Inputs) {
			return fmt.Errorf("emu: inject: spike %d: %w: no input port %d (the network has %d)", i, ErrConfig, s.Port, len(d.img.Inputs))
		}
		if n := d.img.Inputs[s.Port].Size; s.Neuron < 0 || s.Neuron >= n {
			return fmt.Errorf("emu: inject: spike %d: %w: neuron %d outside input %q of %d", i, ErrConfig, s.Neuron, d.img.Inputs[s.Port].Name, n)
		}
		if s.Step != 0 && s.Step <= t {
			return fmt.Errorf("emu: inject: spike %d: %w: step %d has run (the device is at step %d)", i, ErrConfig, s.Step, t)
		}
	}
	for _, s := range spikes {
		if s.Step == 0 {
			s.Step = t + 1
		}
		if n := len(d.pending); n > d.head && d.pending[n-1].Step > s.Step {
			d.sorted = false
		}
		d.pending = append(d.pending, s)
	}
	return nil
}

// Run implements device.Device.
func (d *Device) Run(ctx context.Context, n int) error {
	if err := d.check("run"); err != nil {
		return err
	}
	if !d.sorted {
		// Stable: of two spikes on one neuron in one step, the later injection wins.
		slices.SortStableFunc(d.pending[d.head:], func(a, b chip.Spike) int {
			return cmpStep(a.Step, b.Step)
		})
		d.sorted = true
	}
	done := ctx.Done()
	c := d.chip
	for range n {
		select {
		case <-done:
			return fmt.Errorf("emu: run: step %d: %w", c.Time()+1, ctx.Err())
		default:
		}
		next := uint64(c.Time()) + 1
		for d.head < len(d.pending) && d.pending[d.head].Step == next {
			s := d.pending[d.head]
			if err := c.Inject(s.Port, s.Neuron, s.Payload); err != nil {
				return err
			}
			d.head++
		}
		c.Step()
		for k := range c.Outputs() {
			d.out.Spikes, _ = c.Output(k, d.out.Spikes)
		}
		for p := range d.probes {
			rows, _ := c.ProbeData(p)
			for _, r := range rows {
				d.out.Samples = append(d.out.Samples, chip.Sample{Probe: p, Step: next, Values: r})
			}
		}
	}
	if d.head == len(d.pending) {
		d.pending, d.head = d.pending[:0], 0
	} else if d.head > len(d.pending)/2 {
		d.pending = append(d.pending[:0], d.pending[d.head:]...)
		d.head = 0
	}
	return nil
}

func cmpStep(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Read implements device.Device.
func (d *Device) Read(ctx context.Context, out *chip.Output) error {
	if d.closed {
		return fmt.Errorf("emu: read: %w: the device is closed", ErrConfig)
	}
	out.Spikes = append(out.Spikes, d.out.Spikes...)
	out.Samples = append(out.Samples, d.out.Samples...)
	d.out.Reset()
	return nil
}

// Time implements device.Device.
func (d *Device) Time() uint64 {
	if d.chip == nil {
		return 0
	}
	return uint64(d.chip.Time())
}

// Size implements device.Device.
func (d *Device) Size() chip.Size { return d.opts.Size }

// String names the device.
func (d *Device) String() string {
	return fmt.Sprintf("%s (in-process emulator, %s)", URI, d.opts.Size)
}

// Close implements device.Device.
func (d *Device) Close() error {
	d.closed, d.chip, d.img = true, nil, nil
	return nil
}

var _ device.Device = (*Device)(nil)
