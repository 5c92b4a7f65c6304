package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// The usb transport (usb:VID:PID[:SERIAL]): a USB board through libusb, as firmware/regmap
// defines its USB function (docs/regmap.md §11). The link keeps the four rings in this
// process and pumps them: a writer goroutine frames the records of CMD and SPKIN onto bulk
// OUT, a reader goroutine unframes bulk IN into CPL and OUT; registers are vendor control
// requests. The cgo (gousb, libusb) is in usb_gousb.go, behind usbDevice, so that all of this
// is tested without it; a build without the gousb tag registers a dialer that says how to
// get the lab build (usb_nogousb.go).

// usbDevice is a USB board opened through libusb: what the link needs of it.
type usbDevice interface {
	// claim claims the board's interface; an error wrapping ErrBusy when another process has.
	claim() error
	// control runs a vendor request to the device on endpoint 0 within timeout: data goes
	// out, or is filled in for an IN request (rType has USBDirIn); it returns the bytes moved.
	control(rType, req uint8, val, idx uint16, data []byte, timeout time.Duration) (int, error)
	// read waits for the next bulk IN transfer of len(p) bytes (regmap.USBHostInFlight of them
	// are kept queued) and returns how many bytes came: fewer when the board ended its burst.
	read(ctx context.Context, p []byte) (int, error)
	// write writes p to bulk OUT in one transfer of exactly its length.
	write(ctx context.Context, p []byte) error
	// stream opens a stream of full bulk OUT transfers, several in flight.
	stream() (usbStream, error)
	// close releases the interface and the device.
	close() error
}

// usbStream is a stream of bulk OUT transfers of regmap.USBHostTransfer bytes each,
// regmap.USBHostInFlight in flight.
type usbStream interface {
	write(ctx context.Context, p []byte) error // len(p) == regmap.USBHostTransfer
	close(ctx context.Context) error           // waits for every transfer
}

// usbOpened is a board usbOpen found and opened (not claimed).
type usbOpened struct {
	dev    usbDevice
	serial string // its serial number string
	path   string // its device node, for messages
}

// usbOpen finds and opens the board u names: ErrNotFound when none matches. Set by
// usb_gousb.go.
var usbOpen func(ctx context.Context, u URI) (usbOpened, error)

// errUSBStall is what usbDevice returns for a stalled endpoint or a refused request.
var errUSBStall = errors.New("stalled")

// usbStats counts what the link moved, for benchmarks and tests.
type usbStats struct {
	InTransfers, InBytes   atomic.Int64
	OutTransfers, OutBytes atomic.Int64 // exact-length transfers
	StreamTransfers        atomic.Int64 // full transfers of a stream
	Streams                atomic.Int64
	Controls               atomic.Int64
}

type usbLink struct {
	dev     usbDevice
	what    string
	timeout time.Duration
	ctl     sync.Mutex // one control request at a time (it sets the timeout)

	rings      [regmap.NumRings]*ring.Ring
	cmd, spk   *ring.Producer // the core's ends
	cmdC, spkC *ring.Consumer // the writer's
	cplP, outP *ring.Producer // the reader's
	cpl, out   *ring.Consumer // the core's, wrapped in usbConsumer
	dec        regmap.FrameDecoder

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // the writer's doorbell
	irq    chan struct{} // the core's interrupt
	dead   chan struct{} // closed at the first failure

	failOnce sync.Once
	failErr  error
	gone     atomic.Bool

	started   bool // the session and the pumps
	lock      *devLock
	stats     usbStats
	closeOnce sync.Once
}

// usbGather bounds what the writer takes from the rings at once.
const usbGather = 1 << 20

func alignedBytes(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// dialUSB is the usb transport's dialer: find and open the board, take its lock file, claim
// its interface, start a session (ATTACH) and the pumps.
func dialUSB(ctx context.Context, u URI, opts Opts) (Link, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	if usbOpen == nil {
		return nil, errorf("%s: %w", u, errNoUSB)
	}
	o, err := usbOpen(ctx, u)
	if err != nil {
		return nil, err
	}
	what := URI{Transport: TransportUSB, VID: u.VID, PID: u.PID, Serial: o.serial}.String()
	var lock *devLock
	if !opts.NoLock {
		dir := RunDir()
		os.MkdirAll(dir, 0o700)
		lock, err = lockDevice(filepath.Join(dir, fmt.Sprintf("usb-%04x-%04x-%s.lock", u.VID, u.PID, o.serial)), what)
		if err != nil {
			o.dev.close()
			return nil, err
		}
	}
	l, err := newUSBLink(o.dev, what, opts)
	if err != nil {
		lock.unlock()
		o.dev.close()
		return nil, err
	}
	l.lock = lock
	if err := l.start(ctx, opts); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// newUSBLink makes the link's rings over dev; start attaches.
func newUSBLink(dev usbDevice, what string, opts Opts) (*usbLink, error) {
	l := &usbLink{dev: dev, what: what, timeout: opts.Timeout, kick: make(chan struct{}, 1), irq: make(chan struct{}, 1), dead: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	c := opts.RingCapacity
	if c == 0 {
		c = ring.DefaultCapacity
	}
	for i := range l.rings {
		r, err := ring.New(alignedBytes(ring.HeaderSize+c), ring.Opts{Capacity: c, Heartbeat: -1})
		if err != nil {
			l.closeRings()
			return nil, errorf("%s: %w", what, err)
		}
		l.rings[i] = r
	}
	var err error
	for _, step := range []func() error{
		func() (err error) { l.cmd, err = l.rings[regmap.RingCmd].Producer(); return },
		func() (err error) { l.cmdC, err = l.rings[regmap.RingCmd].Consumer(); return },
		func() (err error) { l.spk, err = l.rings[regmap.RingSpkIn].Producer(); return },
		func() (err error) { l.spkC, err = l.rings[regmap.RingSpkIn].Consumer(); return },
		func() (err error) { l.cplP, err = l.rings[regmap.RingCpl].Producer(); return },
		func() (err error) { l.cpl, err = l.rings[regmap.RingCpl].Consumer(); return },
		func() (err error) { l.outP, err = l.rings[regmap.RingOut].Producer(); return },
		func() (err error) { l.out, err = l.rings[regmap.RingOut].Consumer(); return },
	} {
		if err = step(); err != nil {
			l.closeRings()
			return nil, errorf("%s: %w", what, err)
		}
	}
	l.dec = regmap.FrameDecoder{Name: "bulk IN", Rings: 1<<regmap.RingCpl | 1<<regmap.RingOut}
	l.dec.Max[regmap.RingCpl] = l.rings[regmap.RingCpl].MaxPayload()
	l.dec.Max[regmap.RingOut] = l.rings[regmap.RingOut].MaxPayload()
	return l, nil
}

// start claims the interface, opens a session with the board's rings sized like ours, and
// starts the pumps.
func (l *usbLink) start(ctx context.Context, opts Opts) error {
	if err := l.dev.claim(); err != nil {
		if errors.Is(err, ErrBusy) {
			return errorf("%s is held by %s: %w", l.what, l.holder(), ErrBusy)
		}
		return errorf("%s: claiming its interface: %w", l.what, err)
	}
	a := regmap.USBAttach{Version: regmap.ProtocolVersion, PID: uint32(os.Getpid()), Comm: selfComm()}
	for i, r := range l.rings {
		a.RingCap[i] = uint32(r.Capacity())
	}
	if _, err := l.control(regmap.USBVendorOut, regmap.USBReqAttach, 0, a.Append(nil), "starting a session (ATTACH)"); err != nil {
		if errors.Is(err, errUSBStall) {
			if id, ierr := l.identity(); ierr == nil && id.Version.Major() != regmap.ProtocolVersion.Major() {
				return errorf("%s speaks protocol %s, this driver speaks %s: %w", l.what, id.Version, regmap.ProtocolVersion, ErrVersion)
			}
		}
		return err
	}
	if ctx.Err() != nil {
		return ctxError(ctx, l.what+": setup")
	}
	l.started = true
	l.wg.Add(2)
	go l.reader()
	go l.writer()
	return nil
}

// selfComm is this process's command name.
func selfComm() string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return filepath.Base(os.Args[0])
	}
	return strings.TrimSpace(string(b))
}

// identity asks the board who it is and who holds it (IDENTITY, no session needed).
func (l *usbLink) identity() (regmap.USBIdentity, error) {
	b := make([]byte, regmap.USBIdentitySize)
	n, err := l.control(regmap.USBVendorIn, regmap.USBReqIdentity, 0, b, "asking who it is (IDENTITY)")
	if err != nil {
		return regmap.USBIdentity{}, err
	}
	id, err := regmap.DecodeUSBIdentity(b[:n])
	if err != nil {
		return id, errorf("%s: %w: %w", l.what, err, ErrProtocol)
	}
	return id, nil
}

// holder names who holds the board, as its IDENTITY says.
func (l *usbLink) holder() string {
	id, err := l.identity()
	if err != nil || !id.Attached || id.HolderPID == 0 {
		return "another process"
	}
	if id.HolderComm != "" {
		return fmt.Sprintf("pid %d (%s)", id.HolderPID, id.HolderComm)
	}
	return fmt.Sprintf("pid %d", id.HolderPID)
}

// control runs a vendor request and turns its errors into the driver's, naming op.
func (l *usbLink) control(rType uint8, req regmap.USBRequest, idx uint16, data []byte, op string) (int, error) {
	if l.gone.Load() {
		return 0, errorf("%s: %w", l.what, l.failErr)
	}
	l.ctl.Lock()
	n, err := l.dev.control(rType, uint8(req), 0, idx, data, l.timeout)
	l.ctl.Unlock()
	l.stats.Controls.Add(1)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, ErrGone):
		l.fail(fmt.Errorf("%s: %w", op, err), true)
		return n, errorf("%s: %w", l.what, l.failErr)
	case errors.Is(err, ErrTimeout):
		return n, errorf("%s: %s: no answer in %v: %w", l.what, op, l.timeout, ErrTimeout)
	case errors.Is(err, errUSBStall):
		return n, errorf("%s: %s: the board refused it (stall): %w: %w", l.what, op, err, ErrProtocol)
	}
	return n, errorf("%s: %s: %w", l.what, op, err)
}

func regName(off uint32) string {
	if r, ok := regmap.RegisterAt(off); ok {
		return r.Name
	}
	return "?"
}

// ReadReg implements Link: a REG_READ request.
func (l *usbLink) ReadReg(off uint32) (uint32, error) {
	if off >= regmap.BARSize || off%4 != 0 {
		return 0, errorf("register %#x: not a register of the register file", off)
	}
	var b [4]byte
	n, err := l.control(regmap.USBVendorIn, regmap.USBReqRegRead, uint16(off), b[:], fmt.Sprintf("reading register %s (%#03x)", regName(off), off))
	if err != nil {
		return 0, err
	}
	if n != 4 {
		return 0, errorf("%s: register %#03x: %d bytes, want 4: %w", l.what, off, n, ErrProtocol)
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// WriteReg implements Link: a REG_WRITE request. IRQ_MASK and IRQ_STATUS belong to the
// board's bridge on USB (the bulk IN pipe is the interrupt): writes to them go nowhere.
func (l *usbLink) WriteReg(off, v uint32) error {
	if off >= regmap.BARSize || off%4 != 0 {
		return errorf("register %#x: not a register of the register file", off)
	}
	if off == regmap.RegIRQMask || off == regmap.RegIRQStatus {
		return nil
	}
	_, err := l.control(regmap.USBVendorOut, regmap.USBReqRegWrite, uint16(off), binary.LittleEndian.AppendUint32(nil, v), fmt.Sprintf("writing register %s (%#03x)", regName(off), off))
	return err
}

// Producer implements Link.
func (l *usbLink) Producer(r regmap.Ring) RecordProducer {
	if r == regmap.RingSpkIn {
		return l.spk
	}
	return l.cmd
}

// Consumer implements Link: the ring, and the link's protocol failure once it is empty.
func (l *usbLink) Consumer(r regmap.Ring) RecordConsumer {
	if r == regmap.RingOut {
		return usbConsumer{l.out, l}
	}
	return usbConsumer{l.cpl, l}
}

type usbConsumer struct {
	c *ring.Consumer
	l *usbLink
}

func (x usbConsumer) TryRead() (ring.Record, error) {
	r, err := x.c.TryRead()
	if errors.Is(err, ring.ErrEmpty) && !x.l.gone.Load() {
		select {
		case <-x.l.dead:
			return r, x.l.failErr // a protocol violation: it wraps ring.ErrProtocol
		default:
		}
	}
	return r, err
}

func (x usbConsumer) Release() { x.c.Release() }

// Notify implements Link: records for the board wake the writer; space freed in CPL and
// OUT wakes the reader through the rings themselves.
func (l *usbLink) Notify(r regmap.Ring) {
	if r.HostToBoard() {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Arm implements Link: nothing to arm, the bulk IN transfers are always queued.
func (l *usbLink) Arm(on bool) {}

// Wake implements Link.
func (l *usbLink) Wake() { l.signal() }

func (l *usbLink) signal() {
	select {
	case l.irq <- struct{}{}:
	default:
	}
}

// Wait implements Link: records arriving on bulk IN, Wake, a failure or d.
func (l *usbLink) Wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.irq:
	case <-l.dead:
	case <-t.C:
	}
	return l.Alive()
}

// Alive implements Link.
func (l *usbLink) Alive() error {
	if l.gone.Load() {
		return l.failErr
	}
	return nil
}

// Bulk implements Link: USB has no bulk DMA window.
func (l *usbLink) Bulk() []byte { return nil }

// fail records the link's first failure: the board gone (err wraps ErrGone; Wait and Alive
// return it and the core names the device), or a protocol
// violation, which the core learns from the consumers, after the records that came before
// it, and words itself.
func (l *usbLink) fail(err error, gone bool) {
	l.failOnce.Do(func() {
		if gone {
			l.failErr = err
			l.gone.Store(true)
		} else {
			l.failErr = violation{err}
		}
		close(l.dead)
	})
	l.signal()
}

// violation is the link's protocol failure as the consumers return it: what went wrong,
// wrapping ring.ErrProtocol (so that the core reports ErrProtocol) without saying so.
type violation struct{ err error }

func (v violation) Error() string   { return v.err.Error() }
func (v violation) Unwrap() []error { return []error{v.err, ring.ErrProtocol} }

// failTransfer fails the link because of a bulk transfer's error.
func (l *usbLink) failTransfer(ep string, err error) {
	switch {
	case errors.Is(err, errUSBStall):
		l.fail(fmt.Errorf("the board stalled %s", ep), false)
	case errors.Is(err, ErrProtocol):
		l.fail(fmt.Errorf("%s: %w", ep, err), false)
	default:
		if !errors.Is(err, ErrGone) {
			err = fmt.Errorf("%w: %w", err, ErrGone)
		}
		l.fail(fmt.Errorf("%s: %w", ep, err), true)
	}
}

// reader unframes bulk IN into CPL and OUT.
func (l *usbLink) reader() {
	defer l.wg.Done()
	buf := make([]byte, regmap.USBHostTransfer)
	for {
		n, err := l.dev.read(l.ctx, buf)
		if l.ctx.Err() != nil {
			return
		}
		if err != nil {
			l.failTransfer("bulk IN", err)
			return
		}
		l.stats.InTransfers.Add(1)
		l.stats.InBytes.Add(int64(n))
		if _, err := l.dec.Feed(buf[:n], l.put); err != nil {
			if l.ctx.Err() == nil {
				l.fail(err, false)
			}
			return
		}
		if n < len(buf) {
			if err := l.dec.EndBurst(); err != nil {
				l.fail(err, false)
				return
			}
		}
		l.signal()
	}
}

// put publishes one record from bulk IN, waiting for room while the core catches up.
func (l *usbLink) put(h regmap.FrameHeader, p []byte) error {
	prod := l.cplP
	if h.Ring == regmap.RingOut {
		prod = l.outP
	}
	buf, err := prod.TryReserve(h.Type, len(p))
	if errors.Is(err, ring.ErrFull) {
		l.signal()
		buf, err = prod.Reserve(l.ctx, h.Type, len(p))
	}
	if err != nil {
		return err
	}
	copy(buf, p)
	prod.Commit()
	prod.Publish()
	return nil
}

// gather frames what the core published, in an order the board can rely on: the commands
// there now are held, then the spikes are taken until SPKIN is empty (every spike published
// before a held command is among them), then the held commands follow. It appends to
// pending and returns how many bytes it added.
func (l *usbLink) gather(pending, held *[]byte) int {
	before := len(*pending)
	if len(*held) == 0 {
		n := 0
		for len(*held) < usbGather {
			r, err := l.cmdC.TryRead()
			if err != nil {
				break
			}
			*held = regmap.AppendFrame(*held, regmap.RingCmd, r.Type, r.Payload)
			n++
		}
		if n > 0 {
			l.cmdC.Release()
		}
	}
	n, empty := 0, false
	for len(*pending)-before < usbGather {
		r, err := l.spkC.TryRead()
		if err != nil {
			empty = errors.Is(err, ring.ErrEmpty)
			break
		}
		*pending = regmap.AppendFrame(*pending, regmap.RingSpkIn, r.Type, r.Payload)
		n++
	}
	if n > 0 {
		l.spkC.Release()
	}
	if empty {
		*pending = append(*pending, *held...)
		*held = (*held)[:0]
	}
	return len(*pending) - before
}

// writer frames CMD and SPKIN onto bulk OUT: a batch of less than two transfers goes as
// one transfer of exactly its length; more goes as a stream of full transfers, several in
// flight, for as long as records keep coming, then the rest as one transfer.
func (l *usbLink) writer() {
	defer l.wg.Done()
	const T = regmap.USBHostTransfer
	var pending, held []byte
	var st usbStream
	defer func() {
		if st != nil {
			st.close(l.ctx) // cancelled: it cancels what is in flight
		}
	}()
	for {
		added := l.gather(&pending, &held)
		if len(pending) == 0 {
			if st != nil {
				err := st.close(l.ctx)
				st = nil
				if err != nil {
					l.writeFailed(err)
					return
				}
			}
			select {
			case <-l.kick:
			case <-l.ctx.Done():
				return
			}
			continue
		}
		if st == nil && len(pending) >= 2*T {
			var err error
			if st, err = l.dev.stream(); err != nil {
				l.writeFailed(err)
				return
			}
			l.stats.Streams.Add(1)
		}
		if st != nil {
			off := 0
			for len(pending)-off >= T {
				if err := st.write(l.ctx, pending[off:off+T]); err != nil {
					l.writeFailed(err)
					return
				}
				off += T
				l.stats.StreamTransfers.Add(1)
				l.stats.OutBytes.Add(T)
			}
			pending = pending[:copy(pending, pending[off:])]
			if added > 0 {
				continue // more may come: keep the stream going
			}
			err := st.close(l.ctx)
			st = nil
			if err != nil {
				l.writeFailed(err)
				return
			}
			if len(pending) == 0 {
				continue
			}
		}
		if err := l.dev.write(l.ctx, pending); err != nil {
			l.writeFailed(err)
			return
		}
		l.stats.OutTransfers.Add(1)
		l.stats.OutBytes.Add(int64(len(pending)))
		pending = pending[:0]
	}
}

func (l *usbLink) writeFailed(err error) {
	if l.ctx.Err() == nil {
		l.failTransfer("bulk OUT", err)
	}
}

// Close implements Link: the session ends (DETACH), the pumps stop (cancelling their
// transfers), the interface and the device are released, the lock file goes.
func (l *usbLink) Close() error {
	l.closeOnce.Do(func() {
		if !l.gone.Load() && l.started {
			l.ctl.Lock()
			l.dev.control(regmap.USBVendorOut, uint8(regmap.USBReqDetach), 0, 0, nil, min(l.timeout, time.Second))
			l.ctl.Unlock()
		}
		l.cancel()
		l.wg.Wait()
		l.dev.close()
		l.closeRings()
		l.lock.unlock()
	})
	return nil
}

func (l *usbLink) closeRings() {
	for i, r := range l.rings {
		if r != nil {
			r.Close()
			l.rings[i] = nil
		}
	}
}

// errNoUSB says this build has no USB transport.
var errNoUSB = fmt.Errorf("this build has no USB transport: build the lab build, go build -tags gousb ./cmd/lrctl (it needs the Debian packages libusb-1.0-0-dev and pkg-config), or try the emulated USB board with scripts/with-usb-emu.sh CMD: %w", errors.ErrUnsupported)
