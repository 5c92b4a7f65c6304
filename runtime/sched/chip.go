package sched

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/firmware/image"
)

// Chip is the chip side of the pipeline: anything that runs windows of timesteps and counts
// output spikes. DeviceChip adapts any device.Device.
type Chip interface {
	// Outputs returns the number of output neurons: the length of a window's counts.
	Outputs() int
	// RunWindow runs len(in) timesteps. Before step s it injects in[s] on the input port
	// (only each spike's Neuron and Payload count: the adapter sets Port and Step)
	// (for delivery with the chip's one step of delay); after each step it adds one to
	// counts[n] for every spike of output neuron n. counts has Outputs() entries and the
	// caller zeroes it. RunWindow returns the context's error if it is cancelled.
	RunWindow(ctx context.Context, in [][]chip.Spike, counts []int32) error
}

// Ports names the ports of a loaded network that the pipeline uses.
type Ports struct {
	Input  int // input port for the injected spikes; -1: the network has none
	Output int // output port whose spikes are counted
	Count  int // neurons of the output port: the length of a window's counts
}

// ImagePorts returns the ports of a network image that the pipeline uses: the input port
// named input and the output port named output. An empty name takes the image's first input
// or output; an image without inputs gives Input -1.
func ImagePorts(img *image.Image, input, output string) (Ports, error) {
	p := Ports{Input: -1}
	switch {
	case input != "":
		if p.Input = img.Input(input); p.Input < 0 {
			return p, fmt.Errorf("sched: %w: the network has no input %q", ErrConfig, input)
		}
	case len(img.Inputs) > 0:
		p.Input = 0
	}
	switch {
	case output != "":
		if p.Output = img.Output(output); p.Output < 0 {
			return p, fmt.Errorf("sched: %w: the network has no output %q", ErrConfig, output)
		}
	case len(img.Outputs) == 0:
		return p, fmt.Errorf("sched: %w: the network has no output", ErrConfig)
	}
	p.Count = img.Outputs[p.Output].Count
	return p, nil
}

// DeviceChip runs the pipeline's windows on a device that has the network loaded: each
// window is one Inject of all its spikes, one Run and one Read, so a device in another
// process costs one round trip per window, not per step. It is not safe for concurrent use,
// and nothing else may use the device while a pipeline runs it.
type DeviceChip struct {
	dev   device.Device
	ports Ports
	in    []chip.Spike
	out   chip.Output
}

// NewDeviceChip adapts a device with a network loaded whose ports are ports.
func NewDeviceChip(dev device.Device, ports Ports) (*DeviceChip, error) {
	if dev == nil {
		return nil, fmt.Errorf("sched: chip: %w: no device", ErrConfig)
	}
	if ports.Count < 1 || ports.Output < 0 {
		return nil, fmt.Errorf("sched: chip: %w: output port %d of %d neurons", ErrConfig, ports.Output, ports.Count)
	}
	return &DeviceChip{dev: dev, ports: ports}, nil
}

// Outputs returns the number of output neurons.
func (c *DeviceChip) Outputs() int { return c.ports.Count }

// Device returns the device.
func (c *DeviceChip) Device() device.Device { return c.dev }

// RunWindow implements Chip.
func (c *DeviceChip) RunWindow(ctx context.Context, in [][]chip.Spike, counts []int32) error {
	if len(counts) != c.ports.Count {
		return fmt.Errorf("sched: chip: %w: %d counts for %d outputs", ErrConfig, len(counts), c.ports.Count)
	}
	t := c.dev.Time()
	c.in = c.in[:0]
	for s, step := range in {
		if len(step) > 0 && c.ports.Input < 0 {
			return fmt.Errorf("sched: chip: %w: input spikes for a network without an input port", ErrConfig)
		}
		for _, sp := range step {
			c.in = append(c.in, chip.Spike{Step: t + uint64(s) + 1, Port: c.ports.Input, Neuron: sp.Neuron, Payload: sp.Payload})
		}
	}
	if len(c.in) > 0 {
		if err := c.dev.Inject(ctx, c.in); err != nil {
			return fmt.Errorf("sched: chip: %w", err)
		}
	}
	if err := c.dev.Run(ctx, len(in)); err != nil {
		return fmt.Errorf("sched: chip: %w", err)
	}
	c.out.Reset()
	if err := c.dev.Read(ctx, &c.out); err != nil {
		return fmt.Errorf("sched: chip: %w", err)
	}
	for _, s := range c.out.Spikes {
		if s.Port != c.ports.Output {
			continue
		}
		if s.Neuron < 0 || s.Neuron >= c.ports.Count {
			return fmt.Errorf("sched: chip: output port %d: neuron %d %w: the port has %d", s.Port, s.Neuron, ErrConfig, c.ports.Count)
		}
		counts[s.Neuron]++
	}
	return nil
}
