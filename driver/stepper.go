package driver

import (
	"context"
	"fmt"
	"sort"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
)

// Stepper drives a Device one timestep at a time with the method set of network/run's
// Device (what `lrctl run` uses), numbering ports as emu.Chip.LoadImage does: input port i is
// the image's input i, and output port k is the k-th block of the image's output ports
// (image.Image.OutputBlocks, output 0's blocks first), with neurons relative to the block.
// Each Step is one Run(ctx, 1) with the spikes injected since the last step. It is not safe
// for concurrent use.
type Stepper struct {
	ctx     context.Context
	d       *Device
	blocks  []stepBlock
	pending []Spike
	out     [][]emu.Spike // per chip output port, the last step's spikes
	probes  map[int][][]int32
}

type stepBlock struct {
	port          int // image output port
	offset, count int // its neurons [offset, offset+count)
}

// NewStepper wraps d; every call uses ctx. Closing the Stepper closes d.
func NewStepper(ctx context.Context, d *Device) *Stepper {
	return &Stepper{ctx: ctx, d: d, probes: map[int][][]int32{}}
}

// LoadImage loads img onto the device.
func (s *Stepper) LoadImage(img *image.Image) error {
	if _, err := s.d.LoadImage(s.ctx, img); err != nil {
		return err
	}
	s.blocks = s.blocks[:0]
	for i := range img.Outputs {
		for _, b := range img.OutputBlocks(i) {
			s.blocks = append(s.blocks, stepBlock{port: i, offset: b.Offset, count: b.Count})
		}
	}
	s.out = make([][]emu.Spike, len(s.blocks))
	s.pending, s.probes = nil, map[int][][]int32{}
	return nil
}

// Inject queues a spike on an input port for the next step.
func (s *Stepper) Inject(port, neuron int, payload int32) error {
	s.pending = append(s.pending, Spike{Port: port, Neuron: neuron, Payload: payload})
	return nil
}

// Step runs one timestep and collects its output.
func (s *Stepper) Step() error {
	if len(s.pending) > 0 {
		// Same port together, each neuron once (the last injection wins, as on the chip).
		sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].Port < s.pending[j].Port })
		if err := s.d.Inject(s.ctx, s.pending); err != nil {
			return err
		}
		s.pending = s.pending[:0]
	}
	if _, err := s.d.Run(s.ctx, 1); err != nil {
		return err
	}
	out, err := s.d.Read(s.ctx)
	if err != nil {
		return err
	}
	if out.Dropped > 0 {
		return fmt.Errorf("driver: stepper: %d output records dropped", out.Dropped)
	}
	for k := range s.out {
		s.out[k] = s.out[k][:0]
	}
	for _, sp := range out.Spikes {
		for k, b := range s.blocks {
			if b.port == sp.Port && sp.Neuron >= b.offset && sp.Neuron < b.offset+b.count {
				s.out[k] = append(s.out[k], emu.Spike{Neuron: int32(sp.Neuron - b.offset), Payload: sp.Payload})
				break
			}
		}
	}
	for _, p := range out.Probes {
		s.probes[p.Probe] = append(s.probes[p.Probe], p.Values)
	}
	return nil
}

// Output appends the last step's spikes of chip output port k to dst.
func (s *Stepper) Output(k int, dst []emu.Spike) ([]emu.Spike, error) {
	if k < 0 || k >= len(s.out) {
		return dst, fmt.Errorf("driver: stepper: no output port %d (the image has %d blocks)", k, len(s.out))
	}
	return append(dst, s.out[k]...), nil
}

// AddProbe records a field of some neurons of a core after every step.
func (s *Stepper) AddProbe(core int, f emu.Field, neurons []int) (int, error) {
	kind, index := ProbeState, f.Index
	switch f.Kind {
	case emu.FieldInput:
		kind, index = ProbeInput, 0
	case emu.FieldSpike:
		kind, index = ProbeSpike, 0
	}
	return s.d.AddProbe(s.ctx, core, kind, index, neurons)
}

// ProbeData returns what a probe recorded since the last call, one row per step.
func (s *Stepper) ProbeData(probe int) ([][]int32, error) {
	rows := s.probes[probe]
	delete(s.probes, probe)
	return rows, nil
}

// Close closes the device.
func (s *Stepper) Close() error { return s.d.Close() }
