package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/driver/health"
)

func newSensorsCmd() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "sensors [--device URI] [--json]",
		Short: "Read a device's power monitors (core, I/O, DDR rails) and temperature",
		Long: `Reads every rail's INA226 and the die's TMP117 through this host's drivers, on the board's
I²C bus, and the clock and throttling from the board.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			ctx := ctxOf(cmd)
			s, err := d.Sensors(ctx) // clock, step time, throttle reasons
			if err != nil {
				return err
			}
			rails, temp, err := health.Sensors(ctx, d)
			if err != nil {
				return err
			}
			s.Temperature, s.Total, s.Rails = temp, 0, s.Rails[:0]
			for _, r := range rails {
				s.Rails = append(s.Rails, driver.RailReading{Rail: r.Rail, Voltage: r.Voltage, Current: r.Current, Power: r.Power})
				s.Total += r.Power
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
