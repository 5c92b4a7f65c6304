package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

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

// open opens the device the flags name (see driver.OpenDefault).
func (f *deviceFlags) open(cmd *cobra.Command) (*driver.Device, error) {
	return driver.OpenDefault(cmd.Context(), f.uri, driver.Opts{}, cmd.ErrOrStderr())
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
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

// resolveURI returns uri, or when it is empty the first board found, else "emu:" — said once
// on note, as driver.OpenDefault does. Commands that run the in-process emulator themselves
// (at a chosen size) resolve first and open second.
func resolveURI(ctx context.Context, uri string, note io.Writer) (string, error) {
	if uri != "" {
		return uri, nil
	}
	u, fallback, err := driver.DefaultURI(ctx, driver.ListOpts{})
	if err != nil {
		return "", err
	}
	if fallback {
		fmt.Fprintln(note, "lrctl: no board found; using the in-process emulator (emu:)")
		return "emu:", nil
	}
	return u, nil
}
