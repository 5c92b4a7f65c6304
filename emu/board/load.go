package board

import (
	"fmt"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// network is a loaded network image: the chip configured from it and how the image's ports
// map onto the chip's.
type network struct {
	name    string
	chip    *emu.Chip
	inputs  []int          // size of each input port
	outputs [][]outBlock   // per output port of the image, its chip output ports
	probes  []int          // neurons of each probe
	cores   int            // cores in use
	buf     []emu.Spike    // scratch
	spikes  []regmap.Spike // scratch
}

// outBlock is the part of an image output port that one chip output port holds.
type outBlock struct {
	chipPort int
	offset   int32 // port neuron = offset + chip output neuron
}

// emptyNetwork is the board's state after a reset: a chip with nothing configured, which
// steps (the timestep advances) and emits nothing.
func emptyNetwork(size emu.Size) (*network, error) {
	c, err := emu.New(emu.Opts{Size: size})
	if err != nil {
		return nil, err
	}
	return &network{chip: c}, nil
}

// buildNetwork configures a chip of the board's size from a decoded image.
func buildNetwork(size emu.Size, img *image.Image) (*network, error) {
	if img.Size.Cores > size.Cores || img.Size.NeuronsPerCore > size.NeuronsPerCore {
		return nil, fmt.Errorf("image %q needs a %s chip, the board is %s", img.Name, img.Size, size)
	}
	n, err := emptyNetwork(size)
	if err != nil {
		return nil, err
	}
	n.name = img.Name
	c := n.chip
	for _, k := range img.Cores {
		err := c.SetCore(k.Index, emu.CoreConfig{Program: k.Program, Neurons: k.Neurons, Consts: k.Consts, Params: k.Params, State: k.State})
		if err != nil {
			return nil, fmt.Errorf("core %d: %w", k.Index, err)
		}
	}
	n.cores = len(img.Cores)
	for i, in := range img.Inputs {
		if _, err := c.AddInput(in.Size); err != nil {
			return nil, fmt.Errorf("input port %d (%s): %w", i, in.Name, err)
		}
		n.inputs = append(n.inputs, in.Size)
	}
	for i, k := range img.Conns {
		err := c.Connect(emu.Connection{Kind: emu.SourceKind(k.Kind), Src: k.Src, SrcStart: k.SrcStart, SrcCount: k.SrcCount,
			Dst: k.Dst, DstStart: k.DstStart, DstCount: k.DstCount, Weights: k.Weights, Index: k.Index, Targets: k.Targets,
			SignMode: k.SignMode, WeightBits: k.WeightBits, WeightExp: k.WeightExp, Graded: k.Graded})
		if err != nil {
			return nil, fmt.Errorf("connection %d (%s): %w", i, k.Name, err)
		}
	}
	for i := range img.Outputs {
		var blocks []outBlock
		for _, b := range img.OutputBlocks(i) {
			id, err := c.AddOutput(b.Core, b.Start, b.Count)
			if err != nil {
				return nil, fmt.Errorf("output port %d (%s): %w", i, img.Outputs[i].Name, err)
			}
			blocks = append(blocks, outBlock{chipPort: id, offset: int32(b.Offset)})
		}
		n.outputs = append(n.outputs, blocks)
	}
	return n, nil
}

// portSpikes returns the spikes of image output port p in the last step, port-relative.
func (n *network) portSpikes(p int) []regmap.Spike {
	n.spikes = n.spikes[:0]
	for _, b := range n.outputs[p] {
		var err error
		n.buf, err = n.chip.Output(b.chipPort, n.buf[:0])
		if err != nil {
			continue // cannot happen: the port was made by buildNetwork
		}
		for _, s := range n.buf {
			n.spikes = append(n.spikes, regmap.Spike{Neuron: uint32(b.offset + s.Neuron), Payload: s.Payload})
		}
	}
	return n.spikes
}
