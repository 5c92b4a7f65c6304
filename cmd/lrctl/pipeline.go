package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/sched"
)

// pipelineReport is what `lrctl pipeline --json` prints.
type pipelineReport struct {
	Network     string                   `json:"network"`
	Readout     string                   `json:"readout"`
	Device      string                   `json:"device"`
	GPU         gpu.Info                 `json:"gpu"`
	Window      int                      `json:"window"`
	Depth       int                      `json:"depth"`
	Batch       int                      `json:"batch"`
	Windows     int                      `json:"windows"`
	Steps       int64                    `json:"steps"`
	Spikes      int64                    `json:"output_spikes"`
	Launches    int                      `json:"launches"`
	ElapsedS    float64                  `json:"elapsed_s"`
	WindowsPerS float64                  `json:"windows_per_s"`
	StepsPerS   float64                  `json:"steps_per_s"`
	MaxInFlight int                      `json:"max_in_flight"`
	StalledS    float64                  `json:"chip_stalled_s"`
	Latency     map[string]latencyReport `json:"latency"`
	Classes     int                      `json:"classes"`
	Accuracy    float64                  `json:"accuracy"`
}

type latencyReport struct {
	Count int     `json:"count"`
	P50US float64 `json:"p50_us"`
	P90US float64 `json:"p90_us"`
	P99US float64 `json:"p99_us"`
	MaxUS float64 `json:"max_us"`
}

func latencyOf(s sched.Summary) latencyReport {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return latencyReport{Count: s.Count, P50US: us(s.P50), P90US: us(s.P90), P99US: us(s.P99), MaxUS: us(s.Max)}
}

func newPipelineCmd() *cobra.Command {
	var device, backend, readout, input, output string
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
			img, err := network.Map(n, emu.Size{})
			if err != nil {
				return fmt.Errorf("pipeline: %s: %w", netPath, err)
			}
			layer, err := gpu.ReadLayerFile(readout)
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			ports, err := sched.ImagePorts(img, input, output)
			if err != nil {
				return fmt.Errorf("pipeline: %s: %w", netPath, err)
			}
			if ports.Input < 0 {
				return fmt.Errorf("pipeline: %s has no input port to show the patterns on", netPath)
			}
			ec, closeChip, uri, err := openPipelineChip(cmd.Context(), device, img, ports, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			defer closeChip()
			device = uri
			if classes == 0 {
				classes = layer.M
			}
			pat := sched.Patterns{Inputs: img.Inputs[ports.Input].Size, Classes: classes, High: high, Low: low, Seed: seed}
			if err := pat.Validate(); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}

			dev, err := gpu.Open(backend, gpu.Opts{})
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			defer dev.Close()
			right, seen := 0, 0
			p, err := sched.New(ec, dev, layer, sched.Opts{
				Window: window, Depth: depth, Batch: batch, Input: pat.Source(),
				OnResult: func(r sched.Result) error {
					seen++
					if r.Argmax == pat.Class(r.Window) {
						right++
					}
					return nil
				},
			})
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			defer p.Close()
			st, runErr := p.Run(cmd.Context(), windows)

			if depth == 0 {
				depth = sched.DefaultDepth
			}
			if batch == 0 {
				batch = depth
			}
			if window == 0 {
				window = sched.DefaultWindow
			}
			rep := pipelineReport{
				Network: netPath, Readout: readout, Device: device, GPU: dev.Info(),
				Window: window, Depth: depth, Batch: batch,
				Windows: st.Windows, Steps: st.Steps, Spikes: st.Spikes, Launches: st.Launches,
				ElapsedS: st.Elapsed.Seconds(), WindowsPerS: st.WindowsPerSec(), StepsPerS: st.StepsPerSec(),
				MaxInFlight: st.MaxInFlight, StalledS: st.Stalled.Seconds(),
				Latency: map[string]latencyReport{
					"chip": latencyOf(st.Chip), "queue": latencyOf(st.Queue), "gpu": latencyOf(st.GPU),
					"kernel": latencyOf(st.Kernel), "end_to_end": latencyOf(st.EndToEnd),
				},
				Classes: classes,
			}
			if seen > 0 {
				rep.Accuracy = float64(right) / float64(seen)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printPipeline(out, rep, st, img.Inputs[ports.Input].Name, ec.Outputs(), layer)
			}
			if runErr != nil {
				return fmt.Errorf("pipeline: %w", runErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&device, "device", "", "device URI (emu:, emu:unix:PATH, ...); default: the first board, else emu:")
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

func printPipeline(w io.Writer, r pipelineReport, st sched.Stats, input string, outputs int, l gpu.Layer) {
	fmt.Fprintf(w, "network      %s: input %q, %d output neurons → readout %d×%d (%s)\n", r.Network, input, outputs, l.M, l.N, r.Readout)
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

// openPipelineChip loads the image on the device a URI names — the in-process emulator
// directly, anything else through the driver — and adapts it for the scheduler. It returns
// the resolved URI and a function that releases the device.
func openPipelineChip(ctx context.Context, uri string, img *image.Image, ports sched.EmuPorts, note io.Writer) (*sched.EmuChip, func(), string, error) {
	uri, err := resolveURI(ctx, uri, note)
	if err != nil {
		return nil, nil, "", err
	}
	if uri == "emu:" || uri == "emu" {
		chip, err := emu.New(emu.Opts{})
		if err != nil {
			return nil, nil, "", err
		}
		if err := chip.LoadImage(img); err != nil {
			return nil, nil, "", err
		}
		ec, err := sched.NewEmuChip(chip, ports)
		return ec, func() {}, "emu:", err
	}
	d, err := driver.Open(ctx, uri, driver.Opts{})
	if err != nil {
		return nil, nil, "", err
	}
	st := driver.NewStepper(ctx, d)
	if err := st.LoadImage(img); err != nil {
		d.Close()
		return nil, nil, "", err
	}
	ec, err := sched.NewStepperChip(st, ports)
	if err != nil {
		d.Close()
		return nil, nil, "", err
	}
	return ec, func() { d.Close() }, uri, nil
}
