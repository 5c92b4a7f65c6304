package driver

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// Defaults of Opts.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultOutputLimit = 64 << 20
	DefaultSpin        = 50 * time.Microsecond
)

// yieldAfter is how long a poll loop keeps the CPU before it yields it on every poll: a
// peer on another core answers well within it; one waiting for this core gets it.
const yieldAfter = 5 * time.Microsecond

// spinOutstanding bounds how long the reader polls while a caller waits for a completion,
// before it sleeps on the interrupt.
const spinOutstanding = 250 * time.Microsecond

// Opts configures Open. The zero value gives the documented defaults.
type Opts struct {
	// Timeout bounds the setup in Open and every command except Run and Stop (whose steps
	// take as long as they take: bound them with the context). A device that does not
	// answer within it gives ErrTimeout. Default DefaultTimeout.
	Timeout time.Duration
	// RingCapacity is the data capacity asked of the board for each ring on the emulator
	// transports: a power of two from 4 KiB to 256 MiB. Default 0: the board's (1 MiB).
	RingCapacity int
	// Bulk is the size of the bulk DMA window asked of the board (emulator transports), a
	// multiple of 4096 up to 1 GiB: images up to this size load with one LOAD_BULK, bigger
	// ones in LOAD_DATA pieces through the command ring. Default 0: the board's (64 MiB).
	Bulk int
	// OutputLimit bounds the output (spike and probe records) buffered for Read, in bytes;
	// output beyond it is dropped and counted in Output.Dropped. Default DefaultOutputLimit.
	OutputLimit int
	// Spin is how long the reader keeps polling the rings after the last record before it
	// sleeps on the interrupt. Default DefaultSpin; negative: never poll.
	Spin time.Duration
	// Size is the chip an emulator started by Open (emu:) emulates. Default: the prototype.
	// Boards have their own size and ignore it.
	Size chip.Size
	// NoLock skips the lock file that keeps a second process off an emu:unix: device (the
	// board still refuses a second host).
	NoLock bool
}

// check refuses settings out of range.
func (o Opts) check() error {
	if c := o.RingCapacity; c != 0 && (c < 4096 || c > regmap.MaxRingCapacity || c&(c-1) != 0) {
		return errorf("ring capacity %d is not a power of two from 4096 to %d", c, regmap.MaxRingCapacity)
	}
	if b := o.Bulk; b < 0 || b%4096 != 0 || b > regmap.MaxBulk {
		return errorf("bulk window of %d bytes is not a multiple of 4096 up to %d", b, regmap.MaxBulk)
	}
	return nil
}

func (o Opts) withDefaults() Opts {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.OutputLimit == 0 {
		o.OutputLimit = DefaultOutputLimit
	}
	if o.Spin == 0 {
		o.Spin = DefaultSpin
	}
	return o
}

// Device is an open board. It is safe for concurrent use.
type Device struct {
	uri  URI
	opts Opts
	info Info
	link Link
	// The link's rings, fetched once.
	cmdRing, inRing  RecordProducer
	cplRing, outRing RecordConsumer
	bulk             []byte

	cmdSem  chan struct{} // one producer on CMD at a time
	inSem   chan struct{} // and on SPKIN
	bulkSem chan struct{} // one user of the bulk window
	tag     atomic.Uint32

	mu       sync.Mutex
	pending  map[uint32]*call
	out      chip.Output
	outBytes int
	events   []Event
	inputs   int    // input ports of the loaded network, -1 unknown
	noBulk   bool   // tests: load through the command ring even when the bulk window would do
	time     uint64 // the timestep the last RUN or STOP reached
	loaded   LoadResult

	waiting    atomic.Int32 // callers blocked for a completion
	ctx        context.Context
	cancel     context.CancelFunc
	done       chan struct{} // closed when the device fails or is closed
	failOnce   sync.Once
	failErr    error
	readerDone chan struct{}

	life      sync.RWMutex // calls hold it for reading; Close for writing
	closed    atomic.Bool
	closeOnce sync.Once
}

type call struct {
	op        regmap.Op
	ch        chan regmap.Completion // nil: abandoned, or a quiet command
	batch     *batch
	cancelled bool // the waiter gave up while the command was outstanding
}

// batch collects the failures of quiet commands (LOAD_DATA, FLASH_DATA, MEM_WRITE).
type batch struct {
	tags []uint32
	err  error
}

// Open attaches to the device named by uri (see the package documentation), negotiates the
// protocol and capability versions and returns the Device. Close it.
func Open(ctx context.Context, uri string, opts Opts) (*Device, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	dial, err := dialer(u.Transport)
	if err != nil {
		return nil, errorf("%q: %w", u, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	l, err := dial(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return newDevice(u, l, opts)
}

// OpenLink is Open over a link made otherwise (emu/register.Attach, a test's link): uri names
// the device in messages and Info. The Device owns the link from then on, even on error.
func OpenLink(ctx context.Context, uri string, l Link, opts Opts) (*Device, error) {
	u, err := ParseURI(uri)
	if err != nil {
		l.Close()
		return nil, err
	}
	return newDevice(u, l, opts.withDefaults())
}

func newDevice(u URI, l Link, opts Opts) (*Device, error) {
	d := &Device{uri: u, opts: opts, link: l, cmdSem: make(chan struct{}, 1), inSem: make(chan struct{}, 1), bulkSem: make(chan struct{}, 1),
		pending: map[uint32]*call{}, done: make(chan struct{}), readerDone: make(chan struct{}), inputs: -1,
		cmdRing: l.Producer(regmap.RingCmd), inRing: l.Producer(regmap.RingSpkIn),
		cplRing: l.Consumer(regmap.RingCpl), outRing: l.Consumer(regmap.RingOut), bulk: l.Bulk()}
	if err := d.readInfo(); err != nil {
		l.Close()
		return nil, err
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.reader()
	return d, nil
}

// Info describes an open device: what it is and what it can do.
type Info struct {
	URI            string           `json:"uri"`
	Transport      string           `json:"transport"`
	Board          regmap.BoardKind `json:"board"`
	Serial         uint64           `json:"serial"`
	Protocol       regmap.Version   `json:"protocol"`       // the version spoken
	BoardProtocol  regmap.Version   `json:"board_protocol"` // what the board speaks
	Firmware       regmap.FWVersion `json:"firmware"`
	FirmwareSlot   int              `json:"firmware_slot"`
	CapVersion     uint32           `json:"cap_version"`
	Cores          int              `json:"cores"`
	NeuronsPerCore int              `json:"neurons_per_core"`
	Features       Features         `json:"features"`
	Instructions   int              `json:"instructions"`
	Banks          int              `json:"banks"`
	CoreMemory     int              `json:"core_memory"`
	MaxPayload     int              `json:"max_payload"`
}

// Features are the CAP_FEATURES bits.
type Features uint32

var featureNames = []struct {
	bit  uint32
	name string
}{
	{regmap.FeatureGraded, "graded"}, {regmap.FeatureProbes, "probes"}, {regmap.FeatureFreeRun, "free-run"},
	{regmap.FeatureFlash, "flash"}, {regmap.FeatureSensors, "sensors"}, {regmap.FeatureThrottle, "throttle"},
	{regmap.FeatureSparse, "sparse"}, {regmap.FeatureMemTest, "mem-test"},
}

// Names lists the features by name.
func (f Features) Names() []string {
	var out []string
	for _, n := range featureNames {
		if uint32(f)&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Has reports whether every bit of want is set.
func (f Features) Has(want uint32) bool { return uint32(f)&want == want }

// MarshalJSON writes the names.
func (f Features) MarshalJSON() ([]byte, error) {
	return jsonStrings(f.Names()), nil
}

func (d *Device) readInfo() error {
	what := d.uri.String()
	r := &regReader{l: d.link}
	if m := r.u32(regmap.RegMagic); r.err == nil && m != regmap.Magic {
		return errorf("%s: register file magic %#08x, want %#08x: %w", what, m, regmap.Magic, ErrProtocol)
	}
	bv := regmap.Version(r.u32(regmap.RegProtoVersion))
	cv := r.u32(regmap.RegCapVersion)
	if r.err != nil {
		return errorf("%s: reading the identity registers: %w", what, r.err)
	}
	v, err := regmap.Negotiate(regmap.ProtocolVersion, bv)
	if err != nil {
		return errorf("%s speaks protocol %s, this driver speaks %s: %w", what, bv, regmap.ProtocolVersion, ErrVersion)
	}
	if err := regmap.CheckCaps(regmap.CapVersion, cv); err != nil {
		return errorf("%s has capability layout %d, this driver knows 1 to %d: %w", what, cv, regmap.CapVersion, ErrVersion)
	}
	if err := d.link.WriteReg(regmap.RegHostVersion, uint32(v)); err != nil {
		return errorf("%s: %w", what, err)
	}
	d.info = Info{
		URI: what, Transport: d.uri.Transport, Board: regmap.BoardKind(r.u32(regmap.RegBoardID)),
		Serial: r.u64(regmap.RegSerialLo), Protocol: v, BoardProtocol: bv,
		Firmware: regmap.FWVersion(r.u32(regmap.RegFWVersion)), FirmwareSlot: int(r.u32(regmap.RegFWSlot)),
		CapVersion: cv, Cores: int(r.u32(regmap.RegCapCores)), NeuronsPerCore: int(r.u32(regmap.RegCapNeurons)),
		Features: Features(r.u32(regmap.RegCapFeatures)), Instructions: int(r.u32(regmap.RegCapInstrs)),
		Banks: int(r.u32(regmap.RegCapBanks)), CoreMemory: int(r.u32(regmap.RegCapCoreMem)),
		MaxPayload: int(r.u32(regmap.RegCapPayload)),
	}
	if r.err != nil {
		return errorf("%s: reading the capability registers: %w", what, r.err)
	}
	if mp := d.cmdRing.MaxPayload(); d.info.MaxPayload < 64 || d.info.MaxPayload > mp {
		return errorf("%s: CAP_PAYLOAD %d outside [64, %d]: %w", what, d.info.MaxPayload, mp, ErrProtocol)
	}
	if d.info.Cores < 1 || d.info.NeuronsPerCore < 1 {
		return errorf("%s: capability registers say %d cores of %d neurons: %w", what, d.info.Cores, d.info.NeuronsPerCore, ErrProtocol)
	}
	return nil
}

// Info returns what Open learned of the device (refreshed by Reboot).
func (d *Device) Info() Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.info
}

// String names the device: its URI, board and serial.
func (d *Device) String() string {
	i := d.Info()
	return fmt.Sprintf("%s (%s, serial %d, %d×%d, firmware %s)", d.uri, i.Board, i.Serial, i.Cores, i.NeuronsPerCore, i.Firmware)
}

// Close detaches from the device and releases everything. Calls in progress return
// ErrClosed. Close is idempotent.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.fail(errorf("%s: %w", d.uri, ErrClosed))
		d.link.Wake()
		<-d.readerDone
		d.life.Lock()
		d.link.Close()
		d.life.Unlock()
	})
	return nil
}

// fail ends the device with err (the first error wins).
func (d *Device) fail(err error) {
	d.failOnce.Do(func() {
		d.failErr = err
		if d.cancel != nil {
			d.cancel()
		}
		close(d.done)
	})
}

// enter starts a call: it fails if the device is closed or gone, else holds off Close until
// the returned function runs.
func (d *Device) enter() (func(), error) {
	d.life.RLock()
	if d.closed.Load() {
		d.life.RUnlock()
		return nil, errorf("%s: %w", d.uri, ErrClosed)
	}
	select {
	case <-d.done:
		d.life.RUnlock()
		return nil, d.failErr
	default:
	}
	return d.life.RUnlock, nil
}

// ctxError wraps a context's error; a deadline is ErrTimeout too.
func ctxError(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errorf("%s: %w (%w)", what, ErrTimeout, ctx.Err())
	}
	return errorf("%s: %w", what, ctx.Err())
}

// merge returns a context that ends with ctx or with the device.
func (d *Device) merge(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.ctx, cancel)
	return c, func() { stop(); cancel() }
}

// acquire takes a semaphore, honouring ctx and the device's end.
func (d *Device) acquire(ctx context.Context, sem chan struct{}, what string) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, what)
	case <-d.done:
		return d.failErr
	}
}

// ringErr turns an error of a ring operation into the driver's.
func (d *Device) ringErr(ctx context.Context, err error, what string) error {
	switch {
	case ctx.Err() != nil:
		return ctxError(ctx, what)
	case errors.Is(err, ring.ErrProtocol):
		e := errorf("%s: %s: %w: %w", d.uri, what, err, ErrProtocol)
		d.fail(e)
		return e
	case errors.Is(err, ring.ErrPeerGone), errors.Is(err, ring.ErrClosed):
		select {
		case <-d.done:
			return d.failErr
		default:
		}
		e := errorf("%s: %s: %w: %w", d.uri, what, err, ErrGone)
		d.fail(e)
		return e
	}
	select {
	case <-d.done:
		return d.failErr
	default:
	}
	return errorf("%s: %s: %w", d.uri, what, err)
}

// doorbell tells the board that ring r changed.
func (d *Device) doorbell(r regmap.Ring) { d.link.Notify(r) }

// send writes one command: header, then the parts of its arguments.
func (d *Device) send(ctx context.Context, op regmap.Op, flags uint16, cl *call, parts ...[]byte) (uint32, error) {
	if err := d.acquire(ctx, d.cmdSem, op.String()); err != nil {
		return 0, err
	}
	defer func() { <-d.cmdSem }()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > d.info.MaxPayload {
		return 0, errorf("%s: %d bytes of arguments, more than the device's %d", op, n, d.info.MaxPayload)
	}
	tag := d.tag.Add(1)
	d.mu.Lock()
	d.pending[tag] = cl
	d.mu.Unlock()
	buf, err := d.reserve(ctx, d.cmdRing, regmap.RingCmd, regmap.TypeCommand, regmap.CommandSize(n))
	if err != nil {
		d.mu.Lock()
		delete(d.pending, tag)
		d.mu.Unlock()
		return 0, d.ringErr(ctx, err, op.String())
	}
	regmap.PutCommandHeader(buf, tag, op, flags)
	o := buf[regmap.CommandHeaderSize:]
	for _, part := range parts {
		o = o[copy(o, part):]
	}
	d.cmdRing.Commit()
	d.cmdRing.Publish()
	d.doorbell(regmap.RingCmd)
	return tag, nil
}

// roomSpin is how long a producer polls for room in a full ring before it sleeps: a board
// at work frees space every few microseconds.
const roomSpin = 500 * time.Microsecond

// reserve reserves a record in a host → board ring: at once if it fits; else it wakes the
// board, polls for room (yielding the CPU) for up to roomSpin, then sleeps in the ring's wait.
func (d *Device) reserve(ctx context.Context, p RecordProducer, r regmap.Ring, typ uint16, n int) ([]byte, error) {
	buf, err := p.TryReserve(typ, n)
	if !errors.Is(err, ring.ErrFull) {
		return buf, err
	}
	d.doorbell(r)
	start := time.Now()
	for i := 0; ; i++ {
		if i&15 == 15 && (time.Since(start) > roomSpin || ctx.Err() != nil) {
			break
		}
		unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		if buf, err = p.TryReserve(typ, n); !errors.Is(err, ring.ErrFull) {
			return buf, err
		}
	}
	rctx, cancel := d.merge(ctx)
	defer cancel()
	return p.Reserve(rctx, typ, n)
}

// abandon forgets a command's waiter; its completion, when it comes, is dropped. It reports
// whether the command was still outstanding.
func (d *Device) abandon(tag uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	cl, ok := d.pending[tag]
	if ok {
		cl.ch = nil
	}
	return ok
}

// wait waits for a command's completion. timeout 0: only ctx bounds it.
func (d *Device) wait(ctx context.Context, tag uint32, cl *call, timeout time.Duration) (regmap.Completion, error) {
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	var c regmap.Completion
	select {
	case c = <-cl.ch:
	case <-ctx.Done():
		if !d.abandon(tag) {
			// It completed meanwhile: take it.
			select {
			case c = <-cl.ch:
				if c.Result == regmap.ResultOK {
					return c, nil
				}
				return c, &CommandError{Op: c.Op, Result: c.Result, Message: c.Message(), Timestep: c.Timestep}
			default:
			}
		}
		cl.cancelled = true
		return c, ctxError(ctx, cl.op.String())
	case <-tc:
		d.abandon(tag)
		return c, errorf("%s: %s: no completion in %v: %w", d.uri, cl.op, timeout, ErrTimeout)
	case <-d.done:
		select {
		case c = <-cl.ch:
		default:
			return c, d.failErr
		}
	}
	if c.Result != regmap.ResultOK {
		return c, &CommandError{Op: c.Op, Result: c.Result, Message: c.Message(), Timestep: c.Timestep}
	}
	return c, nil
}

// do sends a command and waits for its completion, within Opts.Timeout.
func (d *Device) do(ctx context.Context, op regmap.Op, parts ...[]byte) (regmap.Completion, error) {
	cl := &call{op: op, ch: make(chan regmap.Completion, 1)}
	tag, err := d.send(ctx, op, 0, cl, parts...)
	if err != nil {
		return regmap.Completion{}, err
	}
	return d.wait(ctx, tag, cl, d.opts.Timeout)
}

// --- the reader ---

// aliveEvery is how often a busy reader asks the link whether the board is still there; an
// idle one learns it from Wait.
const aliveEvery = 20 * time.Millisecond

// reader drains CPL and OUT until the device ends: it polls while callers wait or for
// Opts.Spin after the last record, then arms the interrupt and sleeps.
func (d *Device) reader() {
	defer close(d.readerDone)
	l := d.link
	last := time.Now()
	lastAlive := last
	for {
		n, err := d.drain()
		if err != nil {
			d.fail(err)
			return
		}
		if d.ctx.Err() != nil {
			return
		}
		now := time.Now()
		if n > 0 {
			last = now
			if now.Sub(lastAlive) > aliveEvery {
				lastAlive = now
				if err := l.Alive(); err != nil {
					d.gone(err)
					return
				}
			}
			runtime.Gosched() // let the callers just woken run
			continue
		}
		idle := now.Sub(last)
		if (d.opts.Spin > 0 && idle < d.opts.Spin) || (d.waiting.Load() > 0 && idle < spinOutstanding) {
			runtime.Gosched()
			if idle > yieldAfter {
				// The board may be waiting for this very core: give it up on every poll.
				unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			}
			continue
		}
		l.Arm(true)
		if n, err := d.drain(); n > 0 || err != nil {
			l.Arm(false)
			if err != nil {
				d.fail(err)
				return
			}
			last = time.Now()
			continue
		}
		err = l.Wait(100 * time.Millisecond)
		l.Arm(false)
		lastAlive = time.Now()
		if d.ctx.Err() != nil {
			return
		}
		if err != nil {
			d.gone(err)
			return
		}
	}
}

// gone ends the device because the link says the board is gone.
func (d *Device) gone(err error) {
	if !errors.Is(err, ErrGone) {
		err = fmt.Errorf("%w: %w", err, ErrGone)
	}
	d.fail(errorf("%s: %w", d.uri, err))
}

// drain takes every record from OUT and CPL, output first, and returns how many it took.
func (d *Device) drain() (int, error) {
	total := 0
	for {
		n, err := d.drainOut()
		total += n
		if err != nil {
			return total, err
		}
		m, err := d.drainCpl()
		total += m
		if err != nil {
			return total, err
		}
		if n+m == 0 {
			break
		}
	}
	if total > 0 {
		if err := d.link.WriteReg(regmap.RegIRQStatus, regmap.IRQCompletion|regmap.IRQOutput); err != nil {
			return total, errorf("%s: %w", d.uri, err)
		}
		// Space was freed: a board waiting for it may need waking.
		d.link.Notify(regmap.RingOut)
	}
	return total, nil
}

// wireErr is a record from the board that does not decode: the decoder's error (which
// wraps regmap.ErrMalformed) and ErrProtocol.
func (d *Device) wireErr(err error) error {
	return errorf("%s: %w: %w", d.uri, err, ErrProtocol)
}

func (d *Device) protoErr(format string, args ...any) error {
	return errorf("%s: %s: %w", d.uri, fmt.Sprintf(format, args...), ErrProtocol)
}

func (d *Device) drainOut() (int, error) {
	c := d.outRing
	n := 0
	defer func() {
		if n > 0 {
			c.Release()
		}
	}()
	for {
		r, err := c.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			return n, nil
		}
		if err != nil {
			return n, d.readErr(err, "OUT")
		}
		n++
		if err := d.output(r); err != nil {
			return n, err
		}
	}
}

func (d *Device) drainCpl() (int, error) {
	c := d.cplRing
	n := 0
	defer func() {
		if n > 0 {
			c.Release()
		}
	}()
	for {
		r, err := c.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			return n, nil
		}
		if err != nil {
			return n, d.readErr(err, "CPL")
		}
		n++
		switch r.Type {
		case regmap.TypeCompletion:
			// Output published before the completion is visible now: take it first, so
			// that a caller that has the completion has the output.
			if _, err := d.drainOut(); err != nil {
				return n, err
			}
			cpl, err := regmap.DecodeCompletion(r.Payload)
			if err != nil {
				return n, d.wireErr(err)
			}
			if err := d.dispatch(cpl); err != nil {
				return n, err
			}
		case regmap.TypeEvent:
			ev, err := regmap.DecodeEvent(r.Payload)
			if err != nil {
				return n, d.wireErr(err)
			}
			d.event(ev)
		default:
			return n, d.protoErr("record type %#x in CPL", r.Type)
		}
	}
}

func (d *Device) readErr(err error, ringName string) error {
	if errors.Is(err, ring.ErrProtocol) {
		return errorf("%s: ring %s: %w: %w", d.uri, ringName, err, ErrProtocol)
	}
	return errorf("%s: ring %s: %w: %w", d.uri, ringName, err, ErrGone)
}

func (d *Device) dispatch(c regmap.Completion) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cl, ok := d.pending[c.Tag]
	if !ok {
		return d.protoErr("completion for tag %d, which is not outstanding", c.Tag)
	}
	if cl.op != c.Op {
		return d.protoErr("completion for tag %d says %s, the command was %s", c.Tag, c.Op, cl.op)
	}
	delete(d.pending, c.Tag)
	if cl.batch != nil {
		if c.Result != regmap.ResultOK && cl.batch.err == nil {
			cl.batch.err = &CommandError{Op: c.Op, Result: c.Result, Message: c.Message(), Timestep: c.Timestep}
		}
		return nil
	}
	if cl.ch != nil {
		c.Data = append([]byte(nil), c.Data...)
		cl.ch <- c
	}
	return nil
}

// finish forgets the quiet commands of a batch that completed without a word.
func (d *Device) finish(b *batch) {
	d.mu.Lock()
	for _, t := range b.tags {
		delete(d.pending, t)
	}
	d.mu.Unlock()
}

// maxEvents bounds the events kept for Events.
const maxEvents = 256

func (d *Device) event(ev regmap.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.events) == maxEvents {
		d.events = append(d.events[:0], d.events[1:]...)
	}
	d.events = append(d.events, Event{Code: ev.Code, Name: ev.Code.String(), Arg: ev.Arg, Timestep: ev.Timestep, Value: ev.Value})
}
