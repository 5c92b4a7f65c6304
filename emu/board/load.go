package board

import (
	"fmt"

	"github.com/lrchip/lrchip/chip"
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
	outputs int            // output ports (the image's and the chip's are the same)
	probes  []int          // neurons of each probe
	cores   int            // cores in use
	buf     []chip.Spike   // scratch
	spikes  []regmap.Spike // scratch
}

// emptyNetwork is the board's state after a reset: a chip with nothing configured, which
// steps (the timestep advances) and emits nothing.
func emptyNetwork(size chip.Size) (*network, error) {
	c, err := emu.New(emu.Opts{Size: size})
	if err != nil {
		return nil, err
	}
	return &network{chip: c}, nil
}

// buildNetwork configures a chip of the board's size from a decoded image, with
// emu.Chip.LoadImage: the chip's input and output ports are the image's.
func buildNetwork(size chip.Size, img *image.Image) (*network, error) {
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
	n.outputs = len(img.Outputs)
	return n, nil
}

// portSpikes returns the spikes of output port p in the last step, port-relative.
func (n *network) portSpikes(p int) []regmap.Spike {
	n.spikes = n.spikes[:0]
	n.buf, _ = n.chip.Output(p, n.buf[:0]) // the port exists: buildNetwork made it
	for _, s := range n.buf {
		n.spikes = append(n.spikes, regmap.Spike{Neuron: uint32(s.Neuron), Payload: s.Payload})
	}
	return n.spikes
}
