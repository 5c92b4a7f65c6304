package sched

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
)

// Spike is one input spike: a neuron of the chip's input port and its payload (1 for a
// binary spike; graded payloads saturate to 24 bits on the chip).
type Spike struct {
	Neuron  int32
	Payload int32
}

// Chip is the chip side of the pipeline: anything that runs windows of timesteps and counts
// output spikes. EmuChip adapts the in-process emulator; a driver.Device will be adapted
// the same way.
type Chip interface {
	// Outputs returns the number of output neurons: the length of a window's counts.
	Outputs() int
	// RunWindow runs len(in) timesteps. Before step s it injects in[s] on the input port
	// (for delivery with the chip's one step of delay); after each step it adds one to
	// counts[n] for every spike of output neuron n. counts has Outputs() entries and the
	// caller zeroes it. RunWindow returns the context's error if it is cancelled between
	// steps.
	RunWindow(ctx context.Context, in [][]Spike, counts []int32) error
}

// EmuPorts names the ports of an emulated network that the pipeline uses.
type EmuPorts struct {
	Input int // input port for the injected spikes; -1: the network has none
	// Outputs are the chip output ports whose spikes are counted: neuron j of Outputs[i]
	// is counted in counts[Outputs[i].Offset+j]. A network's output that spans several
	// cores is several chip ports (see ImagePorts).
	Outputs []EmuOutput
}

// EmuOutput is one chip output port of Count neurons, counted from Offset on.
type EmuOutput struct {
	Port, Offset, Count int
}

// ImagePorts returns the ports of a network image as the emulator numbers them once it has
// loaded the image (emu.Chip.LoadImage): the input port named input and the chip output
// ports of the output named output. An empty name takes the image's first input or output;
// an image without inputs gives Input -1.
func ImagePorts(img *image.Image, input, output string) (EmuPorts, error) {
	p := EmuPorts{Input: -1}
	switch {
	case input != "":
		if p.Input = img.Input(input); p.Input < 0 {
			return p, fmt.Errorf("sched: %w: the network has no input %q", ErrConfig, input)
		}
	case len(img.Inputs) > 0:
		p.Input = 0
	}
	out := 0
	if output != "" {
		if out = img.Output(output); out < 0 {
			return p, fmt.Errorf("sched: %w: the network has no output %q", ErrConfig, output)
		}
	} else if len(img.Outputs) == 0 {
		return p, fmt.Errorf("sched: %w: the network has no output", ErrConfig)
	}
	port := 0 // chip output ports are the outputs' blocks, in order
	for i := range img.Outputs {
		for _, b := range img.OutputBlocks(i) {
			if i == out {
				p.Outputs = append(p.Outputs, EmuOutput{Port: port, Offset: b.Offset, Count: b.Count})
			}
			port++
		}
	}
	return p, nil
}

// Stepper is a chip driven one timestep at a time: the in-process emulator, or a device
// opened through the driver (driver.Stepper, for emu:unix: and boards).
type Stepper interface {
	Inject(port, neuron int, payload int32) error
	Step() error
	Output(port int, dst []emu.Spike) ([]emu.Spike, error)
}

// emuStepper gives emu.Chip the Stepper method set (its Step cannot fail).
type emuStepper struct{ *emu.Chip }

func (e emuStepper) Step() error { e.Chip.Step(); return nil }

// EmuChip drives a chip one step at a time: the in-process emulator (NewEmuChip) or any
// Stepper (NewStepperChip). It is not safe for concurrent use, and nothing else may step the
// chip while a pipeline runs it.
type EmuChip struct {
	c     Stepper
	emu   *emu.Chip // nil unless the chip is in-process
	ports EmuPorts
	n     int
	buf   []emu.Spike
}

// NewEmuChip adapts an in-process emulator. The ports must exist on c.
func NewEmuChip(c *emu.Chip, ports EmuPorts) (*EmuChip, error) {
	if c == nil {
		return nil, fmt.Errorf("sched: emu chip: %w: nil chip", ErrConfig)
	}
	e, err := NewStepperChip(emuStepper{c}, ports)
	if err != nil {
		return nil, err
	}
	e.emu = c
	return e, nil
}

// NewStepperChip adapts any chip driven step by step, such as a device opened through the
// driver. The ports must exist on it.
func NewStepperChip(c Stepper, ports EmuPorts) (*EmuChip, error) {
	if c == nil {
		return nil, fmt.Errorf("sched: chip: %w: nil chip", ErrConfig)
	}
	if len(ports.Outputs) == 0 {
		return nil, fmt.Errorf("sched: emu chip: %w: no output ports", ErrConfig)
	}
	n := 0
	for _, o := range ports.Outputs {
		if o.Offset < 0 || o.Count < 1 {
			return nil, fmt.Errorf("sched: emu chip: %w: output port %d: offset %d, %d neurons", ErrConfig, o.Port, o.Offset, o.Count)
		}
		if _, err := c.Output(o.Port, nil); err != nil {
			return nil, fmt.Errorf("sched: emu chip: %w: %w", ErrConfig, err)
		}
		n = max(n, o.Offset+o.Count)
	}
	return &EmuChip{c: c, ports: ports, n: n}, nil
}

// Outputs returns the number of output neurons.
func (e *EmuChip) Outputs() int { return e.n }

// Chip returns the in-process emulator, or nil when the chip is elsewhere.
func (e *EmuChip) Chip() *emu.Chip { return e.emu }

// RunWindow implements Chip.
func (e *EmuChip) RunWindow(ctx context.Context, in [][]Spike, counts []int32) error {
	if len(counts) != e.n {
		return fmt.Errorf("sched: emu chip: %w: %d counts for %d outputs", ErrConfig, len(counts), e.n)
	}
	for _, step := range in {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(step) > 0 && e.ports.Input < 0 {
			return fmt.Errorf("sched: emu chip: %w: input spikes for a network without an input port", ErrConfig)
		}
		for _, s := range step {
			if err := e.c.Inject(e.ports.Input, int(s.Neuron), s.Payload); err != nil {
				return fmt.Errorf("sched: emu chip: %w", err)
			}
		}
		if err := e.c.Step(); err != nil {
			return fmt.Errorf("sched: chip: %w", err)
		}
		for _, o := range e.ports.Outputs {
			var err error
			if e.buf, err = e.c.Output(o.Port, e.buf[:0]); err != nil {
				return fmt.Errorf("sched: emu chip: %w", err)
			}
			for _, s := range e.buf {
				if s.Neuron < 0 || int(s.Neuron) >= o.Count {
					return fmt.Errorf("sched: emu chip: output port %d: neuron %d %w: port has %d", o.Port, s.Neuron, ErrConfig, o.Count)
				}
				counts[o.Offset+int(s.Neuron)]++
			}
		}
	}
	return nil
}
