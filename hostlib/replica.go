package hostlib

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/runtime/pipeline"
	"github.com/lrchip/lrchip/runtime/sched"
)

// errAborted ends a replica's run on Shutdown.
var errAborted = errors.New("hostlib: shut down")

// replica is a model on one device: a pipeline whose chip stage takes requests from the
// model's queue window by window (Begin), resets the network between requests, and whose
// GPU stage hands each window's readout to its request (OnResult).
type replica struct {
	m      *Model
	slot   *slot
	img    *image.Image
	window int
	pipe   *pipeline.Pipeline
	runCtx context.Context
	cancel context.CancelCauseFunc
	exited chan struct{}

	// The chip stage's own.
	cur   *call
	next  int // the next window of cur to begin
	win   int // the window of cur being run
	enc   encoder
	dirty bool // the network has run since it was loaded

	mu        sync.Mutex
	fifo      []entry // windows begun and not delivered, in order
	err       error   // why the replica failed
	up        atomic.Bool
	delivered atomic.Uint64
}

// entry is a window in flight: window w of the pipeline is window k of call c.
type entry struct {
	c    *call
	w, k int
}

// begin is the pipeline's Begin: it picks the window to run next — the next window of the
// current request, else the first of the next request in the queue (waiting for one) — and
// resets the network's state before a request's first window.
func (rp *replica) begin(ctx context.Context, w int) error {
	for {
		if c := rp.cur; c != nil && rp.next < c.req.windows && !c.finished() {
			break
		}
		rp.cur = nil
		c, err := rp.m.q.pop(ctx)
		if errors.Is(err, errDrained) {
			rp.cancel(errDrained)
			return err
		}
		if err != nil {
			return err
		}
		if c.finished() {
			continue // cancelled while it waited
		}
		rp.cur, rp.next = c, 0
		rp.enc = encoder{r: c.req, window: rp.window}
		rp.push(entry{c: c, w: w, k: 0}) // first, so that a failing reset hands it on
		if rp.dirty {
			if err := rp.slot.dev.Load(ctx, rp.img); err != nil {
				return fmt.Errorf("resetting the network: %w", err)
			}
		}
		rp.dirty = true
		rp.win, rp.next = 0, 1
		return nil
	}
	rp.push(entry{c: rp.cur, w: w, k: rp.next})
	rp.win = rp.next
	rp.next++
	return nil
}

func (rp *replica) push(e entry) {
	rp.mu.Lock()
	rp.fifo = append(rp.fifo, e)
	rp.mu.Unlock()
}

// source is the pipeline's Input: the current request's spikes.
func (rp *replica) source(w, s int, dst []chip.Spike) []chip.Spike {
	if rp.cur == nil {
		return dst
	}
	return rp.enc.spikes(rp.win, s, dst)
}

// result is the pipeline's OnResult: it files a window's readout with its request.
func (rp *replica) result(r sched.Result) error {
	rp.mu.Lock()
	if len(rp.fifo) == 0 || rp.fifo[0].w != r.Window {
		rp.mu.Unlock()
		return fmt.Errorf("hostlib: window %d delivered, not the one begun", r.Window)
	}
	e := rp.fifo[0]
	rp.fifo[0] = entry{}
	rp.fifo = rp.fifo[1:]
	rp.mu.Unlock()
	rp.delivered.Add(1)
	rp.m.windows.Add(1)
	c := e.c
	if c.finished() {
		return nil
	}
	res := &c.res
	res.Class[e.k] = r.Argmax
	copy(res.Scores[e.k*len(r.Scores):], r.Scores)
	copy(res.Counts[e.k*len(r.Counts):], r.Counts)
	if e.k == c.req.windows-1 {
		res.Device = rp.slot.name
		c.finish(nil)
	}
	return nil
}

func (rp *replica) failure() error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.err
}

// run runs the pipeline until the queue is drained (Close), the model is shut down, or the
// device fails; then it hands on or fails the requests it held.
func (rp *replica) run() {
	defer close(rp.exited)
	_, err := rp.pipe.Run(rp.runCtx, 0)
	cause := context.Cause(rp.runCtx)

	rp.mu.Lock()
	var held []*call
	for _, e := range rp.fifo {
		if !e.c.finished() && (len(held) == 0 || held[len(held)-1] != e.c) {
			held = append(held, e.c)
		}
	}
	rp.fifo = nil
	rp.mu.Unlock()
	rp.cur = nil

	m := rp.m
	switch {
	case errors.Is(cause, errAborted):
		for _, c := range held {
			c.finish(fmt.Errorf("%w: model %q shut down while the request ran", ErrClosed, m.info.Name))
		}
	case errors.Is(cause, errDrained) || err == nil:
		for _, c := range held { // none: a drained replica has delivered every window it began
			c.finish(fmt.Errorf("%w: model %q closed while the request ran", ErrClosed, m.info.Name))
		}
	default:
		// The device failed: take it out, and move what it held to another replica.
		rp.mu.Lock()
		rp.err = err
		rp.mu.Unlock()
		rp.up.Store(false)
		m.host.takeOut(rp.slot, err)
		fail := func(c *call) {
			c.finish(fmt.Errorf("%w: %s: %w", ErrDevice, rp.slot.name, err))
		}
		var again []*call
		for _, c := range held {
			if c.attempts++; c.attempts < MaxAttempts {
				again = append(again, c)
			} else {
				fail(c)
			}
		}
		if len(again) > 0 {
			if m.q.retry(again) {
				m.retried.Add(uint64(len(again)))
			} else {
				for _, c := range again {
					fail(c)
				}
			}
		}
	}
	leftErr := fmt.Errorf("%w: model %q: the last replica failed: %w", ErrNoReplica, m.info.Name, err)
	if errors.Is(cause, errDrained) || errors.Is(cause, errAborted) || err == nil {
		leftErr = fmt.Errorf("%w: model %q", ErrClosed, m.info.Name)
	}
	for _, c := range m.q.leave(leftErr) {
		c.finish(leftErr)
	}
}
