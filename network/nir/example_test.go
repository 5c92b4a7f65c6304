package nir_test

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/nir"
)

// Import a NIR file (here the issue's single LIF, written by the reference nir package) and
// map it onto the prototype chip: Lava's LIF with its fixed-point constants.
func ExampleImport() {
	n, rep, err := nir.Import(context.Background(), "testdata/lif.nir", nir.Opts{Dt: 1e-4}, nir.ReadOpts{})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := n.Populations[0]
	fmt.Println(p.Name, p.Program, p.Consts)
	fmt.Println(n.Connections[0].SignMode, n.Connections[0].Weights.At(0, 0))
	fmt.Printf("threshold error %.4g, Lava-exact %v\n", rep.Layers[0].VthErr, rep.Layers[0].LavaExact)
	size, _ := chip.ParseSize("prototype")
	img, err := network.Map(n, size)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(img.Cores), "core")
	// Output:
	// lif lif map[du:4095 dv:163 vth:25]
	// EXCITATORY 10
	// threshold error 0.002344, Lava-exact true
	// 1 core
}

// A file that is not NIR, or that the HDF5 library cannot survive, is an error wrapping
// ErrFormat; errors about one node name it.
func ExampleReadFile() {
	_, err := nir.ReadFile(context.Background(), "testdata/hostile_link_cycle.nir", nir.ReadOpts{MemoryLimit: 256 << 20})
	fmt.Println(err != nil)
	g, _ := nir.ReadFile(context.Background(), "testdata/cycle.nir", nir.ReadOpts{})
	_, _, err = nir.Convert(g, nir.Opts{Dt: 1e-3})
	fmt.Println(err)
	// Output:
	// true
	// nir: node "s": a cycle without a neuron or delay on it: s → a → s (no time step separates its values)
}
