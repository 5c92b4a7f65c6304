package hostlib_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lrchip/lrchip/hostlib"
)

// Serve the pipeline example on an in-process emulator and classify two samples: one
// showing pattern 0 (input neurons 0, 5, 10 and 15 fire at 50% per step, the others at 5%),
// one showing pattern 3.
func Example() {
	ctx := context.Background()
	host, err := hostlib.Open(ctx, hostlib.Opts{Devices: []string{"emu:"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close()
	model, err := host.Load(ctx, hostlib.Spec{Name: "pipeline", Path: "../examples/pipeline/pipeline.yaml", GPU: "cpu"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, class := range []int{0, 3} {
		rates := make([]float64, model.Info().Inputs)
		for i := range rates {
			rates[i] = 0.05
			if i%5 == class {
				rates[i] = 0.5
			}
		}
		res, err := model.Infer(ctx, hostlib.Input{Rates: rates})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("pattern %d: class %d\n", class, res.Class[0])
	}
	// A rate that is not a probability is the caller's error.
	_, err = model.Infer(ctx, hostlib.Input{Rates: make([]float64, 3)})
	fmt.Println(errors.Is(err, hostlib.ErrInput))
	// Output:
	// pattern 0: class 0
	// pattern 3: class 3
	// true
}

// Submit requests and collect them later, as a server does with concurrent callers.
func ExampleModel_Submit() {
	ctx := context.Background()
	host, _ := hostlib.Open(ctx, hostlib.Opts{Devices: []string{"emu:", "emu:"}})
	defer host.Close()
	model, err := host.Load(ctx, hostlib.Spec{Name: "pipeline", Path: "../examples/pipeline/pipeline.yaml", GPU: "cpu"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var pending []*hostlib.Pending
	for k := range 4 {
		p, err := model.Submit(ctx, hostlib.Input{Spikes: []hostlib.Spike{{Step: uint32(k), Neuron: 1, Payload: 1}}, Windows: 2})
		if err != nil {
			fmt.Println(err)
			return
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		res, err := p.Wait(ctx)
		fmt.Println(res.Windows, len(res.Scores), err)
	}
	// Output:
	// 2 10 <nil>
	// 2 10 <nil>
	// 2 10 <nil>
	// 2 10 <nil>
}
