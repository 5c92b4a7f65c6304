// Package cabi is the logic of hostlib's C ABI (hostlib/capi) without cgo: the status
// codes (the single source of the header's enum), the handle tables, the checks of what a
// C caller passes and the calls into hostlib. capi only converts C values to Go ones and
// back, so that everything here is tested in Go.
package cabi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lrchip/lrchip/hostlib"
)

// ABIVersion is the C ABI's version: LRCHIP_ABI_VERSION in lrchip.h. It changes when a
// function, struct or status changes incompatibly.
const ABIVersion = 1

// Status is a C function's result: LRCHIP_OK or an LRCHIP_ERR_... code.
type Status int32

// The statuses, in the header's order; Statuses documents each.
const (
	OK Status = iota
	ErrInvalid
	ErrInput
	ErrConfig
	ErrNoDevice
	ErrDevice
	ErrNoReplica
	ErrClosed
	ErrTimeout
	ErrCancelled
	ErrBuffer
	ErrInternal
)

// Statuses names and documents every status (index = value).
var Statuses = []struct{ Name, Doc string }{
	{"LRCHIP_OK", "success"},
	{"LRCHIP_ERR_INVALID", "an invalid argument: a NULL pointer, an unknown or closed handle, a count out of range"},
	{"LRCHIP_ERR_INPUT", "the input does not fit the model: its shape, a rate outside [0, 1] or NaN, a spike outside the request"},
	{"LRCHIP_ERR_CONFIG", "the model specification is wrong or its files do not read"},
	{"LRCHIP_ERR_NO_DEVICE", "a device does not open, or no device is free for the model"},
	{"LRCHIP_ERR_DEVICE", "the device running the request failed and the request could not move to another replica"},
	{"LRCHIP_ERR_NO_REPLICA", "every replica of the model has failed"},
	{"LRCHIP_ERR_CLOSED", "the host or model is closed or closing"},
	{"LRCHIP_ERR_TIMEOUT", "the request's timeout passed"},
	{"LRCHIP_ERR_CANCELLED", "the request was cancelled"},
	{"LRCHIP_ERR_BUFFER", "an output buffer is too small for the request's windows (out->windows says how many)"},
	{"LRCHIP_ERR_INTERNAL", "a bug in the library"},
}

// Name is the status's C name.
func (s Status) Name() string {
	if s < 0 || int(s) >= len(Statuses) {
		return fmt.Sprintf("LRCHIP_STATUS_%d", int32(s))
	}
	return Statuses[s].Name
}

// String documents the status.
func (s Status) String() string {
	if s < 0 || int(s) >= len(Statuses) {
		return fmt.Sprintf("unknown status %d", int32(s))
	}
	return Statuses[s].Doc
}

// Errors of this package's own checks.
var (
	ErrArg    = errors.New("lrchip: invalid argument")
	ErrBufLen = errors.New("lrchip: output buffer too small")
)

// StatusOf maps an error to its status.
func StatusOf(err error) Status {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, ErrArg):
		return ErrInvalid
	case errors.Is(err, ErrBufLen):
		return ErrBuffer
	case errors.Is(err, hostlib.ErrInput):
		return ErrInput
	case errors.Is(err, hostlib.ErrConfig):
		return ErrConfig
	case errors.Is(err, hostlib.ErrNoDevice):
		return ErrNoDevice
	case errors.Is(err, hostlib.ErrDevice):
		return ErrDevice
	case errors.Is(err, hostlib.ErrNoReplica):
		return ErrNoReplica
	case errors.Is(err, hostlib.ErrClosed):
		return ErrClosed
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return ErrCancelled
	}
	return ErrInternal
}

// handles maps the ids C holds to Go values. Ids are never reused, so a closed or made-up
// handle is an error, not a crash (runtime/cgo.Handle panics on one).
type handles[T any] struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]T
}

func (h *handles[T]) add(v T) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[uint64]T{}
	}
	h.next++
	h.m[h.next] = v
	return h.next
}

func (h *handles[T]) get(id uint64) (T, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[id]
	return v, ok
}

func (h *handles[T]) remove(id uint64) (T, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[id]
	delete(h.m, id)
	return v, ok
}

func (h *handles[T]) all() map[uint64]T {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(map[uint64]T, len(h.m))
	for k, v := range h.m {
		c[k] = v
	}
	return c
}

// Lib is the state behind the C ABI: the open hosts and models.
type Lib struct {
	hosts  handles[*hostlib.Host]
	models handles[model]
}

type model struct {
	m    *hostlib.Model
	host uint64
}

// HostOpen opens a host (hostlib.Open) and returns its handle.
func (l *Lib) HostOpen(ctx context.Context, opts hostlib.Opts) (uint64, error) {
	h, err := hostlib.Open(ctx, opts)
	if err != nil {
		return 0, err
	}
	return l.hosts.add(h), nil
}

// HostClose closes a host and its models (draining them) and forgets their handles.
func (l *Lib) HostClose(id uint64) error {
	h, ok := l.hosts.remove(id)
	if !ok {
		return fmt.Errorf("%w: host handle %d is not open", ErrArg, id)
	}
	for mid, m := range l.models.all() {
		if m.host == id {
			l.models.remove(mid)
		}
	}
	return h.Close()
}

// ModelLoad loads a model on a host and returns its handle.
func (l *Lib) ModelLoad(ctx context.Context, host uint64, spec hostlib.Spec) (uint64, error) {
	h, ok := l.hosts.get(host)
	if !ok {
		return 0, fmt.Errorf("%w: host handle %d is not open", ErrArg, host)
	}
	m, err := h.Load(ctx, spec)
	if err != nil {
		return 0, err
	}
	return l.models.add(model{m: m, host: host}), nil
}

// Model returns the model a handle names.
func (l *Lib) Model(id uint64) (*hostlib.Model, error) {
	m, ok := l.models.get(id)
	if !ok {
		return nil, fmt.Errorf("%w: model handle %d is not loaded", ErrArg, id)
	}
	return m.m, nil
}

// ModelClose closes a model (draining it) and forgets its handle.
func (l *Lib) ModelClose(id uint64) error {
	m, ok := l.models.remove(id)
	if !ok {
		return fmt.Errorf("%w: model handle %d is not loaded", ErrArg, id)
	}
	return m.m.Close()
}

// Limits on what a C caller passes, checked before a slice is made over its memory.
const (
	MaxSpikes  = 1 << 28
	MaxDevices = 1 << 10
)

// InputLimits checks the counts of a C input against the model before its buffers are
// read.
func InputLimits(info hostlib.Info, nRates, nSpikes uint64, ratesNil, spikesNil bool) error {
	switch {
	case nRates > 0 && ratesNil:
		return fmt.Errorf("%w: rates is NULL with n_rates %d", ErrArg, nRates)
	case nSpikes > 0 && spikesNil:
		return fmt.Errorf("%w: spikes is NULL with n_spikes %d", ErrArg, nSpikes)
	case nRates > uint64(info.MaxWindows)*uint64(max(info.Inputs, 1)):
		return fmt.Errorf("%w: %d rates, more than %d windows of %d input neurons", hostlib.ErrInput, nRates, info.MaxWindows, info.Inputs)
	case nSpikes > MaxSpikes:
		return fmt.Errorf("%w: %d spikes, at most %d", hostlib.ErrInput, nSpikes, MaxSpikes)
	}
	return nil
}

// Out are the caller's output buffers (any may be empty: not wanted).
type Out struct {
	Classes []int32
	Scores  []int64
	Counts  []int32
}

// fits checks the buffers against a request of windows windows.
func (o Out) fits(info hostlib.Info, windows int) error {
	for _, b := range []struct {
		name      string
		have, per int
	}{{"classes", len(o.Classes), 1}, {"scores", len(o.Scores), info.Scores}, {"counts", len(o.Counts), info.Outputs}} {
		if b.have > 0 && b.have < windows*b.per {
			return fmt.Errorf("%w: %s holds %d values, the request's %d windows need %d", ErrBufLen, b.name, b.have, windows, windows*b.per)
		}
	}
	return nil
}

func (o Out) fill(r hostlib.Result) {
	if len(o.Classes) > 0 {
		for w, c := range r.Class {
			o.Classes[w] = int32(c)
		}
	}
	if len(o.Scores) > 0 {
		copy(o.Scores, r.Scores)
	}
	if len(o.Counts) > 0 {
		copy(o.Counts, r.Counts)
	}
}

// requestCtx is a context with the C caller's timeout (0: none).
func requestCtx(timeoutMS int64) (context.Context, context.CancelFunc, error) {
	switch {
	case timeoutMS < 0:
		return nil, nil, fmt.Errorf("%w: timeout of %d ms", ErrArg, timeoutMS)
	case timeoutMS == 0:
		ctx, cancel := context.WithCancel(context.Background())
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMS)*time.Millisecond)
	return ctx, cancel, nil
}

// Infer runs a request and writes its result into out. It returns the request's windows
// (also when the buffers are too small, so that the caller can size them). in may point
// into C memory: it is not used after Infer returns.
func Infer(m *hostlib.Model, in hostlib.Input, out Out, timeoutMS int64) (int, error) {
	windows, err := m.Check(in)
	if err != nil {
		return 0, err
	}
	if err := out.fits(m.Info(), windows); err != nil {
		return windows, err
	}
	ctx, cancel, err := requestCtx(timeoutMS)
	if err != nil {
		return windows, err
	}
	defer cancel()
	r, err := m.Infer(ctx, in)
	if err != nil {
		return windows, err
	}
	out.fill(r)
	return windows, nil
}

// Submit queues a request; done is called once, from another goroutine, when it is done
// (with out filled on success). An error returned means done will not be called. in may
// point into C memory: it is copied before Submit returns; out must stay valid until done.
func Submit(m *hostlib.Model, in hostlib.Input, out Out, timeoutMS int64, done func(windows int, err error)) (int, error) {
	windows, err := m.Check(in)
	if err != nil {
		return 0, err
	}
	if err := out.fits(m.Info(), windows); err != nil {
		return windows, err
	}
	ctx, cancel, err := requestCtx(timeoutMS)
	if err != nil {
		return windows, err
	}
	p, err := m.Submit(ctx, in)
	if err != nil {
		cancel()
		return windows, err
	}
	go func() {
		<-p.Done()
		cancel()
		r, err := p.Result()
		if err == nil {
			out.fill(r)
		}
		done(windows, err)
	}()
	return windows, nil
}
