package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver/selftest"
)

func newValidateCmd() *cobra.Command {
	var f deviceFlags
	var opts selftest.Opts
	var mib int
	cmd := &cobra.Command{
		Use:   "validate [--device URI] [--json] [--vector FILE]",
		Short: "Run a device's self-test: registers, round trips, core memory, a conformance vector, sensors, bandwidth",
		Long: `Checks a device end to end (as xbutil validate does): register write/read-back, protocol
round trips (NOP echoes, with the median latency), a write and read-back of every core's memory,
a Lava conformance vector built as a network image and compared value by value at every step
(a built-in one, or --vector FILE), the sensors, and the ring bandwidth in both directions. The
device is reset before and after. Exits non-zero if a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			opts.BandwidthBytes = mib << 20
			r := selftest.Run(cmd.Context(), d, opts)
			out := cmd.OutOrStdout()
			if f.jsonOut {
				if err := printJSON(out, r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "validating %s\n", r.Device)
				for _, c := range r.Checks {
					res := "PASS"
					if !c.Passed {
						res = "FAIL"
					}
					fig := ""
					if c.Unit != "" {
						fig = fmt.Sprintf(" [%.1f %s]", c.Value, c.Unit)
					}
					fmt.Fprintf(out, "%s  %-22s %s%s\n", res, c.Name, c.Detail, fig)
				}
			}
			if !r.Passed {
				return exitError{1}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&opts.Vector, "vector", "", "conformance vector file (default: a built-in Lava LIF vector)")
	cmd.Flags().IntVar(&mib, "bandwidth-mib", 64, "MiB moved by each bandwidth check")
	return cmd
}
