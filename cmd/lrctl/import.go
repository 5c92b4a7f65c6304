package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/nir"
)

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Turn models from other tools into network descriptions",
	}
	cmd.AddCommand(newImportNIRCmd())
	return cmd
}

func newImportNIRCmd() *cobra.Command {
	var (
		out, reset, chipSize string
		dt                   float64
		report, asJSON       bool
		inProcess            bool
	)
	cmd := &cobra.Command{
		Use:   "nir MODEL.nir --dt SECONDS [-o NET.yaml] [--reset auto|zero|subtract] [--chip SIZE] [--report [--json]]",
		Short: "Import a NIR model (snnTorch, Norse, Sinabs, Rockpool, Spyx, Lava-dl) as a network description",
		Long: `Reads a NIR file (the Neuromorphic Intermediate Representation, HDF5), converts it for the
chip with Lava's fixed-point conventions, and writes the network description that lrctl run
and lrctl image build take. docs/nir.md says how each node type maps and what the numerics
cost.

--dt is the time step, in seconds, that the model was trained with: NIR files do not store it.
--reset decides how spiking neurons reset: auto (default) follows the file (its v_reset; before
NIR 1.0.6, subtraction), zero (Lava's LIF) or subtract. --chip (prototype, full or
CORESxNEURONS) splits inputs larger than a core into ports NAME.0, NAME.1, ... and checks that
the network fits; the description is written either way, and a network that does not fit
exits with status 1, saying by how much. --report prints, per layer and connection, the
largest threshold, decay, bias and weight quantization error (--json: as JSON).

-o defaults to MODEL with the extension .yaml (.json writes JSON; - writes to standard output).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("dt") {
				return fmt.Errorf("import nir: --dt SECONDS is required: NIR files do not store the time step (give the one the model was trained with, e.g. --dt 1e-3)")
			}
			size, err := chip.ParseSize(chipSize)
			if err != nil {
				return err
			}
			r, err := nir.ParseReset(reset)
			if err != nil {
				return err
			}
			n, rep, err := nir.Import(cmd.Context(), args[0], nir.Opts{Dt: dt, Reset: r, PortNeurons: size.NeuronsPerCore},
				nir.ReadOpts{InProcess: inProcess})
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".yaml"
			}
			format := network.FormatOf(out)
			if format == network.Auto {
				format = network.YAML
			}
			b, err := n.Marshal(format)
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			if out == "-" {
				if _, err := stdout.Write(b); err != nil {
					return err
				}
			} else if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("import nir: %w", err)
			}
			if report {
				if asJSON {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(rep); err != nil {
						return err
					}
				} else if err := rep.WriteText(stdout); err != nil {
					return err
				}
			}
			neurons, synapses := 0, 0
			for _, p := range n.Populations {
				neurons += p.Size
			}
			for _, c := range rep.Conns {
				synapses += c.Synapses
			}
			say := stdout
			if out == "-" || (report && asJSON) {
				say = cmd.ErrOrStderr()
			}
			what := fmt.Sprintf("%s (%s, %s, %s)", n.Name, plural(len(n.Populations), "population"), plural(neurons, "neuron"), plural(synapses, "synapse"))
			if out != "-" {
				fmt.Fprintf(say, "wrote %s: %s\n", out, what)
			}
			img, err := network.Map(n, size)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "lrctl: import nir: %s does not fit a %s chip: %v\n", n.Name, size, err)
				return exitError{1}
			}
			fmt.Fprintf(say, "maps onto a %s chip: %s, needs %s\n", size, plural(len(img.Cores), "core"), img.Size)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "network description to write (default MODEL.yaml; - for standard output)")
	cmd.Flags().Float64Var(&dt, "dt", 0, "time step in seconds (required: NIR files do not store it)")
	cmd.Flags().StringVar(&reset, "reset", "auto", "how spiking neurons reset: auto (by the file), zero or subtract")
	cmd.Flags().StringVar(&chipSize, "chip", "prototype", "chip size to fit: prototype, full or CORESxNEURONS")
	cmd.Flags().BoolVar(&report, "report", false, "print the conversion report: programs and quantization errors per layer")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --report: print the report as JSON")
	cmd.Flags().BoolVar(&inProcess, "in-process", false, "read the HDF5 file in this process instead of a child process (trusted files only)")
	return cmd
}
