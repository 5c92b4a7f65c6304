package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/plot"
	"github.com/lrchip/lrchip/network/run"
)

func newRunCmd() *cobra.Command {
	var (
		uri, chipSize, input, out, format, raster, traces string
		probes, scales                                    []string
		steps, dpi                                        int
		strict                                            bool
		picSize                                           string
		dt                                                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [--device URI] [NETWORK] --steps N [--input SPIKES] [--probe SPEC]... [--out FILE] [--format csv|json|npz] [--raster FILE] [--plot FILE]",
		Short: "Run a network (a description or an image) on a chip, with input spikes; write its output spikes and probes",
		Long: `Runs NETWORK — a network description (YAML or JSON) or a network image (lrctl image
build) — for N steps on the device, injecting the spikes of the --input file and of the
description's sources, and writes the output spikes and probed values as CSV, JSON or NumPy
.npz to --out (default standard output). Without NETWORK it runs what lrctl load loaded on
the device (an emulator process or a board), N more steps from where it is.

Input spikes, CSV: "step,port,neuron[,payload]" per line (header optional, '#' comments);
JSON: [{"step": 1, "port": "in", "neuron": 0, "payload": 1}, ...]. A spike given for step s is
routed in step s; its targets see it in step s+1. Payload defaults to 1.

Output, CSV: "step,kind,name,neuron,value" rows — kind "spike" (name: output port, neuron:
within the port, value: payload) or "probe" (name: POPULATION:FIELD, neuron: within the
population). JSON: {"network", "steps", "outputs", "spikes", "probes"}.

--probe POPULATION:FIELD[:NEURONS] records a state register (v), a (the dendritic input) or
spike (the payload) after every step, e.g. exc:v:0-9 or exc:a (all neurons). Repeatable.
--raster draws the output spikes (ports named with their populations; graded payloads as
colours), --plot the probed traces (as steps; a heat map for probes of many neurons), as .svg,
.png or .pdf; --size, --dpi, --dt (time instead of steps) and --scale (physical units) shape them.`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if steps < 1 {
				return fmt.Errorf("run: --steps N is required, at least 1")
			}
			size, err := chip.ParseSize(chipSize)
			if err != nil {
				return err
			}
			var specs []run.ProbeSpec
			for _, p := range probes {
				sp, err := run.ParseProbe(p)
				if err != nil {
					return err
				}
				specs = append(specs, sp)
			}
			outFmt, err := run.ResultFormat(out, format)
			if err != nil {
				return err
			}
			if outFmt == run.NPZ && (out == "" || out == "-") {
				return fmt.Errorf("run: npz is binary: give --out FILE.npz")
			}
			for _, f := range []string{raster, traces} {
				if f != "" {
					if _, err := plot.FormatOf(f); err != nil {
						return err
					}
				}
			}
			popts := plot.Options{DPI: dpi, StepDuration: dt, Scales: map[string]plot.Scale{}}
			if picSize != "" {
				if popts.Width, popts.Height, err = plot.ParseSize(picSize); err != nil {
					return err
				}
			}
			for _, s := range scales {
				field, sc, err := plot.ParseScale(s)
				if err != nil {
					return err
				}
				popts.Scales[field] = sc
			}
			if traces != "" && len(specs) == 0 {
				return fmt.Errorf("run: --plot draws probed traces: ask for some with --probe POPULATION:FIELD")
			}
			var img *image.Image
			var nw *network.Network
			if len(args) == 1 {
				if img, nw, err = loadNetwork(args[0], size, strict, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			var sources []run.Source
			if nw != nil {
				gens, err := nw.Generators()
				if err != nil {
					return err
				}
				for _, g := range gens {
					sources = append(sources, g)
				}
			}
			var inputs []run.Spike
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return fmt.Errorf("run: %w", err)
				}
				inputs, err = run.ReadSpikes(f, run.FormatOf(input))
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", input, err)
				}
			}
			dev, err := openChip(cmd.Context(), uri, size, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()

			opts := run.Options{Steps: steps, Inputs: inputs, Probes: specs, Sources: sources}
			if img == nil {
				if img, opts.At, err = loadedImage(dev); err != nil {
					return err
				}
				opts.Loaded = true
				fmt.Fprintf(cmd.ErrOrStderr(), "running network %s, loaded on %s, from step %d\n", orNone(img.Name), dev, opts.At)
			}
			if bar := progressBar(cmd.ErrOrStderr(), steps); bar != nil {
				opts.Progress = func(done int) { bar.Set(done) }
				defer bar.Finish()
			}
			res, runErr := run.Run(cmd.Context(), dev, img, opts)
			if runErr != nil && res == nil {
				if input != "" && errors.Is(runErr, run.ErrSpikes) {
					return fmt.Errorf("%s: %w", input, runErr)
				}
				return runErr
			}
			if res.Ignored > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "ignored %s after step %d (the run's last; --steps)\n", plural(res.Ignored, "input spike"), steps)
			}
			// A run that failed part way still writes what its completed steps produced.
			if err := writeResults(res, out, outFmt, cmd.OutOrStdout()); err != nil {
				return errors.Join(runErr, err)
			}
			if runErr != nil {
				return fmt.Errorf("%w (the results of the %d steps that completed were written)", runErr, res.Steps)
			}
			if raster != "" {
				if err := plot.SaveRaster(res, raster, popts); err != nil {
					return err
				}
			}
			if traces != "" {
				if err := plot.SaveTraces(res, traces, popts); err != nil {
					return err
				}
			}
			if out != "" && out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "ran %d steps on %s — %d output spikes, %d probes; wrote %s\n",
					steps, dev, len(res.Spikes), len(res.Probes), out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&uri, "device", "", "device URI (emu:, emu:unix:PATH, usb:..., pcie:...); default: the first board, else emu:")
	f.StringVar(&chipSize, "chip", "prototype", "chip size to map a description onto, and of the emulator: prototype, full or CORESxNEURONS")
	f.IntVar(&steps, "steps", 0, "timesteps to run (required)")
	f.StringVar(&input, "input", "", "input spikes file (.csv or .json)")
	f.StringArrayVar(&probes, "probe", nil, "record POPULATION:FIELD[:NEURONS] after every step (repeatable), e.g. exc:v:0-9")
	f.StringVarP(&out, "out", "o", "", "write the results to this file (default standard output)")
	f.StringVar(&format, "format", "", "results format: csv or json (default: by --out's extension, else csv)")
	f.StringVar(&raster, "raster", "", "draw the output spikes into this .svg or .png")
	f.StringVar(&traces, "plot", "", "draw the probed traces into this .svg or .png")
	f.StringVar(&picSize, "size", "", "picture size WIDTHxHEIGHT in inches, cm or mm (e.g. 8x4, 20x10cm; default: from what is drawn)")
	f.IntVar(&dpi, "dpi", 150, "resolution of .png pictures")
	f.DurationVar(&dt, "dt", 0, "the duration of a step (e.g. 1ms): plots show time instead of steps")
	f.StringArrayVar(&scales, "scale", nil, "plot FIELD in physical units: FIELD=FACTOR[:UNIT], e.g. v=0.015625:mV (repeatable)")
	f.BoolVar(&strict, "strict", false, "refuse a description whose weights quantization changes (default: a warning per connection)")
	return cmd
}

// writeResults writes to the file out, or to stdout when out is "" or "-".
func writeResults(res *run.Result, out string, f run.Format, stdout io.Writer) error {
	if out == "" || out == "-" {
		return res.Write(stdout, f)
	}
	file, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := res.Write(file, f); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// loadNetwork reads an image, or a description that it maps onto a chip of the given size;
// weights that quantization changes are said on warn, or refused with strict.
// The description is returned too (nil for an image), for its spike sources.
func loadNetwork(path string, size chip.Size, strict bool, warn io.Writer) (*image.Image, *network.Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("run: %w", err)
	}
	head := make([]byte, len(image.Magic))
	n, _ := io.ReadFull(f, head)
	f.Close()
	if image.IsImage(head[:n]) {
		b, err := image.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("run: %w", err)
		}
		img, err := image.Decode(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return img, nil, nil
	}
	nw, err := network.Load(path)
	if err != nil {
		return nil, nil, err
	}
	img, err := mapNetwork(nw, size, strict, warn)
	return img, nw, err
}

// mapNetwork maps a description after saying (on warn) which weights quantization changes;
// with strict that is an error.
func mapNetwork(nw *network.Network, size chip.Size, strict bool, warn io.Writer) (*image.Image, error) {
	qs, err := nw.Quantization()
	if err != nil {
		return nil, err
	}
	if strict {
		if err := network.QuantizationError(qs); err != nil {
			return nil, err
		}
	}
	for _, q := range qs {
		fmt.Fprintf(warn, "warning: %s (--strict to refuse)\n", q)
	}
	return network.Map(nw, size)
}

// progressBar returns a bar on w when w is a terminal, else nil.
func progressBar(w io.Writer, steps int) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("steps"),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	)
}
