package network_test

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/run"
)

// A network built in Go: an input port driving a LIF population, mapped onto a chip and run
// on the emulator.
func Example() {
	n := &network.Network{
		Name:   "tiny",
		Inputs: []network.Input{{Name: "in", Size: 2}},
		Populations: []network.Population{{
			Name: "exc", Size: 3, Program: "lif",
			Consts: map[string]int32{"du": 4095, "dv": 0, "vth": 100},
			State:  map[string]network.Values{"v": network.Each(0, 3000, 6000)},
		}},
		Connections: []network.Connection{{
			From: "in", To: "exc", SignMode: "EXCITATORY",
			Weights: network.Rows([][]int32{{50, 0}, {50, 0}, {50, 50}}), // [post][pre]
		}},
		Outputs: []network.Output{{Population: "exc"}},
	}
	img, err := network.Map(n, chip.Prototype)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d core(s), chip needed %s, population exc on %v\n", len(img.Cores), img.Size, img.Pops[0].Segments)

	dev, _ := emu.NewDevice(emu.Opts{Size: chip.Prototype})
	res, err := run.Run(context.Background(), dev, img, run.Options{
		Steps: 4,
		Inputs: []run.Spike{{Step: 1, Port: "in", Neuron: 0, Payload: 1},
			{Step: 2, Port: "in", Neuron: 0, Payload: 1}, {Step: 2, Port: "in", Neuron: 1, Payload: 1}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Spikes {
		fmt.Printf("step %d: %s[%d]\n", s.Step, s.Port, s.Neuron)
	}
	// Output:
	// 1 core(s), chip needed 1×3, population exc on [{0 0 3}]
	// step 2: exc[2]
	// step 3: exc[1]
}

// Descriptions are usually files: YAML or JSON, one schema.
func ExampleParse() {
	doc := `
inputs: [{name: in, size: 1}]
populations:
  - {name: osc, size: 1, program: rf, consts: {cos_d: 2780, sin_d: 2780, vth: 10}}
connections:
  - {from: in, to: osc, weights: 100, sign_mode: EXCITATORY}
`
	n, err := network.Parse([]byte(doc), network.YAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.Populations[0].Name, n.Populations[0].Program, n.Connections[0].Weights.All, n.Validate())
	// Output: osc rf 100 <nil>
}

// Validation names the part at fault and says why.
func ExampleNetwork_Validate() {
	n := &network.Network{Populations: []network.Population{{
		Name: "exc", Size: 10, Program: "lif",
		Consts: map[string]int32{"du": 5000, "dv": 0},
	}}}
	fmt.Println(n.Validate())
	// Output:
	// network: population "exc": const du = 5000 outside [0, 4095] for program lif
	// network: population "exc": const vth not given (program lif declares du, dv, vth)
}

// Map says how far a network that does not fit is off.
func ExampleMap_doesNotFit() {
	lif := func(name string, size int) network.Population {
		return network.Population{Name: name, Size: size, Program: "lif", Consts: map[string]int32{"du": 0, "dv": 0, "vth": 1}}
	}
	n := &network.Network{Populations: []network.Population{lif("exc", 8000), lif("inh", 2000)}}
	_, err := network.Map(n, chip.Prototype)
	fmt.Println(err)
	// Output: network: needs 10 cores, chip has 8: 2 too many (cores per population of at most 1024 neurons: exc: 8, inh: 2)
}
