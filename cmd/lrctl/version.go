package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// versionInfo is what lrctl version prints.
type versionInfo struct {
	Version        string `json:"version"`          // the module's version, "devel" when built from a checkout
	Commit         string `json:"commit,omitempty"` // the VCS revision it was built from
	CommitTime     string `json:"commit_time,omitempty"`
	Modified       bool   `json:"modified"` // built from a work tree with changes
	Protocol       string `json:"protocol"` // the board protocol this build speaks
	ImageVersion   int    `json:"image_version"`
	ProgramVersion int    `json:"program_version"`
	Go             string `json:"go"`
	Platform       string `json:"platform"`
	Kernels        string `json:"kernels"` // the emulator's neuron kernels on this CPU
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "devel", Protocol: regmap.ProtocolVersion.String(), ImageVersion: image.Version,
		ProgramVersion: isa.BinaryVersion, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Kernels: emu.KernelName(false)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

// short is the one line of lrctl --version.
func (v versionInfo) short() string {
	commit := v.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit == "" {
		commit = "unknown commit"
	}
	if v.Modified {
		commit += "+changes"
	}
	return fmt.Sprintf("%s (%s), protocol %s, image v%d, %s %s, kernels %s", v.Version, commit, v.Protocol, v.ImageVersion, v.Go, v.Platform, v.Kernels)
}

func newVersionCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print lrctl's version, commit, protocol and format versions, Go, and the CPU kernels in use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if jsonOut {
				return printJSON(cmd.OutOrStdout(), v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "unknown (built without VCS information)"
			}
			if v.CommitTime != "" {
				commit += " (" + v.CommitTime + ")"
			}
			if v.Modified {
				commit += ", with uncommitted changes"
			}
			table(cmd.OutOrStdout(), [][]string{
				{"lrctl", v.Version},
				{"commit", commit},
				{"protocol", v.Protocol + " (board protocol)"},
				{"formats", fmt.Sprintf("network image v%d, neuron program v%d", v.ImageVersion, v.ProgramVersion)},
				{"go", v.Go + " " + v.Platform},
				{"kernels", v.Kernels + " (the emulator's neuron kernels on this CPU)"},
			})
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}
