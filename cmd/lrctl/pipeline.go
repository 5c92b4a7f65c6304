package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/pipeline"
	"github.com/lrchip/lrchip/runtime/sched"
)

func newPipelineCmd() *cobra.Command {
	var uri, backend, readout, input, output string
	var window, windows, depth, batch, classes int
	var high, low float64
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pipeline [--device URI] [--gpu auto|cuda|cpu] NETWORK",
		Short: "Run the chip→GPU pipeline: windows of timesteps on the chip, a readout layer on the GPU",
		Long: `Loads the network description NETWORK onto the device and runs --windows windows of
--window timesteps each as a pipeline: while the GPU reads out window k (spike counts of the
network's output neurons → the dense readout layer in --readout → scores and their argmax),
the chip runs window k+1; at most --depth windows are in flight. Prints the throughput and
the latency of every stage (p50/p90/p99).

The input is a labelled test pattern: window w shows class w mod --classes, whose input
neurons (neuron i is in class i mod --classes) fire with probability --high per step, the
others with --low. The accuracy printed is how often the argmax names the class shown.

The readout file defaults to readout.json beside NETWORK. --gpu auto uses CUDA when a driver
and a device are present and the CPU otherwise; both give the same bits. See
examples/pipeline.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			netPath := args[0]
			if readout == "" {
				readout = filepath.Join(filepath.Dir(netPath), "readout.json")
			}
			n, err := network.Load(netPath)
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			layer, err := gpu.ReadLayerFile(readout)
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			dev, err := openChip(cmd.Context(), uri, chip.Size{}, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			defer dev.Close()
			img, err := network.Map(n, dev.Size())
			if err != nil {
				return fmt.Errorf("pipeline: %s: %w", netPath, err)
			}
			pat := sched.Patterns{Classes: classes, High: high, Low: low, Seed: seed}
			rep, runErr := pipeline.Evaluate(cmd.Context(), dev, img, layer, pat, windows, pipeline.Opts{
				Input: input, Output: output, GPU: backend,
				Sched: sched.Opts{Window: window, Depth: depth, Batch: batch},
			})
			if rep.Windows == 0 && runErr != nil {
				return runErr
			}
			rep.Network, rep.Readout = netPath, readout
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else {
				printPipeline(out, rep, layer)
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&uri, "device", "", "device URI (emu:, emu:unix:PATH, ...); default: the first board, else emu:")
	f.StringVar(&backend, "gpu", gpu.Auto, "GPU backend: auto, cuda or cpu")
	f.StringVar(&readout, "readout", "", "readout layer file (default: readout.json beside NETWORK)")
	f.StringVar(&input, "input", "", "input port to show the patterns on (default: the network's first)")
	f.StringVar(&output, "output", "", "output port whose spikes feed the readout (default: the network's first)")
	f.IntVar(&window, "window", sched.DefaultWindow, "timesteps per window")
	f.IntVar(&windows, "windows", 1000, "windows to run")
	f.IntVar(&depth, "depth", sched.DefaultDepth, "most windows in flight")
	f.IntVar(&batch, "batch", 0, "most windows per GPU round (default: --depth)")
	f.IntVar(&classes, "classes", 0, "input patterns (default: the readout's number of scores)")
	f.Float64Var(&high, "high", 0.5, "firing probability per step of the shown pattern's input neurons")
	f.Float64Var(&low, "low", 0.05, "firing probability per step of the other input neurons")
	f.Uint64Var(&seed, "seed", 1, "seed of the input spikes")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printPipeline(w io.Writer, r pipeline.Report, l gpu.Layer) {
	st := r.Stats
	fmt.Fprintf(w, "network      %s: input %q, %d output neurons → readout %d×%d (%s)\n", r.Network, r.Input, r.Outputs, l.M, l.N, r.Readout)
	g := r.GPU.Name
	if r.GPU.Arch != "" {
		g += ", " + r.GPU.Arch
	}
	if r.GPU.Memory > 0 {
		g += fmt.Sprintf(", %.1f GiB", float64(r.GPU.Memory)/(1<<30))
	}
	if r.GPU.Driver != "" {
		g += ", driver " + r.GPU.Driver
	}
	fmt.Fprintf(w, "devices      chip %s; gpu %s (%s)\n", r.Device, r.GPU.Backend, g)
	fmt.Fprintf(w, "run          %d windows × %d steps, depth %d, batch %d, %d launches, %.3fs\n", r.Windows, r.Window, r.Depth, r.Batch, r.Launches, r.ElapsedS)
	fmt.Fprintf(w, "throughput   %.0f windows/s, %.0f steps/s, %.0f output spikes/s\n", r.WindowsPerS, r.StepsPerS, float64(r.Spikes)/max(r.ElapsedS, 1e-9))
	fmt.Fprintf(w, "latency      chip        %s\n", st.Chip)
	fmt.Fprintf(w, "             queue       %s\n", st.Queue)
	fmt.Fprintf(w, "             gpu         %s\n", st.GPU)
	fmt.Fprintf(w, "             kernel      %s\n", st.Kernel)
	fmt.Fprintf(w, "             end to end  %s\n", st.EndToEnd)
	stalled := 0.0
	if r.ElapsedS > 0 {
		stalled = 100 * r.StalledS / r.ElapsedS
	}
	fmt.Fprintf(w, "backpressure at most %d of %d windows in flight; the chip waited %.0f%% of the run\n", r.MaxInFlight, r.Depth, stalled)
	fmt.Fprintf(w, "accuracy     %.1f%% (argmax = window mod %d)\n", 100*r.Accuracy, r.Classes)
}
