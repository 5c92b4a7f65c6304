package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver"
)

func newInfoCmd() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "info [--device URI] [--json]",
		Short: "Show a device's identity, versions, chip size, capabilities and status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer d.Close()
			info := d.Info()
			st, err := d.Status()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.jsonOut {
				return printJSON(out, infoJSON(info, st))
			}
			table(out, [][]string{
				{"device", info.URI},
				{"board", fmt.Sprintf("%s, serial %d", info.Board, info.Serial)},
				{"protocol", fmt.Sprintf("%s (board %s)", info.Protocol, info.BoardProtocol)},
				{"firmware", fmt.Sprintf("%s (slot %d)", info.Firmware, info.FirmwareSlot)},
				{"chip", fmt.Sprintf("%d cores × %d neurons, %d instructions, %d banks per core", info.Cores, info.NeuronsPerCore, info.Instructions, info.Banks)},
				{"features", strings.Join(info.Features.Names(), ", ")},
				{"status", statusLine(st)},
				{"timestep", fmt.Sprint(st.Timestep)},
				{"temperature", st.Temperature.String()},
			})
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func statusLine(s driver.Status) string {
	var w []string
	for _, b := range []struct {
		on   bool
		name string
	}{{s.Ready, "ready"}, {s.Running, "running"}, {s.Busy, "busy"}, {s.Loaded, "loaded"}, {s.Throttled, "throttled"},
		{s.Stalled, "stalled"}, {s.Golden, "golden firmware"}} {
		if b.on {
			w = append(w, b.name)
		}
	}
	if s.Error {
		w = append(w, "ERROR "+s.ErrorCode.String())
	}
	return strings.Join(w, ", ")
}
