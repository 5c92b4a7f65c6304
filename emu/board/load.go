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

// buildNetwork configures a chip of the board's size from a decoded image, with
// emu.Chip.LoadImage: chip input port i is image input i, and the chip has one output port
// per block of each image output port, in order (image.Image.OutputBlocks).
func buildNetwork(size emu.Size, img *image.Image) (*network, error) {
	if img.Size.Cores > size.Cores || img.Size.NeuronsPerCore > size.NeuronsPerCore {
		return nil, fmt.Errorf("image %q needs a %s chip, the board is %s", img.Name, img.Size, size)
	}
	n, err := emptyNetwork(size)
	if err != nil {
		return nil, err
	}
	if err := n.chip.LoadImage(img); err != nil {
		return nil, err
	}
	n.name, n.cores = img.Name, len(img.Cores)
	for _, in := range img.Inputs {
		n.inputs = append(n.inputs, in.Size)
	}
	k := 0
	for i := range img.Outputs {
		var blocks []outBlock
		for _, b := range img.OutputBlocks(i) {
			blocks = append(blocks, outBlock{chipPort: k, offset: int32(b.Offset)})
			k++
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
