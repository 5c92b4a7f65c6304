package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/driver/health"
)

// topRecord is one line of lrctl top --json: a device's sample and its rates.
type topRecord struct {
	health.Sample
	health.Rates
	Error string `json:"error,omitempty"`
}

func newTopCmd() *cobra.Command {
	var uris []string
	var jsonOut bool
	var interval time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "top [--device URI]... [--interval D] [--count N] [--json]",
		Short: "Live view of boards: power, temperature, throttling, step and spike rates, ring fill",
		Long: `Refreshes every --interval, like nvidia-smi dmon or xbutil top: per device, the power of each
rail and in all, the die temperature, throttling, steps and output spikes per second, and how
full each ring is. With --json it streams one JSON record per device and refresh. It holds the
boards it watches while it runs (a board serves one host). Without --device it watches every
board found, else the in-process emulator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			if len(uris) == 0 {
				found, _ := driver.Boards(ctx, driver.ListOpts{})
				for _, f := range found {
					uris = append(uris, f.URI)
				}
				if len(uris) == 0 {
					u, err := device.Resolve(ctx, "", cmd.ErrOrStderr())
					if err != nil {
						return err
					}
					uris = []string{u}
				}
			}
			devs := make([]*driver.Device, len(uris))
			for i, u := range uris {
				d, err := driver.Open(ctx, u, driver.Opts{})
				if err != nil {
					return err
				}
				defer d.Close()
				devs[i] = d
			}
			out := cmd.OutOrStdout()
			live := !jsonOut && isTerminal(out)
			prev := make([]health.Sample, len(devs))
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for n := 0; count == 0 || n < count; n++ {
				if n > 0 {
					select {
					case <-ctx.Done():
						return nil
					case <-tick.C:
					}
				}
				recs := make([]topRecord, len(devs))
				for i, d := range devs {
					s, err := health.Read(ctx, d)
					recs[i].Sample = s
					if err != nil {
						recs[i].Error = err.Error()
						continue
					}
					if n > 0 {
						recs[i].Rates = health.RatesBetween(prev[i], s)
					}
					prev[i] = s
				}
				if jsonOut {
					enc := json.NewEncoder(out)
					for _, r := range recs {
						if err := enc.Encode(r); err != nil {
							return err
						}
					}
					continue
				}
				if live {
					fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear
				}
				printTop(out, recs)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&uris, "device", nil, "device URI to watch (repeatable; default: every board found, else emu:)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "stream JSON records, one per device and refresh")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between refreshes")
	cmd.Flags().IntVar(&count, "count", 0, "stop after N refreshes (0: until interrupted)")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func printTop(out io.Writer, recs []topRecord) {
	rows := [][]string{{"DEVICE", "POWER", "CORE", "IO", "DDR", "TEMP", "THROTTLED", "STEPS/S", "SPIKES/S", "CMD", "CPL", "SPKIN", "OUT"}}
	for _, r := range recs {
		if r.Error != "" {
			rows = append(rows, []string{r.Device, "error: " + r.Error})
			continue
		}
		row := []string{r.Device, r.Total.String()}
		for _, rail := range r.Rails {
			row = append(row, rail.Power.String())
		}
		thr := "no"
		if r.Throttled {
			thr = "yes"
		}
		row = append(row, r.Temperature.String(), thr, fmt.Sprintf("%.0f", r.Steps), fmt.Sprintf("%.0f", r.Spikes))
		for _, f := range r.Stats.Rings {
			row = append(row, fmt.Sprintf("%.1f%%", 100*f.Ratio()))
		}
		rows = append(rows, row)
	}
	table(out, rows)
	fmt.Fprintf(out, "%s\n", time.Now().Format(time.TimeOnly))
}
