// Command lrctl is the lab engineer's tool for the lrchip neuromorphic chip: conformance runs,
// networks, benchmarks, and (with a board or the emulator) device management.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	_ "github.com/lrchip/lrchip/emu/register" // emu: as a board, through the driver
)

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case err != nil:
		fmt.Fprintln(os.Stderr, "lrctl:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "lrctl",
		Short:         "Control and test lrchip neuromorphic boards and their emulator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newConformanceCmd())
	root.AddCommand(newListCmd())
	root.AddCommand(newInfoCmd())
	root.AddCommand(newLoadCmd())
	root.AddCommand(newSensorsCmd())
	root.AddCommand(newEmuCmd())
	root.AddCommand(newValidateCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newPipelineCmd())
	root.AddCommand(newImageCmd())
	root.AddCommand(newRunCmd())
	root.AddCommand(newImportCmd())
	root.AddCommand(newFwCmd())
	root.AddCommand(newTopCmd())
	root.AddCommand(newExporterCmd())
	root.AddCommand(newServeCmd())
	root.AddCommand(newVersionCmd())
	root.Version = buildVersion().short()
	root.SetVersionTemplate("lrctl {{.Version}}\n")
	polish(root)
	completions(root)
	return root
}
