package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver"
)

func newListCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List devices: USB and PCIe boards, and emulators serving in the run directory",
		Long: `Finds USB boards (vendor 0x1209) and PCIe boards (vendor 0x10ee) by their ids, and
emulator processes (lrctl emu serve) by their sockets in the run directory: $LRCHIP_RUN_DIR,
else $XDG_RUNTIME_DIR/lrchip, else /run/lrchip. Emulators are asked who they are and who holds
them. With nothing found it says so on standard error (and prints [] with --json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			found, err := driver.List(ctxOf(cmd), driver.ListOpts{})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				if found == nil {
					found = []driver.Found{}
				}
				return printJSON(out, listJSON(found))
			}
			if len(found) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no devices found: no USB or PCIe board, no emulator serving in %s (start one with lrctl emu serve)\n", driver.RunDir())
				return nil
			}
			rows := [][]string{{"DEVICE", "BOARD", "SERIAL", "FIRMWARE", "SIZE", "HELD BY"}}
			for _, f := range found {
				held := f.Holder
				if f.Error != "" {
					held = "error: " + f.Error
				}
				rows = append(rows, []string{f.URI, f.Board, dash(f.Serial), dash(f.Firmware), dash(f.Size), dash(held)})
			}
			table(out, rows)
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
