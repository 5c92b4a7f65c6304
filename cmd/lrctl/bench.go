package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/runtime/ring/ringbench"
)

// newBenchCmd returns `lrctl bench`, the parent of the benchmarks. Add a benchmark with one
// more AddCommand here.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks of the runtime and the emulator",
	}
	cmd.AddCommand(newBenchRingCmd(), newBenchRingPeerCmd(), newBenchEmuCmd())
	return cmd
}

// ringBenchPeer is the hidden subcommand the ring benchmark re-executes lrctl with.
const ringBenchPeer = "ring-peer"

func newBenchRingCmd() *cobra.Command {
	var asJSON, check bool
	var reps int
	var scale float64
	cmd := &cobra.Command{
		Use:   "ring [--json]",
		Short: "Measure the shared-memory ring between two processes against a Unix socket, a cache line and memcpy",
		Long: `Starts a second lrctl process as the peer, hands it a ring (its memfd), a Unix-domain
socket and a shared cache line, and measures between the two processes:

  - 64-byte messages per second through the ring (records published in batches of 64) and
    through the Unix socket (one write(2) per message; the reader reads up to 64 KiB at once);
  - one-way latency, half the median round trip of an 8-byte ping-pong through two rings
    (busy-polling) and through one cache line bounced with atomic stores (spinning);
  - bandwidth of 4 KiB records through the ring (written with non-temporal stores,
    ring.CopyNT; the peer reads and checks every word) and of memcpy of 4 KiB blocks in one
    process, over the same 1 MiB working set.

The throughput runs wait as the ring does by default (spin briefly, then sleep on a futex),
which lets the other process run on a machine with few cores. Each figure is the median of
--reps repetitions. The targets are: ring ≥ 20× the socket's
messages per second, ring one-way ≤ 3× the cache line's, 4 KiB records ≥ 30% of memcpy.
--check exits with status 1 when a target is missed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reps < 1 || scale <= 0 {
				return fmt.Errorf("bench ring: --reps %d and --scale %v must be positive", reps, scale)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench ring: %w", err)
			}
			r, err := ringbench.Run(cmd.Context(), ringbench.Opts{
				Reps:    reps,
				Scale:   scale,
				Command: []string{exe, "bench", ringBenchPeer},
				Stderr:  cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, r); err != nil {
					return err
				}
			} else {
				printRingBench(out, r)
			}
			if check && !r.Targets.Met() {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	cmd.Flags().BoolVar(&check, "check", false, "exit with status 1 if a target is missed")
	cmd.Flags().IntVar(&reps, "reps", ringbench.DefaultReps, "repetitions of each measurement (medians are reported)")
	cmd.Flags().Float64Var(&scale, "scale", ringbench.DefaultScale, "scale the message counts (1: about a second per repetition)")
	return cmd
}

func printRingBench(w io.Writer, r *ringbench.Result) {
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "ring benchmark: two processes, medians of %d repetitions\n", r.Reps)
	fmt.Fprintf(w, "  64-byte messages  ring %7.2f M/s   unix socket %7.2f M/s   %6.1f×  (target ≥ 20×)   %s\n",
		r.RingMsgsPerS64/1e6, r.UDSMsgsPerS64/1e6, r.RingOverUDS, mark(r.Targets.Throughput))
	fmt.Fprintf(w, "  one-way latency   ring %7.0f ns    cache line  %7.0f ns    %6.2f×  (target ≤ 3×)    %s\n",
		r.RingOnewayP50NS, r.CachelineOnewayP50NS, r.RingOverCacheline, mark(r.Targets.Latency))
	fmt.Fprintf(w, "  4 KiB records     ring %7.2f GB/s  memcpy      %7.2f GB/s  %6.0f%%  (target ≥ 30%%)  %s\n",
		r.RingGBps4K, r.MemcpyGBps4K, 100*r.RingOverMemcpy4K, mark(r.Targets.Bandwidth))
}

// newBenchRingPeerCmd is the peer process of `bench ring`. It is hidden: only `bench ring`
// starts it (ringbench.Peer takes the descriptors ringbench.Run passes).
func newBenchRingPeerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    ringBenchPeer,
		Short:  "The peer process of bench ring (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return ringbench.Peer(cmd.Context())
		},
	}
}
