package usbdev

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// session is one ATTACH: the board's copies of the four rings, in plain memory, and the
// board's firmware loop over them.
type session struct {
	ctx      context.Context
	cancel   context.CancelFunc
	owner    *client
	host     board.Host
	rings    [regmap.NumRings]*ring.Ring
	cmd, spk *ring.Producer // the OUT pump's ends
	cpl, out *ring.Consumer // the IN pump's ends
	dec      regmap.FrameDecoder
	wake     chan struct{}  // the engine's doorbell
	irq      chan struct{}  // the engine's interrupt, and the IN pump's other reasons to look
	done     chan struct{}  // the engine returned
	users    sync.WaitGroup // the pumps, while they use the rings
	closed   sync.Once
}

func (s *session) wakeEngine() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) signalIRQ() {
	select {
	case s.irq <- struct{}{}:
	default:
	}
}

func (s *session) close() {
	s.closed.Do(func() {
		for _, r := range s.rings {
			if r != nil {
				r.Close()
			}
		}
	})
}

// alignedMem returns n bytes of 8-byte aligned memory for a ring.
func alignedMem(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// attach starts a session for client c: it ends the one before (a host that died cannot
// say goodbye), makes the rings, attaches the board and starts its firmware.
func (f *Function) attach(c *client, a regmap.USBAttach) (err error) {
	f.endSession(nil)
	s := &session{owner: c, host: board.Host{PID: int(a.PID), Comm: a.Comm},
		wake: make(chan struct{}, 1), irq: make(chan struct{}, 1), done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(f.ctx)
	defer func() {
		if err != nil {
			s.cancel()
			s.close()
		}
	}()
	smallest := 0
	var regs board.TransportRegs
	for i := range s.rings {
		c := int(a.RingCap[i])
		if c == 0 {
			c = board.DefaultRingCapacity
		}
		if smallest == 0 || c < smallest {
			smallest = c
		}
		name := "lrchip-usb-" + strings.ToLower(regmap.Ring(i).String())
		if s.rings[i], err = ring.New(alignedMem(ring.HeaderSize+c), ring.Opts{Capacity: c, Name: name, Heartbeat: -1}); err != nil {
			return err
		}
		regs.RingSize[i] = uint32(c)
	}
	var cmdC, spkC *ring.Consumer
	var cplP, outP *ring.Producer
	for _, step := range []func() error{
		func() (err error) { s.cmd, err = s.rings[regmap.RingCmd].Producer(); return },
		func() (err error) { cmdC, err = s.rings[regmap.RingCmd].Consumer(); return },
		func() (err error) { s.spk, err = s.rings[regmap.RingSpkIn].Producer(); return },
		func() (err error) { spkC, err = s.rings[regmap.RingSpkIn].Consumer(); return },
		func() (err error) { cplP, err = s.rings[regmap.RingCpl].Producer(); return },
		func() (err error) { s.cpl, err = s.rings[regmap.RingCpl].Consumer(); return },
		func() (err error) { outP, err = s.rings[regmap.RingOut].Producer(); return },
		func() (err error) { s.out, err = s.rings[regmap.RingOut].Consumer(); return },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	s.dec = regmap.FrameDecoder{Name: "bulk OUT", Rings: 1<<regmap.RingCmd | 1<<regmap.RingSpkIn}
	s.dec.Max[regmap.RingCmd] = s.rings[regmap.RingCmd].MaxPayload()
	s.dec.Max[regmap.RingSpkIn] = s.rings[regmap.RingSpkIn].MaxPayload()
	link := board.Link{Cmd: cmdC, SpkIn: spkC, Cpl: cplP, Out: outP, Host: s.host,
		Payload: smallest / 4, OutMax: s.rings[regmap.RingOut].MaxPayload(),
		Interrupt: s.signalIRQ,
		Wait: func(d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-s.wake:
			case <-t.C:
			case <-s.ctx.Done():
			}
			return true
		},
		Alive: func() bool { return s.ctx.Err() == nil },
	}
	f.mu.Lock()
	if f.gone {
		f.mu.Unlock()
		return fmt.Errorf("usbdev: unplugged")
	}
	f.mu.Unlock()
	serve, err := f.b.Attach(link)
	if err != nil {
		return err
	}
	f.b.SetTransportRegs(regs) // no addresses on USB, and no bulk window
	f.mu.Lock()
	f.sess, f.last = s, s
	f.stats.Sessions++
	f.halted = map[uint8]bool{}
	f.latch = map[uint32]uint32{}
	f.cond.Broadcast()
	f.mu.Unlock()
	go func() {
		defer close(s.done)
		serve(s.ctx) // its errors (a host breaking the rings) cannot happen with our own rings
		f.mu.Lock()
		if f.sess == s {
			f.sess = nil
			f.cond.Broadcast()
		}
		f.mu.Unlock()
	}()
	f.kickIn()
	return nil
}

// endSession ends the session which (nil: the last one) and waits until the board and the
// pumps have let go of it, also when another goroutine ended it first.
func (f *Function) endSession(which *session) {
	f.mu.Lock()
	s := f.last
	if s == nil || (which != nil && s != which) {
		f.mu.Unlock()
		return
	}
	if f.sess == s {
		f.sess = nil // no pump takes it up from now
		f.cond.Broadcast()
	}
	f.mu.Unlock()
	s.cancel()
	<-s.done
	s.users.Wait()
	s.close()
}

// put writes one record of bulk OUT into the board's ring, waiting for room (the bridge
// NAKs meanwhile), and publishes it at once: SPKIN records the host sent before a command
// are visible before the command is.
func (s *session) put(ctx context.Context, h regmap.FrameHeader, p []byte) error {
	prod := s.cmd
	if h.Ring == regmap.RingSpkIn {
		prod = s.spk
	}
	buf, err := prod.TryReserve(h.Type, len(p))
	if errors.Is(err, ring.ErrFull) {
		s.wakeEngine()
		buf, err = prod.Reserve(ctx, h.Type, len(p))
	}
	if err != nil {
		return err
	}
	copy(buf, p)
	prod.Commit()
	prod.Publish()
	s.wakeEngine()
	return nil
}

// outPump feeds the bulk OUT URBs, in order, to the session's frame decoder.
func (f *Function) outPump() {
	defer f.wg.Done()
	for {
		f.mu.Lock()
		for (len(f.outq) == 0 || f.hung) && f.ctx.Err() == nil {
			f.cond.Wait()
		}
		if f.ctx.Err() != nil {
			f.mu.Unlock()
			return
		}
		u, s := f.outq[0], f.sess
		if s == nil {
			// Records with nowhere to go: the host did not ATTACH.
			f.stallLocked(regmap.USBEndpointOut)
			f.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		u.cancel = cancel
		data := u.data[u.outUsed:]
		s.users.Add(1)
		f.mu.Unlock()
		n, err := s.dec.Feed(data, func(h regmap.FrameHeader, p []byte) error { return s.put(ctx, h, p) })
		cancel()
		s.users.Done()
		f.mu.Lock()
		u.outUsed += n
		f.stats.OutBytes += int64(n)
		switch {
		case u.done: // discarded, failed by an unplug, or its client left
		case err == nil:
			f.outq = f.outq[1:]
			f.completeLocked(u, 0, u.bufLen)
		case errors.Is(err, regmap.ErrMalformed):
			f.stallLocked(regmap.USBEndpointOut)
		}
		// Otherwise the session ended under it: the URB waits for the next one (or a stall).
		f.mu.Unlock()
	}
}

// inPump moves what the board produced to bulk IN, while the host has URBs queued: it
// arms the board's interrupt, takes the completions and events in CPL, then everything in
// OUT (so that output produced before a completion goes first), and sends them as a burst.
func (f *Function) inPump() {
	defer f.wg.Done()
	var s *session
	var held, burst []byte // CPL frames taken, waiting for OUT to be drained; the burst
	for {
		f.mu.Lock()
		for f.ctx.Err() == nil && (f.hung || len(f.inq) == 0 || (f.sess == nil && len(f.inject) == 0)) {
			f.cond.Wait()
		}
		if f.ctx.Err() != nil {
			f.mu.Unlock()
			return
		}
		if len(f.inject) > 0 {
			b := f.inject[0]
			f.inject = f.inject[1:]
			f.deliverLocked(b, nil)
			f.mu.Unlock()
			continue
		}
		if f.sess != s {
			s, held = f.sess, held[:0]
		}
		s.users.Add(1)
		f.mu.Unlock()
		// Clear the causes, arm, look: a record published after the look interrupts; one
		// published before it is in the look (or, if it raced the arming, WriteReg says so).
		f.b.WriteReg(regmap.RegIRQStatus, regmap.IRQAll)
		if e, _ := f.b.WriteReg(regmap.RegIRQMask, regmap.IRQAll); e&board.EffectInterrupt != 0 {
			s.signalIRQ()
		}
		burst, held = s.collect(burst[:0], held, f.opts.Burst)
		if len(burst) == 0 {
			select {
			case <-s.irq:
			case <-s.ctx.Done():
			}
			s.users.Done()
			continue
		}
		s.wakeEngine() // the board may be waiting for the space
		s.users.Done()
		f.mu.Lock()
		f.deliverLocked(burst, s)
		f.mu.Unlock()
	}
}

// collect appends a burst to b: if no completions are held, it takes those in CPL; then
// the records in OUT, up to budget bytes; and, once OUT is empty, the completions held.
func (s *session) collect(b, held []byte, budget int) ([]byte, []byte) {
	if len(held) == 0 {
		n := 0
		for {
			r, err := s.cpl.TryRead()
			if err != nil {
				break
			}
			held = regmap.AppendFrame(held, regmap.RingCpl, r.Type, r.Payload)
			n++
		}
		if n > 0 {
			s.cpl.Release()
		}
	}
	n, empty := 0, false
	for len(b) < budget {
		r, err := s.out.TryRead()
		if err != nil {
			empty = errors.Is(err, ring.ErrEmpty)
			break
		}
		b = regmap.AppendFrame(b, regmap.RingOut, r.Type, r.Payload)
		n++
	}
	if n > 0 {
		s.out.Release()
	}
	if empty {
		b = append(b, held...)
		held = held[:0]
	}
	return b, held
}

// deliverLocked sends a burst on bulk IN as the bus does: packets of the max packet size,
// the last one short, or followed by a zero-length packet when the burst is a multiple of
// it, into the host's URBs in order. A packet ends an URB when it is short or fills it; a
// packet larger than what is left of an URB overflows it. The burst is dropped if its
// session ends or the endpoint halts first.
func (f *Function) deliverLocked(b []byte, s *session) {
	n, off := len(b), 0
	zlp := n%f.mps == 0
	for off < n || zlp {
		for f.ctx.Err() == nil && !f.gone && len(f.inq) == 0 && !f.halted[regmap.USBEndpointIn] && (s == nil || f.sess == s) {
			f.cond.Wait()
		}
		if f.ctx.Err() != nil || f.gone || f.halted[regmap.USBEndpointIn] || (s != nil && f.sess != s) {
			return
		}
		u := f.inq[0]
		pkt := b[off:min(off+f.mps, n)]
		if len(pkt) == 0 {
			zlp = false
		}
		off += len(pkt)
		space := u.bufLen - u.actual
		if len(pkt) > space {
			u.actual += copy(u.data[u.actual:], pkt[:space])
			f.inq = f.inq[1:]
			f.stats.InBytes += int64(space)
			f.completeLocked(u, -int32(syscall.EOVERFLOW), u.actual)
			continue
		}
		u.actual += copy(u.data[u.actual:], pkt)
		f.stats.InBytes += int64(len(pkt))
		if len(pkt) < f.mps || u.actual == u.bufLen {
			var status int32
			if len(pkt) < f.mps && u.actual < u.bufLen && u.flags&urbShortNotOK != 0 {
				status = -int32(syscall.EREMOTEIO)
			}
			f.inq = f.inq[1:]
			f.completeLocked(u, status, u.actual)
		}
	}
}
