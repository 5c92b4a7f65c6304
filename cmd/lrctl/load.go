package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/firmware/image"
)

func newLoadCmd() *cobra.Command {
	var f deviceFlags
	var dry bool
	cmd := &cobra.Command{
		Use:   "load [--device URI] [--json] [--dry-run] IMAGE",
		Short: "Load a network image onto a device",
		Long: `Sends a network image (the binary the mapper writes) to the device, which checks it,
decodes it and loads it, replacing what was loaded; the timestep starts again from 0. A refused
image is reported with the device's message (what and where). With --dry-run the device only
checks the transfer (size and CRC). Loading onto emu: only checks the image: the emulator goes
away with lrctl; use an emulator process (emu:unix:PATH) to keep it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			img, err := image.ReadFile(args[0])
			if err != nil {
				return err
			}
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			start := time.Now()
			out := cmd.OutOrStdout()
			if dry {
				if err := d.Transfer(cmd.Context(), img); err != nil {
					return err
				}
				took := time.Since(start)
				if f.jsonOut {
					return printJSON(out, map[string]any{"device": d.Info().URI, "bytes": len(img), "dry_run": true, "seconds": took.Seconds()})
				}
				fmt.Fprintf(out, "%s: %d bytes transferred and checked in %v\n", d.Info().URI, len(img), took.Round(time.Microsecond))
				return nil
			}
			res, err := d.LoadBytes(cmd.Context(), img)
			if err != nil {
				return err
			}
			if err := cacheImage(img); err != nil { // for lrctl run without a network
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: keeping a copy for lrctl run: %v\n", err)
			}
			took := time.Since(start)
			if f.jsonOut {
				return printJSON(out, struct {
					Device  string  `json:"device"`
					Seconds float64 `json:"seconds"`
					Result  any     `json:"result"`
				}{d.Info().URI, took.Seconds(), res})
			}
			fmt.Fprintf(out, "%s: loaded %s (%d bytes, %d cores, %d input ports, %d output ports) in %v\n",
				d.Info().URI, args[0], res.Bytes, res.Cores, res.Inputs, res.Outputs, took.Round(time.Microsecond))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&dry, "dry-run", false, "transfer and check the image without loading it")
	return cmd
}
