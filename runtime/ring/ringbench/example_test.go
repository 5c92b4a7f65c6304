package ringbench_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lrchip/lrchip/runtime/ring/ringbench"
)

// A program that runs the benchmark is also its peer: Run re-executes it, and it must
// check IsPeer before anything else (a test binary does this in TestMain).
func Example() {
	if ringbench.IsPeer() {
		if err := ringbench.Peer(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	r, err := ringbench.Run(context.Background(), ringbench.Opts{Reps: 3, Scale: 0.1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ring %.1f× the Unix socket, %.2f× a cache line's latency, %.0f%% of memcpy\n",
		r.RingOverUDS, r.RingOverCacheline, 100*r.RingOverMemcpy4K)
}

// A program with subcommands names the one that calls Peer.
func ExampleOpts_command() {
	exe, _ := os.Executable()
	r, err := ringbench.Run(context.Background(), ringbench.Opts{Command: []string{exe, "bench", "ring-peer"}})
	if err == nil {
		fmt.Println(r.Targets.Met())
	}
}
