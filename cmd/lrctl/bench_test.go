package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/lrchip/lrchip/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for lrctl when a command re-executes itself (bench
// ring starts `lrctl bench ring-peer` through os.Executable).
func TestMain(m *testing.M) {
	if os.Getenv(asLrctl) == "1" { // a test runs lrctl as a process of its own (signals)
		main()
		os.Exit(0)
	}
	if len(os.Args) > 2 && os.Args[1] == "bench" && os.Args[2] == ringBenchPeer {
		root := newRoot()
		root.SetArgs(os.Args[1:])
		if err := root.Execute(); err != nil {
			os.Stderr.WriteString("lrctl: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Images lrctl load keeps go to a folder of the test's, not the user's cache.
	cache, err := os.MkdirTemp("", "lrctl-images")
	if err != nil {
		panic(err)
	}
	os.Setenv(imageCacheEnv, cache)
	code := testenv.RunM(m)
	os.RemoveAll(cache)
	os.Exit(code)
}

func TestBenchRingJSON(t *testing.T) {
	out, err := lrctl(t, "bench", "ring", "--json", "--reps", "2", "--scale", "0.005")
	require.NoError(t, err, out)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	for _, k := range []string{"ring_msgs_per_s_64", "uds_msgs_per_s_64", "ring_oneway_p50_ns", "cacheline_oneway_p50_ns",
		"ring_gbps_4k", "memcpy_gbps_4k", "ring_over_uds", "ring_over_cacheline", "ring_over_memcpy_4k"} {
		v, ok := r[k].(float64)
		require.True(t, ok, "%s missing in %s", k, out)
		require.Positive(t, v, k)
	}
	require.Equal(t, 2.0, r["reps"])
	runs := r["runs"].(map[string]any)
	require.Len(t, runs["ring_msgs_per_s_64"], 2)
	require.Contains(t, r, "targets_met")
	t.Logf("ring/uds %.1f×, ring/cacheline %.2f×, ring/memcpy %.0f%% (tiny scale, not the benchmark)",
		r["ring_over_uds"], r["ring_over_cacheline"], 100*r["ring_over_memcpy_4k"].(float64))
}

func TestBenchRingText(t *testing.T) {
	out, err := lrctl(t, "bench", "ring", "--reps", "1", "--scale", "0.002")
	require.NoError(t, err, out)
	for _, want := range []string{"64-byte messages", "one-way latency", "4 KiB records", "target"} {
		require.Contains(t, out, want)
	}
	_, err = lrctl(t, "bench", "ring", "--reps", "0")
	require.ErrorContains(t, err, "must be positive")
	// The peer subcommand is hidden from help.
	out, err = lrctl(t, "bench", "--help")
	require.NoError(t, err)
	require.Contains(t, out, "ring")
	require.False(t, strings.Contains(out, ringBenchPeer), out)
}

func TestBenchEmuJSON(t *testing.T) {
	out, err := lrctl(t, "bench", "emu", "--json", "--steps", "20", "--repeats", "3")
	require.NoError(t, err, out)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	for _, k := range []string{"neuron_updates_per_s", "synaptic_events_per_s", "memcpy_gbps", "step_us", "rate_hz"} {
		v, ok := r[k].(float64)
		require.True(t, ok, "%s missing in %s", k, out)
		require.Positive(t, v, k)
	}
	require.Equal(t, "cuba", r["network"])
	require.Equal(t, 4000.0, r["neurons"])
	require.Equal(t, 1.0, r["workers"], "one CPU core unless asked")
	_, err = lrctl(t, "bench", "emu", "--steps", "0")
	require.ErrorContains(t, err, "must be positive")
}
