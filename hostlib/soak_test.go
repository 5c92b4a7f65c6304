package hostlib_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/hostlib"
	"github.com/lrchip/lrchip/hostlib/internal/emuproc"
)

// soakFor is how long the soak runs: $LRCHIP_SOAK (a duration, e.g. 5m for the long soak),
// else a short run of a fixed number of requests per caller (CI's, under -race).
func soakFor(t testing.TB) time.Duration {
	if v := os.Getenv("LRCHIP_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "LRCHIP_SOAK")
		return d
	}
	return 0
}

// inputSet makes n varied requests: 1 to 3 windows of random rates, some with spikes, some
// with a seed of their own.
func inputSet(n, window int) []hostlib.Input {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	var ins []hostlib.Input
	for range n {
		k := 1 + rng.IntN(3)
		in := hostlib.Input{Windows: k, Rates: make([]float64, k*inputs)}
		for i := range in.Rates {
			in.Rates[i] = rng.Float64() * 0.6
		}
		if rng.IntN(2) == 0 {
			in.Seed = rng.Uint64()
		}
		for range rng.IntN(20) {
			in.Spikes = append(in.Spikes, hostlib.Spike{Step: uint32(rng.IntN(k * window)), Neuron: uint32(rng.IntN(inputs)), Payload: 1})
		}
		ins = append(ins, in)
	}
	return ins
}

// singleThreaded runs every input one at a time on a model of one replica.
func singleThreaded(t testing.TB, ins []hostlib.Input, window int) []hostlib.Result {
	_, m := load(t, []string{"emu:"}, hostlib.Spec{Name: "reference", Window: window})
	want := make([]hostlib.Result, len(ins))
	for i, in := range ins {
		r, err := m.Infer(ctxT(t), in)
		require.NoError(t, err)
		want[i] = r
	}
	return want
}

func requireEqualResult(t testing.TB, want, got hostlib.Result, what string, args ...any) {
	t.Helper()
	require.Equal(t, want.Windows, got.Windows, append([]any{what}, args...)...)
	require.Equal(t, want.Class, got.Class, append([]any{what}, args...)...)
	require.Equal(t, want.Scores, got.Scores, append([]any{what}, args...)...)
	require.Equal(t, want.Counts, got.Counts, append([]any{what}, args...)...)
}

// TestSoak: 64 callers on a model of two replicas, through Infer and Submit, with a queue
// smaller than the callers (backpressure): every request gives exactly one result, equal
// bit for bit to a single-threaded run of its input; nothing is lost or counted twice.
// CI runs a fixed number of requests; LRCHIP_SOAK=5m runs for minutes.
func TestSoak(t *testing.T) {
	const callers, window = 64, 20
	ins := inputSet(48, window)
	want := singleThreaded(t, ins, window)
	_, m := load(t, []string{"emu:", "emu:"}, hostlib.Spec{Window: window, Queue: 16, Depth: 3, Batch: 2})
	dur := soakFor(t)
	perCaller := 6
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	var done, windows atomic.Uint64
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			for n := 0; dur > 0 && time.Now().Before(deadline) || dur == 0 && n < perCaller; n++ {
				i := rng.IntN(len(ins))
				var got hostlib.Result
				var err error
				if rng.IntN(2) == 0 {
					got, err = m.Infer(context.Background(), ins[i])
				} else {
					var p *hostlib.Pending
					p, err = m.Submit(context.Background(), ins[i])
					if err == nil {
						got, err = p.Wait(context.Background())
					}
				}
				if !assertNoError(t, err) {
					return
				}
				requireEqualResult(t, want[i], got, "caller %d request %d (input %d)", g, n, i)
				done.Add(1)
				windows.Add(uint64(got.Windows))
			}
		}()
	}
	wg.Wait()
	st := m.Stats()
	require.Equal(t, done.Load(), st.Submitted)
	require.Equal(t, done.Load(), st.Completed)
	require.Zero(t, st.Failed)
	require.Equal(t, windows.Load(), st.Windows)
	require.Zero(t, st.Queued)
	require.Len(t, st.Replicas, 2)
	for _, r := range st.Replicas {
		require.True(t, r.Up)
		require.Positive(t, r.Windows, "both replicas served")
	}
	t.Logf("%d requests, %d windows, latency %s", st.Completed, st.Windows, st.Latency)
}

// assertNoError reports err from a goroutine other than the test's.
func assertNoError(t testing.TB, err error) bool {
	if err != nil {
		t.Errorf("request failed: %v", err)
		return false
	}
	return true
}

// TestCloseDrains: Close runs every request submitted before it, then refuses new ones.
func TestCloseDrains(t *testing.T) {
	const window = 20
	ins := inputSet(12, window)
	want := singleThreaded(t, ins, window)
	_, m := load(t, []string{"emu:", "emu:"}, hostlib.Spec{Window: window})
	var ps []*hostlib.Pending
	for round := range 5 {
		for i, in := range ins {
			p, err := m.Submit(context.Background(), in)
			require.NoError(t, err, "round %d input %d", round, i)
			ps = append(ps, p)
		}
	}
	require.NoError(t, m.Close())
	for k, p := range ps {
		select {
		case <-p.Done():
		default:
			t.Fatalf("request %d not done after Close", k)
		}
		r, err := p.Result()
		require.NoError(t, err)
		requireEqualResult(t, want[k%len(ins)], r, "request %d", k)
	}
	_, err := m.Submit(context.Background(), ins[0])
	require.ErrorIs(t, err, hostlib.ErrClosed)
	require.False(t, m.Ready())
	require.NoError(t, m.Close(), "idempotent")
}

// TestShutdownAborts: a Shutdown whose deadline passes fails what is left with ErrClosed
// and returns; nothing hangs.
func TestShutdownAborts(t *testing.T) {
	_, m := load(t, []string{"emu:"}, hostlib.Spec{MaxWindows: 1 << 12})
	big := hostlib.Input{Windows: 1 << 12} // 4096 windows of silence: long enough to be cut
	var ps []*hostlib.Pending
	for range 4 {
		p, err := m.Submit(context.Background(), big)
		require.NoError(t, err)
		ps = append(ps, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, m.Shutdown(ctx))
	for _, p := range ps {
		<-p.Done()
		_, err := p.Result()
		if err != nil {
			require.ErrorIs(t, err, hostlib.ErrClosed)
		}
	}
	_, err := ps[len(ps)-1].Result()
	require.ErrorIs(t, err, hostlib.ErrClosed, "the last request was cut")
}

// TestCancelAndDeadline: a request ends with its context's error at once, whether it waits
// in the queue or runs; the model goes on serving.
func TestCancelAndDeadline(t *testing.T) {
	_, m := load(t, []string{"emu:"}, hostlib.Spec{MaxWindows: 1 << 12, Queue: 1})
	long := hostlib.Input{Windows: 1 << 12}
	ctx, cancel := context.WithCancel(context.Background())
	running, err := m.Submit(ctx, long) // taken by the replica
	require.NoError(t, err)
	queued, err := m.Submit(ctx, long) // waits in the queue of one
	require.NoError(t, err)
	// The queue is full: a Submit with a deadline gives up waiting for room.
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	_, err = m.Submit(short, long)
	if err != nil { // the replica may have taken the first and freed a slot: then this is queued
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	cancel()
	for _, p := range []*hostlib.Pending{running, queued} {
		<-p.Done()
		_, err := p.Result()
		require.ErrorIs(t, err, context.Canceled)
	}
	// A deadline ends a request too.
	dl, cancelDl := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancelDl()
	_, err = m.Infer(dl, long)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// The model still serves, from a fresh state.
	want := singleThreaded(t, []hostlib.Input{{Rates: patternRates(2)}}, 100)
	got, err := m.Infer(ctxT(t), hostlib.Input{Rates: patternRates(2)})
	require.NoError(t, err)
	requireEqualResult(t, want[0], got, "after cancellations")
	st := m.Stats()
	require.GreaterOrEqual(t, st.Failed, uint64(3))
}

// TestKillMovesRequests: the emulator process of one of two replicas is killed under load;
// every request still gives its result (moved to the other replica, bit for bit the same),
// and the dead replica is reported with driver.ErrGone.
func TestKillMovesRequests(t *testing.T) {
	const callers, window, per = 16, 20, 12
	ins := inputSet(16, window)
	want := singleThreaded(t, ins, window)
	board := emuproc.Start(t)
	_, m := load(t, []string{board.URI, "emu:"}, hostlib.Spec{Window: window})
	var wg sync.WaitGroup
	var once sync.Once
	var underLoad atomic.Bool
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range per {
				i := (g + n) % len(ins)
				got, err := m.Infer(ctxT(t), ins[i])
				if !assertNoError(t, err) {
					return
				}
				requireEqualResult(t, want[i], got, "caller %d request %d", g, n)
				if st := m.Stats(); st.Replicas[0].Windows >= 10 {
					once.Do(func() { board.Kill(); underLoad.Store(true) }) // the process's replica has windows in flight
				}
			}
		}()
	}
	wg.Wait()
	require.True(t, underLoad.Load(), "the process was killed while requests ran")
	st := m.Stats()
	require.Equal(t, uint64(callers*per), st.Completed)
	require.Zero(t, st.Failed)
	require.False(t, st.Replicas[0].Up)
	require.ErrorIs(t, st.Replicas[0].Err, driver.ErrGone)
	require.True(t, st.Replicas[1].Up)
	require.True(t, m.Ready())
	t.Logf("%d requests moved to the other replica", st.Retried)
}

// TestKillFailsFast: the only replica's emulator process is killed under load; every
// request in flight fails at once with ErrDevice (or ErrNoReplica if it waited in the
// queue), wrapping driver.ErrGone; nothing hangs; the model then refuses requests.
func TestKillFailsFast(t *testing.T) {
	const callers, window = 12, 20
	board := emuproc.Start(t)
	_, m := load(t, []string{board.URI}, hostlib.Spec{Window: window})
	ins := inputSet(8, window)
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				_, err := m.Infer(ctxT(t), ins[(g+n)%len(ins)])
				if err != nil {
					if !errors.Is(err, hostlib.ErrDevice) && !errors.Is(err, hostlib.ErrNoReplica) {
						t.Errorf("caller %d: %v, want ErrDevice or ErrNoReplica", g, err)
					}
					if errors.Is(err, hostlib.ErrDevice) && !errors.Is(err, driver.ErrGone) {
						t.Errorf("caller %d: %v, want it to wrap driver.ErrGone", g, err)
					}
					failed.Add(1)
					return
				}
				if ok.Add(1) == 40 {
					close(stop)
				}
			}
		}()
	}
	<-stop
	board.Kill()
	wg.Wait() // each caller's Infer returned an error: none hangs (the test's deadline says so)
	require.Equal(t, int64(callers), failed.Load())
	require.False(t, m.Ready())
	_, err := m.Infer(ctxT(t), ins[0])
	require.ErrorIs(t, err, hostlib.ErrNoReplica)
	require.ErrorIs(t, err, driver.ErrGone)
	require.NoError(t, m.Close())
}
