package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newSensorsCmd() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "sensors [--device URI] [--json]",
		Short: "Read a device's power monitors (core, I/O, DDR rails) and temperature",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			s, err := d.Sensors(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.jsonOut {
				return printJSON(out, s)
			}
			rows := [][]string{{"RAIL", "VOLTAGE", "CURRENT", "POWER"}}
			for _, r := range s.Rails {
				rows = append(rows, []string{r.Rail, r.Voltage.String(), r.Current.String(), r.Power.String()})
			}
			rows = append(rows, []string{"total", "", "", s.Total.String()})
			table(out, rows)
			thr := "no"
			if len(s.Throttled) > 0 {
				thr = "yes (" + strings.Join(s.Throttled, ", ") + ")"
			}
			fmt.Fprintf(out, "temperature %v, clock %v, throttled %s\n", s.Temperature, s.Clock, thr)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
