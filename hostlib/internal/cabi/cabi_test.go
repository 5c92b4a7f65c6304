package cabi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/hostlib"
)

// TestHeaderUpToDate fails when hostlib/capi/lrchip.h is not what go generate writes.
func TestHeaderUpToDate(t *testing.T) {
	have, err := os.ReadFile("../../capi/lrchip.h")
	require.NoError(t, err)
	require.Equal(t, string(Header()), string(have), "lrchip.h is stale: run go generate ./hostlib/capi")
	h := string(Header())
	for i, s := range Statuses {
		require.Contains(t, h, fmt.Sprintf("\t%s = %d,", s.Name, i))
	}
	require.Contains(t, h, fmt.Sprintf("#define LRCHIP_ABI_VERSION %d\n", ABIVersion))
}

func TestStatusOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Status
	}{
		{nil, OK},
		{fmt.Errorf("x: %w", ErrArg), ErrInvalid},
		{ErrBufLen, ErrBuffer},
		{fmt.Errorf("%w: nan", hostlib.ErrInput), ErrInput},
		{hostlib.ErrConfig, ErrConfig},
		{hostlib.ErrNoDevice, ErrNoDevice},
		{fmt.Errorf("%w: emu:unix:x: %w", hostlib.ErrDevice, driver.ErrGone), ErrDevice},
		{hostlib.ErrNoReplica, ErrNoReplica},
		{hostlib.ErrClosed, ErrClosed},
		{fmt.Errorf("hostlib: request: %w", context.DeadlineExceeded), ErrTimeout},
		{context.Canceled, ErrCancelled},
		{errors.New("something else"), ErrInternal},
	} {
		require.Equal(t, c.want, StatusOf(c.err), "%v", c.err)
	}
	require.Equal(t, "LRCHIP_ERR_DEVICE", ErrDevice.Name())
	require.Equal(t, "LRCHIP_STATUS_99", Status(99).Name())
	require.Contains(t, Status(-1).String(), "unknown")
	require.Len(t, Statuses, int(ErrInternal)+1)
}

func TestHandles(t *testing.T) {
	var h handles[string]
	a, b := h.add("a"), h.add("b")
	require.NotEqual(t, a, b)
	require.NotZero(t, a)
	v, ok := h.get(a)
	require.True(t, ok)
	require.Equal(t, "a", v)
	_, ok = h.remove(a)
	require.True(t, ok)
	_, ok = h.get(a)
	require.False(t, ok, "a removed handle is invalid")
	_, ok = h.remove(a)
	require.False(t, ok, "removing twice")
	require.NotEqual(t, a, h.add("c"), "ids are not reused")
	_, ok = h.get(0)
	require.False(t, ok)
}

func TestLib(t *testing.T) {
	var l Lib
	ctx := context.Background()
	host, err := l.HostOpen(ctx, hostlib.Opts{Devices: []string{"emu:"}})
	require.NoError(t, err)
	_, err = l.ModelLoad(ctx, host+100, hostlib.Spec{})
	require.ErrorIs(t, err, ErrArg)
	id, err := l.ModelLoad(ctx, host, hostlib.Spec{Name: "m", Path: "../../../examples/pipeline/pipeline.yaml", GPU: "cpu", Window: 10})
	require.NoError(t, err)
	m, err := l.Model(id)
	require.NoError(t, err)
	info := m.Info()

	in := hostlib.Input{Windows: 3, Rates: make([]float64, info.Inputs)}
	for i := range in.Rates {
		in.Rates[i] = 0.4
	}
	want, err := m.Infer(ctx, in)
	require.NoError(t, err)

	// Buffers: too small is ErrBufLen with the windows needed; absent buffers are skipped.
	w, err := Infer(m, in, Out{Classes: make([]int32, 2)}, 0)
	require.ErrorIs(t, err, ErrBufLen)
	require.ErrorContains(t, err, "classes holds 2 values, the request's 3 windows need 3")
	require.Equal(t, 3, w)
	_, err = Infer(m, in, Out{Scores: make([]int64, 3*info.Scores-1)}, 0)
	require.ErrorIs(t, err, ErrBufLen)
	out := Out{Classes: make([]int32, 3), Scores: make([]int64, 3*info.Scores), Counts: make([]int32, 3*info.Outputs)}
	w, err = Infer(m, in, out, 0)
	require.NoError(t, err)
	require.Equal(t, 3, w)
	require.Equal(t, want.Scores, out.Scores)
	require.Equal(t, want.Counts, out.Counts)
	for k, c := range want.Class {
		require.Equal(t, int32(c), out.Classes[k])
	}
	_, err = Infer(m, in, Out{}, -1)
	require.ErrorIs(t, err, ErrArg)
	_, err = Infer(m, hostlib.Input{Rates: []float64{0.5}}, Out{}, 0)
	require.ErrorIs(t, err, hostlib.ErrInput)

	// Submit calls back once, with the result in the buffers.
	out2 := Out{Classes: make([]int32, 3)}
	done := make(chan error, 2)
	_, err = Submit(m, in, out2, 0, func(w int, err error) { done <- err })
	require.NoError(t, err)
	require.NoError(t, <-done)
	require.Equal(t, out.Classes, out2.Classes)

	require.ErrorIs(t, InputLimits(info, 1, 0, true, false), ErrArg)
	require.ErrorIs(t, InputLimits(info, 0, 1, false, true), ErrArg)
	require.ErrorIs(t, InputLimits(info, uint64(info.MaxWindows*info.Inputs+1), 0, false, false), hostlib.ErrInput)
	require.ErrorIs(t, InputLimits(info, 0, MaxSpikes+1, false, false), hostlib.ErrInput)
	require.NoError(t, InputLimits(info, uint64(info.Inputs), 5, false, false))

	require.NoError(t, l.HostClose(host))
	_, err = l.Model(id)
	require.ErrorIs(t, err, ErrArg, "closing a host forgets its models")
	require.ErrorIs(t, l.HostClose(host), ErrArg)
	require.True(t, strings.HasPrefix(ErrInternal.Name(), "LRCHIP_ERR_"))
}

// TestConcurrent drives the C ABI's logic from many goroutines at once, as C threads do
// (under -race in CI): handles looked up and closed concurrently, Infer and Submit with
// their callbacks; every result equals the single-threaded one.
func TestConcurrent(t *testing.T) {
	var l Lib
	ctx := context.Background()
	host, err := l.HostOpen(ctx, hostlib.Opts{Devices: []string{"emu:", "emu:"}})
	require.NoError(t, err)
	defer l.HostClose(host)
	id, err := l.ModelLoad(ctx, host, hostlib.Spec{Name: "m", Path: "../../../examples/pipeline/pipeline.yaml", GPU: "cpu", Window: 10})
	require.NoError(t, err)
	m, err := l.Model(id)
	require.NoError(t, err)
	info := m.Info()
	ins := make([]hostlib.Input, 8)
	want := make([][]int64, len(ins))
	for k := range ins {
		ins[k] = hostlib.Input{Windows: 1 + k%3, Rates: make([]float64, info.Inputs), Seed: uint64(k + 1)}
		for i := range ins[k].Rates {
			ins[k].Rates[i] = float64((i+k)%5) / 10
		}
		r, err := m.Infer(ctx, ins[k])
		require.NoError(t, err)
		want[k] = r.Scores
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 6 {
				k := (g + n) % len(ins)
				mm, err := l.Model(id)
				if err != nil {
					t.Error(err)
					return
				}
				out := Out{Scores: make([]int64, 3*info.Scores)}
				if n%2 == 0 {
					_, err = Infer(mm, ins[k], out, 0)
				} else {
					done := make(chan error, 1)
					if _, err = Submit(mm, ins[k], out, 0, func(_ int, err error) { done <- err }); err == nil {
						err = <-done
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				if got := out.Scores[:len(want[k])]; !slices.Equal(got, want[k]) {
					t.Errorf("goroutine %d request %d: scores %v, want %v", g, n, got, want[k])
				}
				// Handles of other hosts come and go meanwhile.
				if h, err := l.HostOpen(ctx, hostlib.Opts{Devices: []string{"emu:"}}); err == nil {
					l.HostClose(h)
				} else {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
