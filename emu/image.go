package emu

import (
	"fmt"

	"github.com/lrchip/lrchip/firmware/image"
)

// LoadImage configures a chip that has nothing configured yet (no cores, ports or probes) from
// a network image: it sets each core of the image, adds the image's input ports in order (image
// input i is the chip's input port i), connects every connection in order, and adds the
// image's output ports in order (image output i is the chip's output port i, however many
// cores its neurons are spread over: see image.Image.OutputBlocks). The image is validated first, and must fit the chip's size; on an
// error the chip may be partly configured and should be dropped.
func (c *Chip) LoadImage(img *image.Image) error {
	if err := img.Validate(); err != nil {
		return fmt.Errorf("emu: load image: %w", err)
	}
	if !c.size.Holds(img.Size) {
		return fmt.Errorf("emu: load image: it needs a %s chip, this one is %s: %w", img.Size, c.size, ErrLimit)
	}
	if !c.blank() {
		return fmt.Errorf("emu: load image: %w: the chip is already configured", ErrConfig)
	}
	for _, k := range img.Cores {
		cfg := CoreConfig{Program: k.Program, Neurons: k.Neurons, Consts: k.Consts, Params: k.Params, State: k.State}
		if err := c.SetCore(k.Index, cfg); err != nil {
			return fmt.Errorf("emu: load image: %w", err)
		}
	}
	for _, in := range img.Inputs {
		if _, err := c.AddInput(in.Size); err != nil {
			return fmt.Errorf("emu: load image: input %q: %w", in.Name, err)
		}
	}
	for i, x := range img.Conns {
		kind := FromCore
		if x.Kind == image.FromInput {
			kind = FromInput
		}
		err := c.Connect(Connection{Kind: kind, Src: x.Src, SrcStart: x.SrcStart, SrcCount: x.SrcCount,
			Dst: x.Dst, DstStart: x.DstStart, DstCount: x.DstCount,
			Weights: x.Weights, Index: x.Index, Targets: x.Targets,
			SignMode: x.SignMode, WeightBits: x.WeightBits, WeightExp: x.WeightExp, Graded: x.Graded})
		if err != nil {
			return fmt.Errorf("emu: load image: connection %d (%s): %w", i, x.Name, err)
		}
	}
	for i, o := range img.Outputs {
		if _, err := c.addOutput(img.OutputBlocks(i)); err != nil {
			return fmt.Errorf("emu: load image: output %q: %w", o.Name, err)
		}
	}
	return nil
}

// blank reports whether nothing has been configured on the chip.
func (c *Chip) blank() bool {
	for _, k := range c.cores {
		if k != nil {
			return false
		}
	}
	return len(c.inputs) == 0 && len(c.outputs) == 0 && len(c.probes) == 0 && c.t == 0
}
