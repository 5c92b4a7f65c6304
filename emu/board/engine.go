package board

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/runtime/ring"
)

// Link is what a transport gives the board for one attached host: the board's ends of the
// four rings, a way to interrupt the host, and a way to sleep until the doorbell rings.
type Link struct {
	Cmd, SpkIn *ring.Consumer
	Cpl, Out   *ring.Producer
	// Interrupt signals the host (MSI-X on PCIe, an eventfd write on the emulator).
	Interrupt func()
	// Wait sleeps until the doorbell rings or d passes. It returns false once the host is
	// gone.
	Wait func(d time.Duration) bool
	// Alive reports, without blocking, whether the host is still there.
	Alive func() bool
	// Host is who is attached (the kernel's word for it, where there is one).
	Host Host
	// Payload is the largest command payload the board accepts from this host (CAP_PAYLOAD):
	// at most a quarter of the smallest ring's capacity. Default: a quarter of
	// Opts.RingCapacity.
	Payload int
	// OutMax is the largest record payload OUT takes (its ring's MaxPayload). Default:
	// Opts.RingCapacity minus the record header.
	OutMax int
	// Bulk is the bulk DMA window: host memory the board reads images from (LOAD_DMA).
	// nil: none (LOAD_DMA fails with RANGE).
	Bulk []byte
}

// How often a busy board checks that its host is still there.
const aliveEvery = 20 * time.Millisecond

// yieldAfter is how long the board polls without giving up its CPU: a host on another core
// sends its next command well within it.
const yieldAfter = 5 * time.Microsecond

// idleWait bounds one sleep, so that a cancelled Serve returns.
const idleWait = 100 * time.Millisecond

type rec struct {
	typ uint16
	b   []byte
}

// queue is one board → host ring with the records that did not fit yet.
type queue struct {
	p       *ring.Producer
	pending []rec
	direct  bool // the last reservation is in the ring
	dirty   bool // committed records not yet published
	cause   uint32
}

// engine is the board's firmware serving one host.
type engine struct {
	b       *Board
	l       Link
	r       *regFile
	out     queue
	cpl     queue
	runLeft uint64
	runCmd  regmap.Command
	err     error // the session must end: nil error for a host that left, else why
	ended   bool
	raise   uint32 // IRQ causes to raise at the end of the iteration
	discard []byte
}

// Serve runs the board's firmware for one host, over l, until the host goes (nil), ctx ends
// (ctx.Err()), or the host breaks the ring protocol (an error wrapping ring.ErrProtocol).
// A board serves one host at a time: Serve returns ErrBusy while another is attached.
func (b *Board) Serve(ctx context.Context, l Link) error {
	if err := b.attach(l.Host); err != nil {
		return err
	}
	defer b.detach()
	b.prepare(&l)
	return b.serve(ctx, l)
}

// prepare readies the board for a newly attached host: the host's registers cleared, what a
// previous host left half done dropped, ATTACHED set. It must run before the host can touch
// the registers (before the setup reply), or it could clear what the host just wrote.
func (b *Board) prepare(l *Link) {
	if l.Payload <= 0 {
		l.Payload = b.opts.RingCapacity / 4
	}
	if l.OutMax <= 0 {
		l.OutMax = b.opts.RingCapacity - ring.RecordHeaderSize
	}
	r := b.regs
	for _, off := range []uint32{regmap.RegIRQMask, regmap.RegIRQStatus, regmap.RegDoorbell, regmap.RegControl, regmap.RegHostVersion, regmap.RegScratch} {
		r.store(off, 0)
	}
	r.store(regmap.RegCapPayload, uint32(l.Payload))
	b.load, b.fl = loadState{buf: b.load.buf[:0]}, flashState{}
	if b.hostCS { // the previous host left a transaction open
		b.hostCS = false
		b.flash.Transfer(nil, nil, false)
	}
	r.setStatus(regmap.StatusAttached, true)
}

// serve is Serve for an attached host that prepare has readied.
func (b *Board) serve(ctx context.Context, l Link) error {
	e := &engine{b: b, l: l, r: b.regs}
	e.out = queue{p: l.Out, cause: regmap.IRQOutput}
	e.cpl = queue{p: l.Cpl, cause: regmap.IRQCompletion}
	r := b.regs
	defer func() {
		b.running = false
		r.setStatus(regmap.StatusAttached|regmap.StatusSleeping|regmap.StatusRunning|regmap.StatusBusy|regmap.StatusStalled, false)
		r.store(regmap.RegIRQMask, 0)
	}()

	lastWork, lastAlive := time.Now(), time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		work := e.iterate()
		if e.ended {
			return e.err
		}
		now := time.Now()
		if work {
			lastWork = now
			if now.Sub(lastAlive) >= aliveEvery {
				lastAlive = now
				if !l.Alive() {
					return nil
				}
			}
			continue
		}
		if idle := now.Sub(lastWork); b.opts.Spin > 0 && idle < b.opts.Spin {
			if idle > yieldAfter {
				// Give up the CPU, not just the goroutine: the host may be waiting for
				// this very core to send the next command.
				unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			}
			continue
		}
		// Need-wakeup: announce the sleep, look once more, then sleep.
		r.setStatus(regmap.StatusSleeping, true)
		if e.iterate() {
			r.setStatus(regmap.StatusSleeping, false)
			if e.ended {
				return e.err
			}
			lastWork = time.Now()
			continue
		}
		alive := l.Wait(idleWait)
		r.setStatus(regmap.StatusSleeping, false)
		lastAlive = time.Now()
		if !alive {
			return nil
		}
	}
}

// fail ends the session because of err (nil: the host left).
func (e *engine) end(err error) {
	if !e.ended {
		e.ended, e.err = true, err
	}
}

// ringErr ends the session on a ring error: the host closed its end (it left) or broke the
// protocol.
func (e *engine) ringErr(err error) {
	switch {
	case errors.Is(err, ring.ErrClosed), errors.Is(err, ring.ErrPeerGone):
		e.end(nil)
	default:
		e.b.fatal(regmap.ResultInternal)
		e.end(fmt.Errorf("board: host broke the ring protocol: %w", err))
	}
}

// fatal sets STATUS.ERROR.
func (b *Board) fatal(code regmap.Result) {
	b.errCode = code
	b.regs.store(regmap.RegErrorCode, uint32(code))
	b.regs.setStatus(regmap.StatusError, true)
}

// iterate does one round of the firmware loop and reports whether anything happened.
func (e *engine) iterate() bool {
	b, r := e.b, e.r
	work := false
	// Read before writing: a store to the status line on every round would take it from
	// the host's cache for nothing.
	if r.load(regmap.RegControl) != 0 {
		if c := r.swap(regmap.RegControl, 0); c != 0 {
			e.control(c)
			work = true
		}
	}
	if r.load(regmap.RegDoorbell) != 0 {
		r.swap(regmap.RegDoorbell, 0)
	}
	if e.flush(&e.out) {
		work = true
	}
	if len(e.out.pending) == 0 && e.flush(&e.cpl) {
		work = true
	}
	if e.drainInput() {
		work = true
	}
	for n := 0; n < 64 && e.runLeft == 0 && len(e.cpl.pending) < 64 && !e.ended; n++ {
		rc, err := e.l.Cmd.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			break
		}
		if err != nil {
			e.ringErr(err)
			break
		}
		work = true
		if rc.Type != regmap.TypeCommand {
			e.event(regmap.Event{Code: regmap.EventError, Arg: uint32(regmap.ResultBadArgs), Timestep: b.t, Value: int64(rc.Type)})
			e.l.Cmd.Release()
			continue
		}
		c, err := regmap.DecodeCommand(rc.Payload)
		if err != nil {
			if len(rc.Payload) >= regmap.CommandHeaderSize {
				c.Flags = 0
				e.fail(c, regmap.ResultBadArgs, "%v", err)
			} else {
				e.event(regmap.Event{Code: regmap.EventError, Arg: uint32(regmap.ResultBadArgs), Timestep: b.t})
			}
			e.l.Cmd.Release()
			continue
		}
		// Spikes published before this command are visible now: take them first, so that
		// an injection followed by a command is seen by the command.
		e.drainInput()
		e.execute(c)
		e.l.Cmd.Release()
		if b.flash.PoweredOff() {
			// The power is gone: the board stops here, and its host sees it go.
			e.end(fmt.Errorf("board: %w", ErrPowerCut))
			return work
		}
	}
	// Steps come in bursts: the rest of the loop (control, doorbells, commands, publishing)
	// is paid once per burst, not once per step, which is most of a small network's step. A
	// control bit (STOP, RESET) ends a burst at once, and input for the next step is taken
	// before every step, as on the chip.
	if e.runLeft > 0 || b.running {
		e.status() // BUSY and RUNNING are visible before the burst's first step
	}
	for burst := 0; burst < stepBurst && (e.runLeft > 0 || b.running) && len(e.out.pending) == 0 && !e.ended; burst++ {
		if burst > 0 && r.load(regmap.RegControl) != 0 {
			break
		}
		e.drainInput()
		e.step()
		work = true
		if e.runLeft > 0 {
			if e.runLeft--; e.runLeft == 0 {
				e.complete(e.runCmd, regmap.ResultOK, nil)
			}
		}
	}
	e.publish()
	e.status()
	return work
}

func (e *engine) status() {
	b := e.b
	var s uint32
	if b.running {
		s |= regmap.StatusRunning
	}
	if e.runLeft > 0 || b.load.active || b.fl.active {
		s |= regmap.StatusBusy
	}
	if b.loaded {
		s |= regmap.StatusLoaded
	}
	if b.sens.throttle != 0 {
		s |= regmap.StatusThrottled
	}
	if len(e.out.pending)+len(e.cpl.pending) > 0 {
		s |= regmap.StatusStalled
	}
	if b.errCode != 0 {
		s |= regmap.StatusError
	}
	const mask = regmap.StatusRunning | regmap.StatusBusy | regmap.StatusLoaded | regmap.StatusThrottled | regmap.StatusStalled | regmap.StatusError
	w := e.r.word(regmap.RegStatus)
	for {
		old := atomic.LoadUint32(w)
		if old&mask == s || atomic.CompareAndSwapUint32(w, old, old&^mask|s) {
			return
		}
	}
}

// reserve returns a buffer for a record of n bytes in q: in the ring if it fits and nothing
// is queued before it, else a queued copy. commit finishes it.
func (e *engine) reserve(q *queue, typ uint16, n int) []byte {
	if q == &e.cpl && e.out.dirty {
		// Output first: a completion must never overtake the output before it.
		e.out.p.Publish()
		e.out.dirty = false
		e.raise |= e.out.cause
	}
	if len(q.pending) == 0 && !(q == &e.cpl && len(e.out.pending) > 0) && !e.ended {
		b, err := q.p.TryReserve(typ, n)
		if err == nil {
			q.direct = true
			return b
		}
		if !errors.Is(err, ring.ErrFull) && !errors.Is(err, ring.ErrTooLarge) {
			e.ringErr(err)
		}
	}
	q.direct = false
	buf := make([]byte, n)
	q.pending = append(q.pending, rec{typ, buf})
	return buf
}

func (e *engine) commit(q *queue) {
	if q.direct {
		q.p.Commit()
		q.dirty = true
		q.direct = false
	}
}

// flush moves queued records into the ring while they fit.
func (e *engine) flush(q *queue) bool {
	work := false
	for len(q.pending) > 0 && !e.ended {
		r := q.pending[0]
		b, err := q.p.TryReserve(r.typ, len(r.b))
		if err != nil {
			if errors.Is(err, ring.ErrTooLarge) {
				q.pending = q.pending[1:] // cannot ever fit: the board never makes such a record
				continue
			}
			if !errors.Is(err, ring.ErrFull) {
				e.ringErr(err)
			}
			break
		}
		copy(b, r.b)
		q.p.Commit()
		q.dirty = true
		q.pending = q.pending[1:]
		work = true
	}
	if len(q.pending) == 0 {
		q.pending = nil
	}
	return work
}

// publish makes the committed records visible, output first, and interrupts the host where
// it armed the mask.
func (e *engine) publish() {
	for _, q := range []*queue{&e.out, &e.cpl} {
		if q.dirty {
			q.p.Publish()
			q.dirty = false
			e.raise |= q.cause
		}
	}
	if e.raise != 0 {
		e.interrupt(e.raise)
		e.raise = 0
	}
}

// interrupt sets causes in IRQ_STATUS and, if the host armed any of them, disarms the mask
// and signals the host (one-shot).
func (e *engine) interrupt(causes uint32) {
	e.r.or(regmap.RegIRQStatus, causes)
	w := e.r.word(regmap.RegIRQMask)
	for {
		m := atomic.LoadUint32(w)
		if m&causes == 0 {
			return
		}
		if atomic.CompareAndSwapUint32(w, m, 0) {
			e.l.Interrupt()
			return
		}
	}
}

func (e *engine) complete(c regmap.Command, res regmap.Result, data []byte) {
	if res == regmap.ResultOK && c.Flags&regmap.CmdFlagQuiet != 0 {
		return
	}
	b := e.reserve(&e.cpl, regmap.TypeCompletion, regmap.CompletionSize(len(data)))
	regmap.PutCompletion(b, regmap.Completion{Tag: c.Tag, Op: c.Op, Result: res, Timestep: e.b.t, Data: data})
	e.commit(&e.cpl)
}

func (e *engine) fail(c regmap.Command, res regmap.Result, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(msg) > regmap.MaxMessage {
		msg = msg[:regmap.MaxMessage]
	}
	e.complete(c, res, []byte(msg))
}

func (e *engine) event(ev regmap.Event) {
	b := e.reserve(&e.cpl, regmap.TypeEvent, regmap.EventSize)
	regmap.PutEvent(b, ev)
	e.commit(&e.cpl)
}

// control acts on CONTROL bits.
func (e *engine) control(c uint32) {
	b := e.b
	if c&regmap.ControlReboot != 0 {
		b.hostCS = false
		b.flash.Transfer(nil, nil, false) // the controller releases chip select
		e.reset()
		slot, v := b.boot()
		e.event(regmap.Event{Code: regmap.EventBoot, Arg: uint32(slot), Value: int64(v)})
		return
	}
	if c&regmap.ControlReset != 0 {
		e.reset()
		e.event(regmap.Event{Code: regmap.EventReset})
		return
	}
	if c&regmap.ControlStop != 0 && (b.running || e.runLeft > 0) {
		b.running = false
		if e.runLeft > 0 {
			e.runLeft = 0
			e.fail(e.runCmd, regmap.ResultAborted, "stopped by CONTROL.STOP at timestep %d", b.t)
		}
		e.event(regmap.Event{Code: regmap.EventStopped, Timestep: b.t, Value: int64(b.t)})
	}
	if c&regmap.ControlStart != 0 && c&regmap.ControlStop == 0 {
		b.running = true
	}
}

// reset is the soft reset of RESET and CONTROL.RESET.
func (e *engine) reset() {
	b := e.b
	if e.runLeft > 0 {
		e.runLeft = 0
		e.fail(e.runCmd, regmap.ResultAborted, "aborted by a reset at timestep %d", b.t)
	}
	b.softReset()
	e.out.pending = nil
}

// softReset is the board's part of the soft reset: the firmware's state, whoever runs it
// (the engine for RESET and CONTROL.RESET, a function-level reset between sessions).
func (b *Board) softReset() {
	b.running = false
	b.net, _ = emptyNetwork(b.size) // cannot fail: the size was checked by New
	b.loaded = false
	b.regs.store(regmap.RegImageCRC, 0)
	b.regs.store(regmap.RegImageSize, 0)
	b.t = 0
	b.pending = nil
	b.mem = nil
	b.load = loadState{buf: b.load.buf[:0]}
	b.fl = flashState{}
	b.errCode = 0
	b.sens.last = emu.Stats{}
	b.regs.store(regmap.RegErrorCode, 0)
	b.regs.store64(regmap.RegTimestepLo, 0)
}

// drainInput takes the spikes the host published in SPKIN: those for the next step (or
// late) go to the chip now, later ones wait in pending.
func (e *engine) drainInput() bool {
	b := e.b
	any := false
	for !e.ended {
		rc, err := e.l.SpkIn.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			break
		}
		if err != nil {
			e.ringErr(err)
			break
		}
		any = true
		h, spikes, err := regmap.DecodeSpikes(rc.Payload, nil)
		if rc.Type != regmap.TypeSpikes || err != nil || int(h.Port) >= len(b.net.inputs) {
			e.event(regmap.Event{Code: regmap.EventInputDrop, Arg: uint32(h.Port), Timestep: b.t, Value: int64(h.Count)})
			continue
		}
		size := uint32(b.net.inputs[h.Port])
		bad := false
		for _, s := range spikes {
			if s.Neuron >= size {
				bad = true
				break
			}
		}
		if bad {
			e.event(regmap.Event{Code: regmap.EventInputDrop, Arg: uint32(h.Port), Timestep: b.t, Value: int64(h.Count)})
			continue
		}
		if h.Timestep > b.t+1 {
			b.queue(inputRec{ts: h.Timestep, port: int(h.Port), spikes: spikes})
			continue
		}
		b.inject(int(h.Port), spikes)
	}
	if any {
		e.l.SpkIn.Release()
	}
	return any
}

// queue keeps a record for a later step, in timestep order (after the records of the same
// step already queued, so that the later injection wins as on the chip).
func (b *Board) queue(r inputRec) {
	i := len(b.pending)
	for i > 0 && b.pending[i-1].ts > r.ts {
		i--
	}
	b.pending = slices.Insert(b.pending, i, r)
}

func (b *Board) inject(port int, spikes []regmap.Spike) {
	b.sens.total.SpikesIn += uint64(len(spikes))
	for _, s := range spikes {
		b.net.chip.Inject(port, int(s.Neuron), s.Payload) // checked by drainInput
	}
}

// step runs one timestep and queues its output.
func (e *engine) step() {
	b := e.b
	next := b.t + 1
	// pending is in timestep order: this step's records are a prefix, whatever is queued
	// for later steps (a host may send a whole run's input ahead).
	k := 0
	for ; k < len(b.pending) && b.pending[k].ts <= next; k++ {
		b.inject(b.pending[k].port, b.pending[k].spikes)
	}
	if k == len(b.pending) {
		b.pending = b.pending[:0]
	} else if k > 0 {
		b.pending = b.pending[k:]
	}
	n := b.net
	n.chip.Step()
	b.t = next
	for _, ev := range b.sens.step(n.chip.Stats(), max(1, n.cores), b.t) {
		e.event(ev)
	}
	maxSpikes := max(1, min(8192, (e.l.OutMax-regmap.SpikesHeaderSize)/regmap.SpikeSize))
	for p := range n.outputs {
		s := n.portSpikes(p)
		for len(s) > 0 {
			k := min(len(s), maxSpikes)
			b.sens.total.SpikesOut += uint64(k)
			buf := e.reserve(&e.out, regmap.TypeSpikes, regmap.SpikesSize(k))
			regmap.PutSpikes(buf, uint16(p), b.t, s[:k])
			e.commit(&e.out)
			s = s[k:]
		}
	}
	for id := range n.probes {
		rows, _ := n.chip.ProbeData(id)
		for _, row := range rows {
			buf := e.reserve(&e.out, regmap.TypeProbe, regmap.ProbeSize(len(row)))
			regmap.PutProbe(buf, uint16(id), b.t, row)
			e.commit(&e.out)
		}
	}
	e.r.store64(regmap.RegTimestepLo, b.t)
	e.r.store(regmap.RegTemperature, uint32(b.sens.tempMC()))
}

// stepBurst is the most steps one round of the firmware loop runs.
const stepBurst = 64

// execute runs one command.
func (e *engine) execute(c regmap.Command) {
	b := e.b
	if d, ok := c.Op.Desc(); !ok {
		e.fail(c, regmap.ResultBadOp, "unknown opcode %#x", uint16(c.Op))
		return
	} else if c.Flags&regmap.CmdFlagQuiet != 0 && !d.Quiet {
		c.Flags = 0
		e.fail(c, regmap.ResultBadArgs, "%s does not allow CMD_FLAG_QUIET", c.Op)
		return
	}
	if len(c.Args) > e.l.Payload {
		e.fail(c, regmap.ResultBadArgs, "%s: %d bytes of arguments, more than CAP_PAYLOAD %d", c.Op, len(c.Args), e.l.Payload)
		return
	}
	noArgs := func() bool {
		if len(c.Args) != 0 {
			e.fail(c, regmap.ResultBadArgs, "%s takes no arguments, got %d bytes", c.Op, len(c.Args))
			return false
		}
		return true
	}
	switch c.Op {
	case regmap.OpNop:
		e.complete(c, regmap.ResultOK, c.Args)
	case regmap.OpReset:
		if noArgs() {
			e.reset()
			e.complete(c, regmap.ResultOK, nil)
		}
	case regmap.OpRun:
		steps, err := regmap.DecodeU64Args(c.Op, c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
		case b.running:
			e.fail(c, regmap.ResultBadState, "RUN while free-running (STOP first)")
		case steps == 0:
			e.complete(c, regmap.ResultOK, nil)
		default:
			e.runLeft, e.runCmd = steps, c
			e.runCmd.Args = nil
		}
	case regmap.OpStart:
		if noArgs() {
			b.running = true
			e.status() // the status register says so before the host sees the completion
			e.complete(c, regmap.ResultOK, nil)
		}
	case regmap.OpStop:
		if noArgs() {
			b.running = false
			e.status()
			e.complete(c, regmap.ResultOK, nil)
		}
	case regmap.OpLoadBegin, regmap.OpLoadData, regmap.OpLoadDMA, regmap.OpLoadEnd:
		e.loadCmd(c)
	case regmap.OpMemWrite, regmap.OpMemRead:
		e.memCmd(c)
	case regmap.OpSensors:
		if noArgs() {
			e.sensorsCmd(c)
		}
	case regmap.OpFlashInfo, regmap.OpFlashBegin, regmap.OpFlashData, regmap.OpFlashEnd:
		if b.hostCS {
			e.fail(c, regmap.ResultBadState, "%s while the host holds the flash's chip select (SPI_XFER with KEEP_CS)", c.Op)
		} else if c.Op != regmap.OpFlashInfo || noArgs() {
			e.flashCmd(c)
		}
	case regmap.OpSPIXfer, regmap.OpI2CXfer, regmap.OpStats:
		e.busCmd(c)
	case regmap.OpProbeAdd:
		e.probeCmd(c)
	}
}

func (e *engine) loadCmd(c regmap.Command) {
	b := e.b
	ld := &b.load
	switch c.Op {
	case regmap.OpLoadBegin:
		size, err := regmap.DecodeU64Args(c.Op, c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
		case b.running || e.runLeft > 0:
			e.fail(c, regmap.ResultBadState, "LOAD_BEGIN while running (STOP first)")
		case size > uint64(b.opts.MaxImage):
			e.fail(c, regmap.ResultRange, "image of %d bytes is larger than the board's %d", size, b.opts.MaxImage)
		default:
			*ld = loadState{active: true, size: size, buf: ld.buf[:0], inOrder: true}
			e.complete(c, regmap.ResultOK, nil)
		}
	case regmap.OpLoadData:
		a, err := regmap.DecodeDataArgs(c.Op, c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
		case !ld.active:
			e.fail(c, regmap.ResultBadState, "LOAD_DATA outside LOAD_BEGIN…LOAD_END")
		case ld.dma:
			e.fail(c, regmap.ResultBadState, "LOAD_DATA in a load that uses LOAD_DMA")
		case a.Offset > ld.size || uint64(len(a.Data)) > ld.size-a.Offset:
			if ld.err == "" {
				ld.err, ld.errRes = fmt.Sprintf("LOAD_DATA [%d, %d) outside the %d-byte image", a.Offset, a.Offset+uint64(len(a.Data)), ld.size), regmap.ResultRange
			}
			e.fail(c, regmap.ResultRange, "%s", ld.err)
		default:
			if !ld.ring { // the staging buffer, kept from load to load
				if uint64(cap(ld.buf)) < ld.size {
					ld.buf = make([]byte, ld.size)
				}
				ld.buf = ld.buf[:ld.size]
			}
			copy(ld.buf[a.Offset:], a.Data)
			// The CRC as the bytes arrive, while they are in cache; data that does not
			// arrive in order is summed again at LOAD_END.
			if ld.inOrder && a.Offset == ld.received {
				ld.crc = crc32.Update(ld.crc, crc32.IEEETable, ld.buf[a.Offset:a.Offset+uint64(len(a.Data))])
			} else {
				ld.inOrder = false
			}
			ld.received += uint64(len(a.Data))
			ld.ring = true
			e.complete(c, regmap.ResultOK, nil)
		}
	case regmap.OpLoadDMA:
		off, n, err := regmap.DecodeLoadDMAArgs(c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
		case !ld.active:
			e.fail(c, regmap.ResultBadState, "LOAD_DMA outside LOAD_BEGIN…LOAD_END")
		case ld.ring:
			e.fail(c, regmap.ResultBadState, "LOAD_DMA in a load that uses LOAD_DATA")
		case ld.size > uint64(len(e.l.Bulk)):
			e.fail(c, regmap.ResultRange, "a %d-byte image does not fit the %d-byte bulk window", ld.size, len(e.l.Bulk))
		case off > ld.size || n > ld.size-off:
			if ld.err == "" {
				ld.err, ld.errRes = fmt.Sprintf("LOAD_DMA [%d, %d) outside the %d-byte image", off, off+n, ld.size), regmap.ResultRange
			}
			e.fail(c, regmap.ResultRange, "%s", ld.err)
		default:
			// Read the bytes where they are, as a DMA engine would: the CRC as they come.
			if ld.inOrder && off == ld.received {
				ld.crc = crc32.Update(ld.crc, crc32.IEEETable, e.l.Bulk[off:off+n])
			} else {
				ld.inOrder = false
			}
			ld.received += n
			ld.dma = true
			e.complete(c, regmap.ResultOK, nil)
		}
	case regmap.OpLoadEnd:
		a, err := regmap.DecodeLoadEndArgs(c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
			return
		case !ld.active:
			e.fail(c, regmap.ResultBadState, "LOAD_END without LOAD_BEGIN")
			return
		}
		ld.active = false
		data := ld.buf[:0]
		switch {
		case ld.dma:
			data = e.l.Bulk[:ld.size] // decode in place (the decoder copies what it keeps)
		case ld.ring:
			data = ld.buf[:ld.size]
		}
		switch {
		case ld.err != "":
			e.fail(c, ld.errRes, "%s", ld.err)
		case a.Size != ld.size:
			e.fail(c, regmap.ResultBadArgs, "LOAD_END size %d, LOAD_BEGIN said %d", a.Size, ld.size)
		case ld.received != ld.size:
			e.fail(c, regmap.ResultVerify, "received %d of the image's %d bytes", ld.received, ld.size)
		case ld.sum(data) != a.CRC32:
			e.fail(c, regmap.ResultVerify, "image CRC-32 %#08x, LOAD_END says %#08x", ld.sum(data), a.CRC32)
		case a.Flags&regmap.LoadFlagDryRun != 0:
			e.complete(c, regmap.ResultOK, regmap.LoadResult{}.Append(nil))
		default:
			if e.install(c, data) {
				e.r.store(regmap.RegImageCRC, a.CRC32)
				e.r.store(regmap.RegImageSize, uint32(ld.size))
			}
		}
	}
}

// install decodes an image and makes it the board's network; false when it refused it.
func (e *engine) install(c regmap.Command, data []byte) bool {
	b := e.b
	img, err := image.Decode(data)
	if err != nil {
		e.fail(c, regmap.ResultBadImage, "%v", err)
		return false
	}
	n, err := buildNetwork(b.size, img)
	if err != nil {
		e.fail(c, regmap.ResultBadImage, "%v", err)
		return false
	}
	b.net, b.loaded, b.t, b.pending = n, true, 0, nil
	b.sens.last = emu.Stats{}
	e.r.store64(regmap.RegTimestepLo, 0)
	e.complete(c, regmap.ResultOK, regmap.LoadResult{Inputs: uint32(len(n.inputs)), Outputs: uint32(n.outputs), Cores: uint32(n.cores)}.Append(nil))
	return true
}

func (e *engine) memCmd(c regmap.Command) {
	b := e.b
	var core, off, n uint64
	var data []byte
	if c.Op == regmap.OpMemWrite {
		a, err := regmap.DecodeDataArgs(c.Op, c.Args)
		if err != nil {
			e.fail(c, regmap.ResultBadArgs, "%v", err)
			return
		}
		core, off, n, data = uint64(a.Core), a.Offset, uint64(len(a.Data)), a.Data
	} else {
		a, err := regmap.DecodeMemReadArgs(c.Args)
		if err != nil {
			e.fail(c, regmap.ResultBadArgs, "%v", err)
			return
		}
		core, off, n = uint64(a.Core), uint64(a.Offset), uint64(a.Length)
		if n > uint64(e.l.Payload) {
			e.fail(c, regmap.ResultRange, "MEM_READ of %d bytes, more than CAP_PAYLOAD %d", n, e.l.Payload)
			return
		}
	}
	size := uint64(b.opts.CoreMem)
	if core >= uint64(b.size.Cores) {
		e.fail(c, regmap.ResultRange, "%s: core %d, the board has %d", c.Op, core, b.size.Cores)
		return
	}
	if off > size || n > size-off {
		e.fail(c, regmap.ResultRange, "%s: [%d, %d) outside core %d's %d bytes", c.Op, off, off+n, core, size)
		return
	}
	if b.mem == nil {
		b.mem = make([][]byte, b.size.Cores)
	}
	if b.mem[core] == nil {
		b.mem[core] = make([]byte, size)
	}
	if c.Op == regmap.OpMemWrite {
		copy(b.mem[core][off:], data)
		e.complete(c, regmap.ResultOK, nil)
	} else {
		e.complete(c, regmap.ResultOK, b.mem[core][off:off+n])
	}
}

func (e *engine) probeCmd(c regmap.Command) {
	b := e.b
	a, err := regmap.DecodeProbeAddArgs(c.Args)
	if err != nil {
		e.fail(c, regmap.ResultBadArgs, "%v", err)
		return
	}
	if max := (e.l.OutMax - regmap.ProbeHeaderSize) / 4; len(a.Neurons) > max {
		e.fail(c, regmap.ResultRange, "a probe of %d neurons does not fit a record (at most %d)", len(a.Neurons), max)
		return
	}
	f := chip.Field{Kind: chip.FieldState, Index: int(a.Index)}
	switch a.Kind {
	case regmap.ProbeInput:
		f = chip.Field{Kind: chip.FieldInput}
	case regmap.ProbeSpike:
		f = chip.Field{Kind: chip.FieldSpike}
	}
	neurons := make([]int, len(a.Neurons))
	for i, n := range a.Neurons {
		neurons[i] = int(n)
	}
	if a.Core >= uint32(b.size.Cores) {
		e.fail(c, regmap.ResultRange, "PROBE_ADD: core %d, the board has %d", a.Core, b.size.Cores)
		return
	}
	id, err := b.net.chip.AddProbe(int(a.Core), f, neurons)
	if err != nil {
		e.fail(c, regmap.ResultRange, "PROBE_ADD: %v", err)
		return
	}
	b.net.probes = append(b.net.probes, len(neurons))
	e.complete(c, regmap.ResultOK, regmap.AppendProbeAddResult(nil, uint32(id)))
}

func (e *engine) flashCmd(c regmap.Command) {
	b := e.b
	fs := &b.fl
	switch c.Op {
	case regmap.OpFlashInfo:
		info := regmap.FlashInfo{Booted: e.r.load(regmap.RegFWSlot), SlotSize: uint32(b.slots.SlotSize())}
		for _, st := range b.slots.Table() {
			si := regmap.SlotInfo{Slot: uint32(st.Slot)}
			if st.Slot == flash.Golden {
				si.Flags |= regmap.SlotFlagGolden
			}
			if uint32(st.Slot) == info.Booted {
				si.Flags |= regmap.SlotBooted
			}
			if h := st.Header; st.Valid() {
				si.Flags |= regmap.SlotValid
				si.Version, si.Seq, si.Size, si.CRC32 = h.Version, h.Seq, h.Size, h.CRC32
			}
			info.Slots = append(info.Slots, si)
		}
		e.complete(c, regmap.ResultOK, info.Append(nil))
	case regmap.OpFlashBegin:
		a, err := regmap.DecodeFlashBeginArgs(c.Args)
		if err != nil {
			e.fail(c, regmap.ResultBadArgs, "%v", err)
			return
		}
		w, err := b.slots.Begin(flash.Slot(a.Slot), flash.Firmware{Version: a.Version, Size: int(a.Size), CRC32: a.CRC32})
		if err != nil {
			res, msg := flashResult(err)
			e.fail(c, res, "%s", msg)
			return
		}
		*fs = flashState{active: true, args: a, w: w}
		e.complete(c, regmap.ResultOK, nil)
	case regmap.OpFlashData:
		a, err := regmap.DecodeDataArgs(c.Op, c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
			return
		case !fs.active || a.Core != fs.args.Slot:
			e.fail(c, regmap.ResultBadState, "FLASH_DATA for slot %d outside its FLASH_BEGIN…FLASH_END", a.Core)
			return
		}
		if _, err := fs.w.WriteAt(a.Data, int64(min(a.Offset, math.MaxInt64))); err != nil {
			res, msg := flashResult(err)
			if res == regmap.ResultRange {
				// Reported again at FLASH_END: the firmware is incomplete.
				if fs.err == "" {
					fs.err, fs.errRes = "FLASH_DATA "+msg, res
				}
				msg = fs.err
			}
			e.fail(c, res, "%s", msg)
			return
		}
		fs.received += uint64(len(a.Data))
		e.complete(c, regmap.ResultOK, nil)
	case regmap.OpFlashEnd:
		slot, err := regmap.DecodeFlashEndArgs(c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
			return
		case !fs.active || slot != fs.args.Slot:
			e.fail(c, regmap.ResultBadState, "FLASH_END for slot %d without its FLASH_BEGIN", slot)
			return
		}
		w, ferr, fres := fs.w, fs.err, fs.errRes
		*fs = flashState{}
		if ferr != "" {
			e.fail(c, fres, "%s", ferr)
			return
		}
		if _, err := w.Commit(); err != nil {
			res, msg := flashResult(err)
			e.fail(c, res, "%s", msg)
			return
		}
		e.complete(c, regmap.ResultOK, nil)
	}
}

// flashResult returns the Result and the message of an error of package flash.
func flashResult(err error) (regmap.Result, string) {
	msg := err.Error()
	if fe := (*flash.Error)(nil); errors.As(err, &fe) {
		msg = fe.Detail
	}
	switch {
	case errors.Is(err, flash.ErrProtected):
		return regmap.ResultProtected, msg
	case errors.Is(err, flash.ErrRange):
		return regmap.ResultRange, msg
	case errors.Is(err, flash.ErrVerify):
		return regmap.ResultVerify, msg
	}
	return regmap.ResultInternal, msg
}
