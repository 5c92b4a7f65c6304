package ringbench

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testPeerMode, set by a test in the peer's environment, makes the re-executed test binary
// misbehave as a peer.
const testPeerMode = "RINGBENCH_TEST_PEER_MODE"

// TestMain lets the test binary be the peer: Run re-executes it (os.Executable) with
// PeerEnv set.
func TestMain(m *testing.M) {
	if IsPeer() {
		switch os.Getenv(testPeerMode) {
		case "exit":
			os.Exit(3) // dies before its hello
		case "silent":
			// Says nothing and waits for Run to give up (its control socket closes).
			buf := make([]byte, 16)
			os.NewFile(fdCtrl, "ctrl").Read(buf)
			os.Exit(0)
		}
		if err := Peer(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestRunEndToEnd runs the whole benchmark at a tiny scale through the re-executed peer.
func TestRunEndToEnd(t *testing.T) {
	var stderr strings.Builder
	r, err := Run(testCtx(t), Opts{Reps: 3, Scale: 0.001, Stderr: &stderr})
	require.NoError(t, err, stderr.String())
	require.Equal(t, 3, r.Reps)
	figures := map[string]float64{
		"ring_msgs_per_s_64": r.RingMsgsPerS64, "uds_msgs_per_s_64": r.UDSMsgsPerS64,
		"ring_oneway_p50_ns": r.RingOnewayP50NS, "cacheline_oneway_p50_ns": r.CachelineOnewayP50NS,
		"ring_gbps_4k": r.RingGBps4K, "memcpy_gbps_4k": r.MemcpyGBps4K,
	}
	require.Len(t, r.Runs, len(figures))
	for k, v := range figures {
		assert.Positive(t, v, k)
		assert.False(t, math.IsInf(v, 0) || math.IsNaN(v), "%s is %v", k, v)
		require.Len(t, r.Runs[k], 3, k)
		assert.Equal(t, median(r.Runs[k]), v, "%s is the median of its runs", k)
		for _, x := range r.Runs[k] {
			assert.Positive(t, x, k)
		}
	}
	// Sane magnitudes, far outside what any machine or load gives: a latency under a
	// second, a one-way trip over a nanosecond, bandwidth under 10 TB/s.
	assert.Less(t, r.RingOnewayP50NS, 1e9)
	assert.Less(t, r.CachelineOnewayP50NS, 1e9)
	assert.Greater(t, r.CachelineOnewayP50NS, 1.0)
	assert.Less(t, r.MemcpyGBps4K, 1e4)
	assert.InDelta(t, r.RingMsgsPerS64/r.UDSMsgsPerS64, r.RingOverUDS, 1e-9*r.RingOverUDS)
	assert.InDelta(t, r.RingOnewayP50NS/r.CachelineOnewayP50NS, r.RingOverCacheline, 1e-9*r.RingOverCacheline)
	assert.InDelta(t, r.RingGBps4K/r.MemcpyGBps4K, r.RingOverMemcpy4K, 1e-9*r.RingOverMemcpy4K)
	t.Logf("ring/uds %.1f×, ring/cacheline %.2f×, ring/memcpy %.0f%% (tiny scale, not the benchmark)",
		r.RingOverUDS, r.RingOverCacheline, 100*r.RingOverMemcpy4K)
}

func TestSummarizeTargets(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		ring, uds, rping, lping, r4k  float64
		mem                           float64
		throughput, latency, bandwith bool
	}{
		{"all met", 20e6, 1e6, 300, 100, 3, 10, true, true, true},
		{"just missed", 19.9e6, 1e6, 301, 100, 2.99, 10, false, false, false},
		{"latency only", 1e6, 1e6, 100, 100, 1, 10, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := summarize(1, map[string][]float64{
				keyRing64: {tc.ring}, keyUDS64: {tc.uds}, keyRingPing: {tc.rping},
				keyLinePing: {tc.lping}, keyRing4K: {tc.r4k}, keyMemcpy4K: {tc.mem},
			})
			assert.Equal(t, Targets{tc.throughput, tc.latency, tc.bandwith}, r.Targets)
			assert.Equal(t, tc.throughput && tc.latency && tc.bandwith, r.Targets.Met())
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{4}, 4}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		assert.Equal(t, tc.want, median(tc.in), "%v", tc.in)
	}
}

func TestOpts(t *testing.T) {
	o, err := Opts{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultReps, o.Reps)
	assert.Equal(t, DefaultScale, o.Scale)
	assert.Equal(t, DefaultTimeout, o.Timeout)
	exe, err := os.Executable()
	require.NoError(t, err)
	assert.Equal(t, []string{exe}, o.Command)
	assert.Equal(t, counts{msgs: 2_000_000, uds: 200_000, pings: 20_000, big: 50_000}, o.counts())
	o.Scale = 1e-9
	assert.Equal(t, counts{msgs: 1000, uds: 1000, pings: 100, big: 100}, o.counts(), "floors")

	for _, tc := range []struct {
		name string
		opts Opts
		want string
	}{
		{"negative reps", Opts{Reps: -1}, "Reps -1"},
		{"negative scale", Opts{Scale: -2}, "Scale -2"},
		{"NaN scale", Opts{Scale: math.NaN()}, "Scale NaN"},
		{"huge scale", Opts{Scale: 1e7}, "Scale 1e+07"},
		{"negative timeout", Opts{Timeout: -time.Second}, "Timeout -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.opts)
			require.ErrorIs(t, err, ErrOpts)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestPeerFailures: a peer that dies, one that never answers, a program that is no peer,
// and a Run whose context ends all end Run with an error that says so, and leave no
// process behind (Run waits for the peer).
func TestPeerFailures(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	t.Run("dies", func(t *testing.T) {
		t.Setenv(testPeerMode, "exit")
		_, err := Run(testCtx(t), Opts{Reps: 1, Scale: 0.001})
		require.ErrorIs(t, err, ErrPeer)
		require.ErrorContains(t, err, `waiting for its "hello"`)
	})
	t.Run("not a program", func(t *testing.T) {
		_, err := Run(testCtx(t), Opts{Command: []string{"/nonexistent/ringbench-peer"}})
		require.ErrorContains(t, err, "start the peer")
	})
	t.Run("silent, timeout", func(t *testing.T) {
		t.Setenv(testPeerMode, "silent")
		_, err := Run(testCtx(t), Opts{Reps: 1, Scale: 0.001, Timeout: 200 * time.Millisecond, Command: []string{exe}})
		require.Error(t, err)
		require.ErrorContains(t, err, "took over 200ms")
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Run(ctx, Opts{Reps: 1, Scale: 0.001})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestPeerRefusesOutsideRun(t *testing.T) {
	require.False(t, IsPeer())
	err := Peer(context.Background())
	require.ErrorIs(t, err, ErrNotPeer)
	t.Setenv(PeerEnv, "fds-v0")
	err = Peer(context.Background())
	require.ErrorIs(t, err, ErrNotPeer)
	require.ErrorContains(t, err, `"fds-v0"`)
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want command
		err  string
	}{
		{"ring 2000 64", command{op: "ring", n: 2000, size: 64}, ""},
		{"ring 100 4096 18446744073709551615", command{op: "ring", n: 100, size: 4096, xor: math.MaxUint64}, ""},
		{"uds 1000", command{op: "uds", n: 1000}, ""},
		{"ringping 100", command{op: "ringping", n: 100}, ""},
		{"lineping 7", command{op: "lineping", n: 7}, ""},
		{"", command{}, "empty command"},
		{"fly 3", command{}, "unknown command"},
		{"uds", command{}, "0 arguments, want 1 to 1"},
		{"ring 1", command{}, "1 arguments, want 2 to 3"},
		{"uds 1 2", command{}, "2 arguments"},
		{"uds -1", command{}, "argument 1"},
		{"uds 99999999999999999999", command{}, "argument 1"},
		{"uds 1099511627777", command{}, "over"},
		{"ring 1 12", command{}, "record size 12"},
		{"ring 1 0", command{}, "record size 0"},
		{"ring 1 2097152", command{}, "record size 2097152"},
		{"ring 1 64 x", command{}, "argument 3"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			c, err := parseCommand(tc.msg)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c)
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"ring 2000 64", "ring 100 4096 12345", "uds 1000", "ringping 100", "lineping 7", "", "ring 1 12", "quit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		c, err := parseCommand(msg)
		if err != nil {
			return
		}
		require.Contains(t, []string{"ring", "uds", "ringping", "lineping"}, c.op)
		require.GreaterOrEqual(t, c.n, 0)
		require.LessOrEqual(t, c.n, mostCount)
		if c.op == "ring" {
			require.Zero(t, c.size%8)
			require.GreaterOrEqual(t, c.size, 8)
			require.LessOrEqual(t, c.size, mostRecord)
		}
	})
}
