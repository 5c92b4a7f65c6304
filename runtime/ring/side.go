package ring

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// endpoint is what the producers and the consumer share: the role in the
// header, the wait loop and the watch on the peer.
type endpoint struct {
	r      *Ring
	h      *Header
	role   string // "producer" or "consumer"
	peerRl string
	me     *Side
	peer   *Side
	// Wait words: this side sleeps on myFutex, announcing itself in
	// mySleeping; it wakes the peer through peerFutex/peerSleeping.
	myFutex, mySleeping     *uint32
	peerFutex, peerSleeping *uint32
	peerPos                 *uint64 // the peer's position word (progress counts as life)

	pid    uint32
	closed atomic.Bool

	hbStop chan struct{}
	hbDone chan struct{}

	watchMu sync.Mutex
	watch   peerWatch
}

// peerWatch remembers what was last seen of the peer.
type peerWatch struct {
	proc  *procWatch // for the pid below, nil if none
	pid   uint32
	hb    uint64
	pos   uint64
	moved time.Time // when hb or pos last changed (zero: not yet seen)
}

func (e *endpoint) initEndpoint(r *Ring, producer bool) error {
	e.r, e.h = r, r.h
	h := r.h
	if producer {
		e.role, e.peerRl = "producer", "consumer"
		e.me, e.peer = &h.Producer, &h.Consumer
		e.myFutex, e.mySleeping = &h.SpaceFutex, &h.ProducerSleeping
		e.peerFutex, e.peerSleeping = &h.DataFutex, &h.ConsumerSleeping
		e.peerPos = &h.ConsumerPos
	} else {
		e.role, e.peerRl = "consumer", "producer"
		e.me, e.peer = &h.Consumer, &h.Producer
		e.myFutex, e.mySleeping = &h.DataFutex, &h.ConsumerSleeping
		e.peerFutex, e.peerSleeping = &h.SpaceFutex, &h.ProducerSleeping
		e.peerPos = &h.ProducerPos
	}
	e.pid = uint32(os.Getpid())
	// Claim the role: take the pid word if it is free or its holder is dead.
	for {
		old := atomic.LoadUint32(&e.me.PID)
		if old == 0 {
			if atomic.CompareAndSwapUint32(&e.me.PID, 0, e.pid) {
				break
			}
			continue
		}
		ns := atomic.LoadUint64(&e.me.PIDNS)
		if !sameNamespace(ns) {
			return fmt.Errorf("ring: %s role is held by pid %d in another pid namespace", e.role, old)
		}
		w := newProcWatch(int(old))
		dead := w.gone()
		w.close()
		if !dead {
			return fmt.Errorf("ring: %s role is held by live pid %d", e.role, old)
		}
		if atomic.CompareAndSwapUint32(&e.me.PID, old, e.pid) {
			break
		}
	}
	atomic.StoreUint64(&e.me.PIDNS, pidNamespace())
	atomic.StoreUint32(&e.me.State, 0)
	atomic.AddUint64(&e.me.Heartbeat, 1)
	if d := r.opts.Heartbeat; d > 0 {
		e.hbStop, e.hbDone = make(chan struct{}), make(chan struct{})
		go e.heartbeat(d)
	}
	return nil
}

func sameNamespace(peerNS uint64) bool {
	my := pidNamespace()
	return peerNS == 0 || my == 0 || peerNS == my
}

func (e *endpoint) heartbeat(d time.Duration) {
	defer close(e.hbDone)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			atomic.AddUint64(&e.me.Heartbeat, 1)
		case <-e.hbStop:
			return
		}
	}
}

// closeEndpoint marks the role closed in the header, releases it and wakes
// everyone sleeping on either futex. It reports whether this call closed it.
func (e *endpoint) closeEndpoint() bool {
	if !e.closed.CompareAndSwap(false, true) {
		return false
	}
	if e.hbStop != nil {
		close(e.hbStop)
		<-e.hbDone
	}
	atomic.StoreUint32(&e.me.State, SideClosed)
	atomic.CompareAndSwapUint32(&e.me.PID, e.pid, 0)
	wake(e.peerFutex)
	wake(e.myFutex) // our own goroutines blocked in a wait (MultiProducer)
	e.watchMu.Lock()
	if e.watch.proc != nil {
		e.watch.proc.close()
		e.watch.proc = nil
	}
	e.watchMu.Unlock()
	return true
}

// wakePeer wakes the peer if it announced that it sleeps, clearing the
// announcement so that the next publish does not wake it again. It must
// follow the store that the peer waits for (a position or a commit flag);
// both are sequentially consistent, which is what makes the check
// race-free. The swap makes one waker of several do the wake.
func (e *endpoint) wakePeer() {
	if atomic.LoadUint32(e.peerSleeping) != 0 && atomic.SwapUint32(e.peerSleeping, 0) != 0 {
		wake(e.peerFutex)
	}
}

// peerClosed reports whether the peer has closed its end.
func (e *endpoint) peerClosed() bool {
	return atomic.LoadUint32(&e.peer.State)&SideClosed != 0
}

// checkPeer returns ErrClosed if the peer closed its end, ErrPeerGone if it
// died or (with Opts.PeerTimeout) stopped moving, else nil. A peer that has
// not attached yet is fine.
func (e *endpoint) checkPeer() error {
	if e.peerClosed() {
		return errorf(ErrClosed, "%s closed its end", e.peerRl)
	}
	pid := atomic.LoadUint32(&e.peer.PID)
	ns := atomic.LoadUint64(&e.peer.PIDNS)
	hb := atomic.LoadUint64(&e.peer.Heartbeat)
	pos := atomic.LoadUint64(e.peerPos)
	now := time.Now()

	e.watchMu.Lock()
	defer e.watchMu.Unlock()
	w := &e.watch
	if pid != w.pid || hb != w.hb || pos != w.pos || w.moved.IsZero() {
		w.hb, w.pos, w.moved = hb, pos, now
	}
	if pid != w.pid {
		if w.proc != nil {
			w.proc.close()
			w.proc = nil
		}
		w.pid = pid
		if pid != 0 && pid != e.pid && sameNamespace(ns) {
			w.proc = newProcWatch(int(pid))
		}
	}
	if pid == 0 {
		return nil // not attached (yet)
	}
	if w.proc != nil && w.proc.gone() {
		// Re-read: a closing peer clears its pid after setting the state.
		if e.peerClosed() {
			return errorf(ErrClosed, "%s closed its end", e.peerRl)
		}
		return errorf(ErrPeerGone, "%s (pid %d) has exited", e.peerRl, pid)
	}
	if t := e.r.opts.PeerTimeout; t > 0 && now.Sub(w.moved) >= t {
		return errorf(ErrPeerGone, "%s (pid %d) showed no heartbeat or progress for %v", e.peerRl, pid, now.Sub(w.moved).Round(time.Millisecond))
	}
	return nil
}

// errLocalClosed is returned by calls on a closed endpoint.
func (e *endpoint) errLocalClosed() error {
	return errorf(ErrClosed, "%s is closed", e.role)
}

// recheck is the part of wait done after announcing the sleep: it reports
// whether the wait is over, and with what.
func (e *endpoint) recheck(ctx context.Context, ready func() (bool, error), lastCheck *time.Time) (bool, error) {
	if ok, err := ready(); ok || err != nil {
		return true, err
	}
	if e.closed.Load() {
		return true, e.errLocalClosed()
	}
	if err := ctx.Err(); err != nil {
		return true, err
	}
	if e.peerClosed() {
		// The peer stores its last position before closing: look once more
		// before giving up.
		if ok, err := ready(); ok || err != nil {
			return true, err
		}
		return true, errorf(ErrClosed, "%s closed its end", e.peerRl)
	}
	if now := time.Now(); now.Sub(*lastCheck) >= e.r.opts.WakeInterval {
		*lastCheck = now
		if err := e.checkPeer(); err != nil {
			return true, err
		}
	}
	return false, nil
}

// wait blocks until ready reports true or an error, the context ends, this
// endpoint is closed, or the peer closes or dies. It polls ready
// Opts.SpinPolls times, then sleeps on the futex:
//
//	seq := load(myFutex)         // before announcing, or a wake may be lost
//	store(mySleeping, 1)
//	if !ready() {                // re-check after announcing
//		futex_wait(myFutex, seq, WakeInterval)
//	}
//
// The peer stores its position (or commit flag), then loads mySleeping and,
// if it is set, clears it, bumps myFutex and wakes. With sequentially
// consistent atomics either the peer sees the announcement or the re-check
// sees the store; a waker that clears the flag announced after our seq was
// read also bumps the futex word after it, so FUTEX_WAIT returns at once.
func (e *endpoint) wait(ctx context.Context, ready func() (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range e.r.opts.SpinPolls {
		if ok, err := ready(); ok || err != nil {
			return err
		}
		if i&63 == 63 {
			runtime.Gosched()
		}
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { wake(e.myFutex) })
		defer stop()
	}
	interval := e.r.opts.WakeInterval
	lastCheck := time.Now()
	for {
		seq := atomic.LoadUint32(e.myFutex)
		atomic.StoreUint32(e.mySleeping, 1)
		if done, err := e.recheck(ctx, ready, &lastCheck); done {
			// The flag stays set: the peer's next wake clears it. Clearing
			// it here could erase another sleeper's announcement.
			return err
		}
		futexWait(e.myFutex, seq, interval)
		atomic.AddUint64(&e.me.Heartbeat, 1)
	}
}
