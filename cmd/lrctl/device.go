package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/driver"
)

// deviceFlags are the flags every device command takes.
type deviceFlags struct {
	uri     string
	jsonOut bool
}

func (f *deviceFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.uri, "device", "", "device URI (emu:, emu:unix:PATH, usb:VID:PID[:SERIAL], pcie:DDDD:BB:DD.F); default: the first board found, else emu:")
	cmd.Flags().BoolVar(&f.jsonOut, "json", false, "print JSON")
}

// open opens the device the flags name as a board, through the driver: the first board
// found, else the in-process emulator (said once on stderr), when there is no --device.
func (f *deviceFlags) open(cmd *cobra.Command) (*driver.Device, error) {
	uri, err := device.Resolve(ctxOf(cmd), f.uri, cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	return driver.Open(ctxOf(cmd), uri, driver.Opts{})
}

// openChip opens the device a URI names for running timesteps (device.Open): no URI means the
// first board found, else the in-process emulator, which is said once on note. size is the
// chip an emulator emulates.
func openChip(ctx context.Context, uri string, size chip.Size, note io.Writer) (device.Device, error) {
	uri, err := device.Resolve(ctx, uri, note)
	if err != nil {
		return nil, err
	}
	return device.Open(ctx, uri, device.Opts{Size: size})
}

// printJSON writes v as indented JSON, without HTML escaping (the one style; jsonstyle.go).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ctxOf returns the command's context, never nil.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// table prints rows with columns padded to the widest cell.
func table(w io.Writer, rows [][]string) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				fmt.Fprintln(w, c)
			} else {
				fmt.Fprintf(w, "%-*s  ", widths[i], c)
			}
		}
	}
}
