package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/internal/conformance"
)

func newConformanceCmd() *cobra.Command {
	var uri string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "conformance [--device URI] PATH...",
		Short: "Run Lava conformance vectors (files or folders) and compare every value at every step",
		Long: `Runs each vector file on the device: loads its network as an image, probes a_in, the
neuron state and the spikes of every neuron, injects the inputs and compares every value at
every step. Any device runs them: the in-process emulator (emu:, the default), an emulator
process (emu:unix:PATH) or a board. A mismatch names the
file, step, neuron, field, expected and actual value. Ends with "N passed, M failed" and exits
non-zero when anything failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := conformance.Files(args)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("conformance: no .json vector files in %s", strings.Join(args, " "))
			}
			dev, err := device.Open(cmd.Context(), uri, device.Opts{})
			if err != nil {
				return fmt.Errorf("conformance: %w", err)
			}
			defer dev.Close()
			out := cmd.OutOrStdout()
			passed, failed := 0, 0
			for _, f := range files {
				r := conformance.RunFile(cmd.Context(), dev, f)
				switch {
				case r.Err != nil:
					failed++
					fmt.Fprintf(out, "FAIL %s: %v\n", f, r.Err)
				case r.Total > 0:
					failed++
					fmt.Fprintf(out, "FAIL %s: %d of %d values differ\n", f, r.Total, r.Compared)
					for _, m := range r.Mismatches {
						fmt.Fprintf(out, "    %s\n", m)
					}
				default:
					passed++
					if verbose {
						fmt.Fprintf(out, "ok   %s (%s, %d steps, %d neurons, %d values)\n", f, r.Kind, r.Steps, r.Neurons, r.Compared)
					}
				}
				if err := cmd.Context().Err(); err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&uri, "device", "emu:", "device URI (emu:, emu:unix:PATH, usb:VID:PID[:SERIAL], pcie:DDDD:BB:DD.F, vfio-user:PATH)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print a line for every file that passes")
	return cmd
}
