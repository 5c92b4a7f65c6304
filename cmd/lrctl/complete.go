package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
)

// completions registers shell completion (lrctl completion bash|zsh|fish|powershell) that
// helps: devices from discovery, chip sizes, formats, --probe from the network's populations
// and fields, and files of the right kind for NETWORK and IMAGE arguments.
func completions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		reg := func(flag string, f cobra.CompletionFunc) {
			if c.Flags().Lookup(flag) != nil {
				c.RegisterFlagCompletionFunc(flag, f) // an error: someone registered one already
			}
		}
		reg("device", completeDevices)
		reg("chip", completeSizes)
		reg("size", completeSizes)
		reg("format", fixed("csv\tone row per spike and probed value", "json\tone object", "npz\tNumPy arrays (numpy.load)"))
		reg("probe", completeProbes)
		reg("input", files("csv", "json"))
		reg("out", files("csv", "json", "npz"))
		reg("raster", files("svg", "png", "pdf"))
		reg("plot", files("svg", "png", "pdf"))
		required, optional, _ := positionals(c.Use)
		if c.ValidArgsFunction == nil && len(required)+len(optional) > 0 {
			switch append(required, optional...)[0] {
			case "NETWORK":
				c.ValidArgsFunction = files("yaml", "yml", "json", "lrni")
			case "IMAGE", "FILE":
				if strings.HasPrefix(c.CommandPath(), "lrctl image inspect") || strings.HasPrefix(c.CommandPath(), "lrctl load") {
					c.ValidArgsFunction = files("lrni")
				}
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}

func fixed(words ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

func files(exts ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// completeDevices lists what discovery finds, and the in-process emulator.
func completeDevices(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(ctxOf(cmd), 2*time.Second)
	defer cancel()
	out := []string{"emu:\tthe emulator in this process"}
	found, _ := driver.List(ctx, driver.ListOpts{Query: 500 * time.Millisecond})
	for _, f := range found {
		desc := f.Board
		if f.Holder != "" {
			desc += ", held by " + f.Holder
		}
		out = append(out, f.URI+"\t"+desc)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func completeSizes(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []string{"prototype\t" + chip.Prototype.String() + ", the FPGA board", "full\t" + chip.Full.String() + ", the full design",
		"4x1024", "8x1024", "16x8192", "128x8192"}, cobra.ShellCompDirectiveNoFileComp
}

// completeProbes offers POPULATION:FIELD for the network given as the first argument.
func completeProbes(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	if b, err := image.ReadFile(args[0]); err == nil && image.IsImage(b) {
		img, err := image.Decode(b)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		for _, p := range img.Pops {
			for _, f := range append(append([]string{}, img.Core(p.Segments[0].Core).Program.State...), chip.NameInput, chip.NameSpike) {
				out = append(out, p.Name+":"+f)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	if _, err := os.Stat(args[0]); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	n, err := network.Load(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	fields, _ := n.Fields()
	for _, pf := range fields {
		out = append(out, pf)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
