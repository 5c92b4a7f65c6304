package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/driver/internal/vfiodev"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/runtime/ring"
)

// The VFIO link: a board's PCIe function (docs/regmap.md §10) driven from userspace, through
// the kernel's VFIO (pcie:DDDD:BB:DD.F) or a vfio-user server (vfio-user:PATH, the emulated
// board of lrctl emu serve --vfio-user). Only the layer under it differs (vfiodev.Device:
// ioctls or messages); everything here is the same code for both.

func init() {
	RegisterTransport(TransportPCIe, dialPCIe)
	RegisterTransport(TransportVFIOUser, dialVFIOUser)
}

// ErrSetup: the machine is not set up to open the board through VFIO (the function is not
// bound to vfio-pci, its IOMMU group is shared, the IOMMU is off, no permission on the VFIO
// nodes, too little locked memory); the message says what to run.
var ErrSetup = errors.New("not set up for VFIO")

// Defaults of the host memory a VFIO link gives the board, when Opts says 0.
const (
	DefaultVFIORingCapacity = 1 << 20
	DefaultVFIOBulk         = 64 << 20
)

// attachPoll bounds the sleep between two looks at STATUS while the board attaches.
const attachPoll = time.Millisecond

// dialPCIe opens a board through the kernel's VFIO.
func dialPCIe(ctx context.Context, u URI, opts Opts) (Link, error) {
	dev, err := vfiodev.OpenKernel(u.Addr, vfiodev.KernelOpts{})
	if err != nil {
		return nil, vfioError(err)
	}
	return newVFIOLink(ctx, dev, opts, nil)
}

// dialVFIOUser opens a board served over vfio-user. A lock file beside the socket keeps a
// second process off (and names the holder), as for emu:unix:.
func dialVFIOUser(ctx context.Context, u URI, opts Opts) (Link, error) {
	what := u.String()
	var lock *devLock
	if !opts.NoLock {
		l, err := lockDevice(u.Path+".lock", what)
		if err != nil {
			return nil, err
		}
		lock = l
	}
	dev, err := vfiodev.DialUser(ctx, u.Path, vfiodev.UserOpts{Timeout: min(opts.withDefaults().Timeout, vfiodev.DefaultTimeout)})
	if err != nil {
		lock.unlock()
		return nil, vfioError(err)
	}
	l, err := newVFIOLink(ctx, dev, opts, lock)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	return l, nil
}

// DialVFIOUser links a driver to a vfio-user server at the other end of conn (tests, and
// tools that serve a board in-process); the link owns conn. what names the device.
func DialVFIOUser(ctx context.Context, conn *net.UnixConn, opts Opts, what string) (Link, error) {
	dev, err := vfiodev.NewUser(ctx, conn, what, vfiodev.UserOpts{Timeout: min(opts.withDefaults().Timeout, vfiodev.DefaultTimeout)})
	if err != nil {
		return nil, vfioError(err)
	}
	return newVFIOLink(ctx, dev, opts, nil)
}

// vfioError maps the layer's errors onto the driver's sentinels.
func vfioError(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct{ from, to error }{
		{vfiodev.ErrGone, ErrGone}, {vfiodev.ErrTimeout, ErrTimeout}, {vfiodev.ErrProtocol, ErrProtocol},
		{vfiodev.ErrBusy, ErrBusy}, {vfiodev.ErrNotFound, ErrNotFound}, {vfiodev.ErrSetup, ErrSetup},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("driver: %v: %w", strings.TrimSuffix(err.Error(), ": "+m.from.Error()), m.to)
		}
	}
	return errorf("%w", err)
}

// vfioLink is a board's PCIe function through a vfiodev.Device.
type vfioLink struct {
	dev  vfiodev.Device
	what string
	lock *devLock

	// BAR 0: mapped where the layer lets it (writable when writes through the mapping are
	// MMIO), else reached through the layer.
	bar      []byte
	barWrite bool
	// Registers written with a posted message and not read since: a read of one first makes
	// the writes land (Flush), as a PCIe read never passes a posted write. (Only where reads
	// go through a mapping and writes through messages: vfio-user.)
	dirty   [regmap.BARSize / 4 / 64]atomic.Uint64
	flushMu sync.Mutex
	// IRQ_STATUS bits the host cleared that are not written yet: where a write costs a
	// message, the clears after each drain are gathered into one write before the interrupt
	// is armed (the only moment the board's view of them matters: arming with a cause still
	// pending interrupts at once).
	clears atomic.Uint32

	// Host memory for the board: one memory file, mapped here, in DMA windows.
	memFd   int
	mem     []byte
	windows []*vfiodev.DMA
	rings   [regmap.NumRings]*ring.Ring
	cmd, in *ring.Producer
	cpl     *ring.Consumer
	out     *ring.Consumer
	bulk    []byte

	irq      [regmap.NumMSIXVectors]int // eventfds of the MSI-X vectors
	wake     int                        // eventfd: Wake
	irqsSet  bool
	gone     atomic.Pointer[error]
	closeOne sync.Once
}

// newVFIOLink sets the board up over dev (which the link owns from then on, even on error):
// identity, BAR 0, a function-level reset, interrupts, host memory for the rings and the
// bulk window, and CONTROL.ATTACH.
func newVFIOLink(ctx context.Context, dev vfiodev.Device, opts Opts, lock *devLock) (_ Link, err error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		dev.Close()
		return nil, err
	}
	l := &vfioLink{dev: dev, what: dev.String(), lock: lock, memFd: -1, wake: -1, irq: [regmap.NumMSIXVectors]int{-1, -1}}
	defer func() {
		if err != nil {
			l.lock = nil // the dialer releases it
			l.Close()
		}
	}()
	// fail says what failed, around a layer error that names the device already.
	fail := func(what string, err error) error {
		return vfioError(fmt.Errorf("%s: %w", what, err))
	}
	info := dev.Info()
	if info.Flags&vfio.DeviceFlagsPCI == 0 || info.NumRegions <= vfio.PCIConfigRegionIndex || info.NumIRQs <= vfio.PCIMSIXIRQIndex {
		return nil, errorf("%s: not a PCI function with config space and MSI-X (flags %#x, %d regions, %d interrupt types): %w", l.what, info.Flags, info.NumRegions, info.NumIRQs, ErrNotFound)
	}
	// Is it ours? The configuration space says.
	var id [4]byte
	if err := dev.ReadRegion(vfio.PCIConfigRegionIndex, regmap.PCIConfigVendor, id[:]); err != nil {
		return nil, fail("reading the configuration space", err)
	}
	if v, d := binary.LittleEndian.Uint16(id[:]), binary.LittleEndian.Uint16(id[2:]); v != regmap.PCIVendorID || d != regmap.PCIDeviceID {
		return nil, errorf("%s is a %04x:%04x PCI function, not an lrchip board (%04x:%04x): %w", l.what, v, d, regmap.PCIVendorID, regmap.PCIDeviceID, ErrNotFound)
	}
	// Memory space on, and bus mastering, which the board's DMA needs.
	var cmd [2]byte
	if err := dev.ReadRegion(vfio.PCIConfigRegionIndex, regmap.PCIConfigCommand, cmd[:]); err != nil {
		return nil, fail("reading the command register", err)
	}
	c := binary.LittleEndian.Uint16(cmd[:]) | regmap.PCICommandMemory | regmap.PCICommandMaster
	if err := dev.WriteRegion(vfio.PCIConfigRegionIndex, regmap.PCIConfigCommand, binary.LittleEndian.AppendUint16(nil, c), false); err != nil {
		return nil, fail("enabling memory space and bus mastering", err)
	}
	r, err := dev.Region(regmap.PCIBarRegs)
	if err != nil {
		return nil, fail("BAR 0", err)
	}
	if r.Size < regmap.BARSize || r.Flags&vfio.RegionInfoFlagRead == 0 || r.Flags&vfio.RegionInfoFlagWrite == 0 {
		return nil, errorf("%s: BAR 0 is %d bytes (flags %#x), the register file needs %d read-write: %w", l.what, r.Size, r.Flags, regmap.BARSize, ErrProtocol)
	}
	if r.Mappable() {
		r.Size = regmap.BARSize
		if l.bar, l.barWrite, err = dev.MapRegion(r); err != nil {
			return nil, vfioError(err)
		}
	} // else: pread/pwrite or messages, as the layer does it
	// A clean start: the function reset detaches whatever a previous host left attached.
	if info.Flags&vfio.DeviceFlagsReset != 0 {
		if err := dev.Reset(); err != nil {
			return nil, fail("function-level reset", err)
		}
	}
	if m, err := l.ReadReg(regmap.RegMagic); err != nil {
		return nil, err
	} else if m != regmap.Magic {
		return nil, errorf("%s: register file magic %#08x, want %#08x: %w", l.what, m, regmap.Magic, ErrProtocol)
	}
	if err := l.setupIRQs(); err != nil {
		return nil, err
	}
	if err := l.setupMemory(opts); err != nil {
		return nil, err
	}
	if err := l.attach(ctx, opts.Timeout); err != nil {
		return nil, err
	}
	return l, nil
}

// setupIRQs routes the MSI-X vectors to eventfds.
func (l *vfioLink) setupIRQs() error {
	n, err := l.dev.IRQCount(vfio.PCIMSIXIRQIndex)
	if err != nil {
		return vfioError(err)
	}
	if n < regmap.NumMSIXVectors {
		return errorf("%s: %d MSI-X vectors, the board has %d: %w", l.what, n, regmap.NumMSIXVectors, ErrProtocol)
	}
	for i := range l.irq {
		if l.irq[i], err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
			return errorf("%s: eventfd: %w", l.what, err)
		}
	}
	if l.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return errorf("%s: eventfd: %w", l.what, err)
	}
	if err := l.dev.SetIRQs(vfio.PCIMSIXIRQIndex, l.irq[:]); err != nil {
		return vfioError(err)
	}
	l.irqsSet = true
	return nil
}

// setupMemory makes the host memory the board reaches: a sealed memory file holding the four
// rings (formatted here) and the bulk window, each a DMA window of its own.
func (l *vfioLink) setupMemory(opts Opts) error {
	capacity := opts.RingCapacity
	if capacity == 0 {
		capacity = DefaultVFIORingCapacity
	}
	bulk := opts.Bulk
	if bulk == 0 {
		bulk = DefaultVFIOBulk
	}
	sizes := [regmap.NumRings + 1]int{}
	total := 0
	for i := range sizes {
		sizes[i] = regmap.RingHeaderSize + capacity
		if i == regmap.NumRings {
			sizes[i] = bulk
		}
		total += sizes[i]
	}
	var err error
	if l.memFd, err = unix.MemfdCreate("lrchip-dma", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING); err != nil {
		return errorf("%s: memfd: %w", l.what, err)
	}
	if err := unix.Ftruncate(l.memFd, int64(total)); err != nil {
		return errorf("%s: %w", l.what, err)
	}
	// The board (another process, over vfio-user) maps it: it must not shrink under it.
	if _, err := unix.FcntlInt(uintptr(l.memFd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return errorf("%s: sealing the DMA memory: %w", l.what, err)
	}
	if l.mem, err = unix.Mmap(l.memFd, 0, total, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return errorf("%s: mapping the DMA memory: %w", l.what, err)
	}
	off := 0
	for i, n := range sizes {
		w := &vfiodev.DMA{Size: uint64(n), Fd: l.memFd, Offset: uint64(off), Mem: l.mem[off : off+n], Write: i < regmap.NumRings}
		if err := l.dev.MapDMA(w); err != nil {
			return vfioError(err)
		}
		l.windows = append(l.windows, w)
		if i < regmap.NumRings {
			if l.rings[i], err = ring.New(w.Mem, ring.Opts{Capacity: capacity, Heartbeat: -1, Name: "lrchip-" + strings.ToLower(regmap.Ring(i).String())}); err != nil {
				return errorf("%s: ring %s: %w", l.what, regmap.Ring(i), err)
			}
		} else {
			l.bulk = w.Mem
		}
		off += n
	}
	if l.cmd, err = l.rings[regmap.RingCmd].Producer(); err == nil {
		if l.in, err = l.rings[regmap.RingSpkIn].Producer(); err == nil {
			if l.cpl, err = l.rings[regmap.RingCpl].Consumer(); err == nil {
				l.out, err = l.rings[regmap.RingOut].Consumer()
			}
		}
	}
	if err != nil {
		return errorf("%s: claiming the rings: %w", l.what, err)
	}
	return nil
}

// attach tells the board where its rings and bulk window are and waits until it has taken
// them (STATUS.ATTACHED), or refused (STATUS.ERROR, ERROR_CODE saying why).
func (l *vfioLink) attach(ctx context.Context, timeout time.Duration) error {
	w := func(off, v uint32) error { return l.WriteReg(off, v) }
	for i := regmap.Ring(0); i < regmap.NumRings; i++ {
		win := l.windows[i]
		if err := errors.Join(w(regmap.RingBaseLo(i), uint32(win.IOVA)), w(regmap.RingBaseHi(i), uint32(win.IOVA>>32)),
			w(regmap.RingSize(i), uint32(l.rings[i].Capacity()))); err != nil {
			return err
		}
	}
	b := l.windows[regmap.NumRings]
	if err := errors.Join(w(regmap.RegBulkBaseLo, uint32(b.IOVA)), w(regmap.RegBulkBaseHi, uint32(b.IOVA>>32)), w(regmap.RegBulkSize, uint32(b.Size)),
		w(regmap.RegControl, regmap.ControlAttach)); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for sleep := 10 * time.Microsecond; ; sleep = min(2*sleep, attachPoll) {
		st, err := l.ReadReg(regmap.RegStatus)
		if err != nil {
			return err
		}
		if st&regmap.StatusAttached != 0 {
			return nil
		}
		if st&regmap.StatusError != 0 {
			code, _ := l.ReadReg(regmap.RegErrorCode)
			return errorf("%s: the board refused its rings and bulk window (CONTROL.ATTACH): %s: %w", l.what, regmap.Result(code), ErrProtocol)
		}
		if ctx.Err() != nil {
			return ctxError(ctx, l.what+": ATTACH")
		}
		if time.Now().After(deadline) {
			return errorf("%s: ATTACH: the board did not take its rings in %v: %w", l.what, timeout, ErrTimeout)
		}
		time.Sleep(sleep)
	}
}

// --- registers ---

func (l *vfioLink) word(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&l.bar[off])) }

// mmioWrite is a plain 32-bit store to the mapping: an MMIO write (a locked instruction, as
// an atomic store would be, is not what a device register wants).
//
//go:noinline
func mmioWrite(p *uint32, v uint32) { *p = v }

// ReadReg implements Link. A read of all ones from a board that has left the bus (surprise
// removal) is ErrGone.
func (l *vfioLink) ReadReg(off uint32) (uint32, error) {
	if off >= regmap.BARSize || off%4 != 0 {
		return 0, errorf("register %#x: outside the register file", off)
	}
	if err := l.goneErr(); err != nil {
		return 0, err
	}
	if off == regmap.RegIRQStatus {
		if err := l.writeClears(); err != nil {
			return 0, err
		}
	}
	var v uint32
	if l.bar != nil {
		if w := &l.dirty[off/4/64]; w.Load()&(1<<(off/4%64)) != 0 {
			if err := l.flush(); err != nil {
				return 0, err
			}
		}
		v = atomic.LoadUint32(l.word(off))
	} else {
		var b [4]byte
		if err := l.dev.ReadRegion(regmap.PCIBarRegs, uint64(off), b[:]); err != nil {
			return 0, l.layerErr(err)
		}
		v = binary.LittleEndian.Uint32(b[:])
	}
	if v == regmap.AllOnes {
		// A register may hold all ones; MAGIC never does, unless the board is gone.
		if off == regmap.RegMagic {
			return 0, l.removed()
		}
		if _, err := l.ReadReg(regmap.RegMagic); err != nil {
			return 0, err
		}
	}
	return v, nil
}

// WriteReg implements Link: an MMIO write, posted.
func (l *vfioLink) WriteReg(off, v uint32) error {
	if off >= regmap.BARSize || off%4 != 0 {
		return errorf("register %#x: outside the register file", off)
	}
	if err := l.goneErr(); err != nil {
		return err
	}
	if l.bar != nil && l.barWrite {
		mmioWrite(l.word(off), v)
		return nil
	}
	if off == regmap.RegIRQStatus {
		l.clears.Or(v)
		return nil
	}
	if l.bar != nil {
		l.dirty[off/4/64].Or(1 << (off / 4 % 64))
	}
	return l.layerErr(l.dev.WriteRegion(regmap.PCIBarRegs, uint64(off), binary.LittleEndian.AppendUint32(nil, v), true))
}

// flush waits until the posted writes have reached the board.
func (l *vfioLink) flush() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	var pending [len(l.dirty)]uint64
	for i := range l.dirty {
		pending[i] = l.dirty[i].Swap(0)
	}
	if err := l.dev.Flush(); err != nil {
		for i, p := range pending {
			l.dirty[i].Or(p)
		}
		return l.layerErr(err)
	}
	return nil
}

// removed records that the board reads all ones.
func (l *vfioLink) removed() error {
	err := errorf("%s: the board reads all ones: it has left the bus (removed, or its link is down): %w", l.what, ErrGone)
	l.gone.CompareAndSwap(nil, &err)
	return *l.gone.Load()
}

func (l *vfioLink) goneErr() error {
	if p := l.gone.Load(); p != nil {
		return *p
	}
	if err := l.dev.Gone(); err != nil {
		return l.layerErr(err)
	}
	return nil
}

// layerErr turns a layer error into the driver's; one that means the device is gone sticks.
func (l *vfioLink) layerErr(err error) error {
	if err == nil {
		return nil
	}
	// The core names the device; the layer did too.
	e := vfioError(err)
	if msg := e.Error(); strings.HasPrefix(msg, "driver: "+l.what+": ") {
		e = &renamed{msg: "driver: " + strings.TrimPrefix(msg, "driver: "+l.what+": "), err: e}
	}
	if errors.Is(e, ErrGone) || errors.Is(e, ErrProtocol) {
		l.gone.CompareAndSwap(nil, &e)
	}
	return e
}

// renamed is an error with another message.
type renamed struct {
	msg string
	err error
}

func (r *renamed) Error() string { return r.msg }
func (r *renamed) Unwrap() error { return r.err }

// Producer implements Link.
func (l *vfioLink) Producer(r regmap.Ring) RecordProducer {
	if r == regmap.RingSpkIn {
		return l.in
	}
	return l.cmd
}

// Consumer implements Link.
func (l *vfioLink) Consumer(r regmap.Ring) RecordConsumer {
	if r == regmap.RingOut {
		return l.out
	}
	return l.cpl
}

// Notify implements Link: a doorbell write only when the board says it sleeps (need-wakeup;
// a board at work polls its rings).
func (l *vfioLink) Notify(r regmap.Ring) {
	if st, err := l.ReadReg(regmap.RegStatus); err == nil && st&regmap.StatusSleeping != 0 {
		l.WriteReg(regmap.RegDoorbell, 1<<r)
	}
}

// Arm implements Link. The write is posted and needs no read-back: the board interrupts at
// once when IRQ_MASK arms a cause already pending (docs/regmap.md §10). The IRQ_STATUS clears
// gathered since the last arming go first.
func (l *vfioLink) Arm(on bool) {
	v := uint32(0)
	if on {
		v = regmap.IRQAll
		l.writeClears()
	}
	l.WriteReg(regmap.RegIRQMask, v)
}

// writeClears writes the IRQ_STATUS clears gathered so far.
func (l *vfioLink) writeClears() error {
	c := l.clears.Swap(0)
	if c == 0 {
		return nil
	}
	if l.bar != nil {
		l.dirty[regmap.RegIRQStatus/4/64].Or(1 << (regmap.RegIRQStatus / 4 % 64))
	}
	return l.layerErr(l.dev.WriteRegion(regmap.PCIBarRegs, regmap.RegIRQStatus, binary.LittleEndian.AppendUint32(nil, c), true))
}

// Wake implements Link.
func (l *vfioLink) Wake() { kickFd(l.wake) }

func kickFd(fd int) {
	var b [8]byte
	b[0] = 1
	unix.Write(fd, b[:])
}

// Wait implements Link: the MSI-X eventfds, Wake's, and the layer's word that the device is
// gone. The error vector also means the board may have let go of the rings (a refused or
// broken attachment): that ends the link.
func (l *vfioLink) Wait(d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(l.irq[regmap.MSIXVectorRings]), Events: unix.POLLIN}, {Fd: int32(l.irq[regmap.MSIXVectorError]), Events: unix.POLLIN},
		{Fd: int32(l.wake), Events: unix.POLLIN}}
	if g := l.dev.GoneFd(); g >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(g), Events: unix.POLLIN})
	}
	deadline := time.Now().Add(d)
	for {
		ms := 0
		if left := time.Until(deadline); left > 0 {
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		if _, err := unix.Poll(fds, ms); err == unix.EINTR {
			continue // a signal (the runtime's preemption) is not an event
		}
		break
	}
	var b [8]byte
	for i := 0; i < 3; i++ {
		if fds[i].Revents&unix.POLLIN != 0 {
			unix.Read(int(fds[i].Fd), b[:])
		}
	}
	if err := l.goneErr(); err != nil {
		return err
	}
	if fds[1].Revents&unix.POLLIN != 0 {
		st, err := l.ReadReg(regmap.RegStatus)
		if err != nil {
			return err
		}
		if st&regmap.StatusAttached == 0 {
			code, _ := l.ReadReg(regmap.RegErrorCode)
			e := errorf("%s: the board let go of the rings (ERROR_CODE %s): %w", l.what, regmap.Result(code), ErrProtocol)
			l.gone.CompareAndSwap(nil, &e)
			return e
		}
	}
	return nil
}

// Alive implements Link: the layer's word, and MAGIC not reading all ones.
func (l *vfioLink) Alive() error {
	_, err := l.ReadReg(regmap.RegMagic)
	return err
}

// Bulk implements Link.
func (l *vfioLink) Bulk() []byte { return l.bulk }

// Close implements Link: the board lets go of the host's memory (a function-level reset
// detaches it) before the windows are unmapped; then everything is released. A board that is
// gone gets no more requests.
func (l *vfioLink) Close() error {
	l.closeOne.Do(func() {
		// Each request may fail; one that finds the board gone or not answering ends the
		// requests, so that a dead or stopped board costs one timeout at most.
		alive := l.goneErr() == nil
		try := func(err error) {
			if err != nil && (errors.Is(err, vfiodev.ErrTimeout) || l.goneErr() != nil) {
				alive = false
			}
		}
		if alive && l.dev.Info().Flags&vfio.DeviceFlagsReset != 0 && l.windows != nil {
			try(l.dev.Reset())
		}
		if alive && l.irqsSet {
			try(l.dev.SetIRQs(vfio.PCIMSIXIRQIndex, nil))
		}
		for _, w := range l.windows {
			if alive {
				try(l.dev.UnmapDMA(w))
			}
		}
		for i, r := range l.rings {
			if r != nil {
				r.Close()
				l.rings[i] = nil
			}
		}
		if l.bar != nil {
			unix.Munmap(l.bar)
			l.bar = nil
		}
		l.dev.Close()
		if l.mem != nil {
			unix.Munmap(l.mem)
			l.mem = nil
		}
		for _, p := range []*int{&l.memFd, &l.wake, &l.irq[0], &l.irq[1]} {
			if *p >= 0 {
				unix.Close(*p)
				*p = -1
			}
		}
		l.lock.unlock()
	})
	return nil
}
