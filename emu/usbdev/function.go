// Package usbdev is the emulated board's USB function: the bridge (an FX3/FT601-class USB
// device controller) in front of emu/board, as firmware/regmap defines it (docs/regmap.md
// §11), together with what the Linux kernel's usbdevfs does for the host. A transport hands
// it the usbdevfs ioctls of a host's libusb (internal/umockdev does, through umockdev's
// ioctl emulation, so that unchanged libusb and gousb code talks to it); it answers them:
// descriptors and standard requests, the vendor requests for registers and sessions, and
// the bulk endpoints, whose frames it pumps to and from the board's rings.
//
// A session (ATTACH) gets rings of its own in plain memory and the board's firmware loop
// (board.Attach) over them; the OUT pump writes the records of bulk OUT into CMD and SPKIN,
// the IN pump moves CPL and OUT records to bulk IN, in bursts that end with a short or
// zero-length packet, and wakes on the board's interrupt (the bridge owns IRQ_MASK).
//
// Everything a host sends is checked: a malformed URB is refused with the errno the kernel
// gives, a malformed frame stalls bulk OUT, a malformed request stalls endpoint 0.
//
// FTDI (ftdi.go) is the board's other USB device, its recovery port (§13): an FT2232H whose
// MPSSE engine reaches the board's flash and its FPGA's reset and done pins.
package usbdev

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// Defaults of Opts.
const (
	DefaultBus   = 1
	DefaultAddr  = 2
	DefaultBurst = 256 << 10
)

// Opts configures a Function. The zero value gives the documented defaults.
type Opts struct {
	Speed regmap.USBSpeed // default regmap.USBSuperSpeed
	Bus   int             // bus number, default DefaultBus
	Addr  int             // device number on the bus, default DefaultAddr
	// Burst bounds the bytes the bridge sends on bulk IN in one burst (its DMA buffer),
	// default DefaultBurst; a record larger than that goes in a burst of its own.
	Burst int
	// Ready is told when URBs are waiting to be reaped and when the device is gone; nil:
	// nobody polls.
	Ready Ready
}

// ErrNoTestbed says that this build cannot put a function on a umockdev testbed.
var ErrNoTestbed = errors.New("usbdev: this build has no USB testbed: build the lab build, with -tags gousb (needs the Debian packages libusb-1.0-0-dev, libumockdev-dev, umockdev and pkg-config), or use scripts/with-usb-emu.sh")

// Function is the emulated USB function of one board. Its methods are safe for concurrent
// use; Ioctl never blocks for long (umockdev calls it from its one worker thread).
type Function struct {
	b    *board.Board
	opts Opts
	mps  int

	ctx    context.Context // the Function's life
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond // signalled when queues, the session or the state change
	clients map[ClientID]*client
	owner   *client // holds the interface
	gone    bool    // unplugged
	hung    bool    // fault: the board stopped answering
	halted  map[uint8]bool
	ready   bool
	latch   map[uint32]uint32 // REG_READ: a pair's HI, latched when its LO was read alone
	sess    *session          // open
	last    *session          // the last one opened (it may be ending)
	ep0     []*urb
	outq    []*urb
	inq     []*urb
	inject  [][]byte // fault: bursts to send on bulk IN first
	urbMem  int      // buffer bytes of the URBs submitted and not yet reaped
	stats   Stats
}

// Stats counts what went over the endpoints, for tests and benchmarks.
type Stats struct {
	Sessions                  int
	ControlURBs               int
	OutURBs, InURBs           int
	OutBytes, InBytes         int64
	MaxOutFlight, MaxInFlight int // most bulk URBs queued at once
	Stalls                    int
}

type client struct {
	id      ClientID
	pending map[uint64]*urb // by the URB's address in the client
	reap    []*urb          // completed, in completion order
}

// urb is one URB a client submitted.
type urb struct {
	c       *client
	addr    uint64 // its address in the client: the handle for DISCARDURB and REAPURB
	mem     Mem    // the client's struct usbdevfs_urb
	buf     Mem    // control: the resolved buffer (setup packet and data)
	typ     byte
	ep      uint8
	flags   uint32
	bufLen  int
	data    []byte // OUT: the bytes; IN: what the device sent
	setup   setup  // control
	status  int32  // negative errno
	actual  int
	done    bool
	cancel  context.CancelFunc // OUT: stops the pump's wait for ring space
	outUsed int                // OUT: bytes the board accepted
}

// New makes the USB function of board b. Close it.
func New(b *board.Board, opts Opts) (*Function, error) {
	if opts.Speed == 0 {
		opts.Speed = regmap.USBSuperSpeed
	}
	if opts.Speed != regmap.USBHighSpeed && opts.Speed != regmap.USBSuperSpeed {
		return nil, fmt.Errorf("usbdev: speed %v is not high or super speed", opts.Speed)
	}
	if opts.Bus == 0 {
		opts.Bus = DefaultBus
	}
	if opts.Addr == 0 {
		opts.Addr = DefaultAddr
	}
	if opts.Bus < 1 || opts.Bus > 255 || opts.Addr < 2 || opts.Addr > 127 {
		return nil, fmt.Errorf("usbdev: bus %d, device %d: want a bus from 1 to 255 and a device from 2 to 127", opts.Bus, opts.Addr)
	}
	if opts.Burst == 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Burst < 512 {
		return nil, fmt.Errorf("usbdev: a burst of %d bytes is below one packet", opts.Burst)
	}
	f := &Function{b: b, opts: opts, mps: opts.Speed.MaxPacket(), clients: map[ClientID]*client{},
		halted: map[uint8]bool{}, latch: map[uint32]uint32{}}
	f.cond = sync.NewCond(&f.mu)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(3)
	go f.ep0Worker()
	go f.outPump()
	go f.inPump()
	return f, nil
}

// setReady sets who is told about reapable URBs, and tells it now.
func (f *Function) setReady(r Ready) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts.Ready = r
	if r != nil {
		r.SetReady(f.ready)
		if f.gone {
			r.Gone()
		}
	}
}

// String names the function.
func (f *Function) String() string {
	return fmt.Sprintf("USB function %04x:%04x at %s (bus %d, device %d) of the %s", regmap.USBVendorID, regmap.USBProductID,
		f.opts.Speed, f.opts.Bus, f.opts.Addr, f.b)
}

// Board returns the board behind the function.
func (f *Function) Board() *board.Board { return f.b }

// Stats returns the counters so far.
func (f *Function) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Outstanding returns the URBs submitted and not yet reaped, over all clients: zero when a
// host left nothing behind.
func (f *Function) Outstanding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.clients {
		n += len(c.pending) + len(c.reap)
	}
	return n
}

// Clients returns the number of clients connected.
func (f *Function) Clients() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}

// Close unplugs the function (see Unplug) and stops it.
func (f *Function) Close() error {
	f.Unplug()
	f.cancel()
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

// Unplug removes the device, as pulling its cable does: every URB in flight fails with
// ESHUTDOWN (and can still be reaped), every later request with ENODEV, the session ends,
// and Ready is told the device is gone.
func (f *Function) Unplug() {
	f.mu.Lock()
	if f.gone {
		f.mu.Unlock()
		return
	}
	f.gone = true
	for _, q := range [][]*urb{f.ep0, f.outq, f.inq} {
		for _, u := range q {
			f.completeLocked(u, -int32(syscall.ESHUTDOWN), u.actual)
		}
	}
	f.ep0, f.outq, f.inq = nil, nil, nil
	f.cond.Broadcast()
	f.mu.Unlock()
	f.endSession(nil)
	if f.opts.Ready != nil {
		f.opts.Ready.Gone()
	}
}

// Hang makes the board stop answering (on), or answer again: control requests and bulk
// transfers stay pending, as with a board whose FPGA hung.
func (f *Function) Hang(on bool) {
	f.mu.Lock()
	f.hung = on
	f.cond.Broadcast()
	f.mu.Unlock()
}

// Stall halts an endpoint (regmap.USBEndpointIn or USBEndpointOut) as a board does when
// something went wrong: its URBs fail with EPIPE until the host clears the halt.
func (f *Function) Stall(ep uint8) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stallLocked(ep)
}

// InjectIn makes the board send b as one burst on bulk IN before anything else: garbage or
// truncated frames, for tests of the host.
func (f *Function) InjectIn(b []byte) {
	f.mu.Lock()
	f.inject = append(f.inject, append([]byte(nil), b...))
	f.cond.Broadcast()
	f.mu.Unlock()
	f.kickIn()
}

func (f *Function) stallLocked(ep uint8) {
	if f.halted[ep] {
		return
	}
	f.halted[ep] = true
	f.stats.Stalls++
	q := &f.inq
	if ep == regmap.USBEndpointOut {
		q = &f.outq
	}
	for _, u := range *q {
		if u.cancel != nil {
			u.cancel()
		}
		f.completeLocked(u, -int32(syscall.EPIPE), u.outUsed)
	}
	*q = nil
	f.cond.Broadcast()
}

// Connect registers a client (an open of the device node).
func (f *Function) Connect(id ClientID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clientLocked(id)
}

func (f *Function) clientLocked(id ClientID) *client {
	c := f.clients[id]
	if c == nil {
		c = &client{id: id, pending: map[uint64]*urb{}}
		f.clients[id] = c
	}
	return c
}

// Disconnect forgets a client (it closed the device node or died): its interface is
// released, its URBs are dropped, and a session it opened ends.
func (f *Function) Disconnect(id ClientID) {
	f.mu.Lock()
	c := f.clients[id]
	if c == nil {
		f.mu.Unlock()
		return
	}
	delete(f.clients, id)
	if f.owner == c {
		f.owner = nil
	}
	var mems []Mem
	for _, q := range []*[]*urb{&f.ep0, &f.outq, &f.inq} {
		kept := (*q)[:0]
		for _, u := range *q {
			if u.c == c {
				u.done = true
				if u.cancel != nil {
					u.cancel()
				}
				continue
			}
			kept = append(kept, u)
		}
		*q = kept
	}
	for _, u := range c.pending {
		mems = append(mems, u.mem, u.buf)
		f.urbMem -= u.bufLen
	}
	for _, u := range c.reap {
		mems = append(mems, u.mem, u.buf)
		f.urbMem -= u.bufLen
	}
	c.pending, c.reap = nil, nil
	f.updateReadyLocked()
	var end *session
	if f.sess != nil && f.sess.owner == c {
		end = f.sess
	}
	f.cond.Broadcast()
	f.mu.Unlock()
	for _, m := range mems {
		if m != nil {
			m.Release()
		}
	}
	if end != nil {
		f.endSession(end)
	}
}

// completeLocked gives an URB back to its client.
func (f *Function) completeLocked(u *urb, status int32, actual int) {
	if u.done {
		return
	}
	u.done = true
	u.status, u.actual = status, actual
	if u.cancel != nil {
		u.cancel()
	}
	c := u.c
	if c.pending == nil { // the client is gone
		return
	}
	delete(c.pending, u.addr)
	c.reap = append(c.reap, u)
	f.updateReadyLocked()
}

func (f *Function) updateReadyLocked() {
	ready := false
	for _, c := range f.clients {
		if len(c.reap) > 0 {
			ready = true
			break
		}
	}
	if ready != f.ready {
		f.ready = ready
		if f.opts.Ready != nil {
			f.opts.Ready.SetReady(ready)
		}
	}
}

// Ioctl answers one usbdevfs ioctl of client id, completing io now or, for nothing but
// the URBs' own completions, never later than the URB's.
func (f *Function) Ioctl(id ClientID, io Ioctl) {
	ret, errno := f.ioctl(id, io)
	if errno != 0 {
		io.Complete(-1, errno)
		return
	}
	if ret >= 0 {
		io.Complete(ret, 0)
	}
}

// ioctl returns the result, or -1 when it completed io itself.
func (f *Function) ioctl(id ClientID, io Ioctl) (int, syscall.Errno) {
	req := io.Request()
	switch req {
	case ioctlSubmitURB:
		return f.submit(id, io)
	case ioctlReapURBNDelay:
		return f.reap(id, io)
	case ioctlDiscardURB:
		return f.discard(id, le.Uint64(io.Arg().Bytes()))
	case ioctlReapURB:
		// libusb reaps with REAPURBNDELAY only; the blocking form is not emulated.
		return 0, syscall.ENOTTY
	}
	f.mu.Lock()
	gone := f.gone
	f.mu.Unlock()
	if gone {
		return 0, syscall.ENODEV
	}
	switch req {
	case ioctlGetCapabilities:
		m, err := io.Arg().Resolve(0, 4)
		if err != nil || m == nil {
			return 0, syscall.EFAULT
		}
		le.PutUint32(m.Bytes(), capabilities)
		return 0, 0
	case ioctlClaimInterface, ioctlReleaseIntf, ioctlSetConfig, ioctlClearHalt:
		m, err := io.Arg().Resolve(0, 4)
		if err != nil || m == nil {
			return 0, syscall.EFAULT
		}
		v := le.Uint32(m.Bytes())
		return 0, f.simple(id, req, v)
	case ioctlSetInterface:
		m, err := io.Arg().Resolve(0, 8)
		if err != nil || m == nil {
			return 0, syscall.EFAULT
		}
		b := m.Bytes()
		f.mu.Lock()
		defer f.mu.Unlock()
		if errno := f.checkIntfLocked(f.clientLocked(id), le.Uint32(b)); errno != 0 {
			return 0, errno
		}
		if le.Uint32(b[4:]) != 0 {
			return 0, syscall.EINVAL
		}
		return 0, 0
	case ioctlGetDriver:
		return 0, syscall.ENODATA // no kernel driver is bound to a vendor-specific interface
	}
	return 0, syscall.ENOTTY
}

// checkIntfLocked claims interface n for c if nobody holds it, as usbfs does for a client
// that uses an interface without claiming it.
func (f *Function) checkIntfLocked(c *client, n uint32) syscall.Errno {
	if n != regmap.USBInterface {
		return syscall.ENOENT
	}
	if f.owner != nil && f.owner != c {
		return syscall.EBUSY
	}
	f.owner = c
	return 0
}

func (f *Function) simple(id ClientID, req, v uint32) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.clientLocked(id)
	switch req {
	case ioctlClaimInterface:
		if v != regmap.USBInterface {
			return syscall.EINVAL
		}
		if f.owner != nil && f.owner != c {
			return syscall.EBUSY
		}
		f.owner = c
	case ioctlReleaseIntf:
		if v != regmap.USBInterface || f.owner != c {
			return syscall.EINVAL
		}
		f.owner = nil
	case ioctlSetConfig:
		if int32(v) != regmap.USBConfigValue && int32(v) != -1 && v != 0 {
			return syscall.EINVAL
		}
		if f.owner != nil && f.owner != c {
			return syscall.EBUSY
		}
	case ioctlClearHalt:
		ep := uint8(v)
		if ep != regmap.USBEndpointIn && ep != regmap.USBEndpointOut {
			return syscall.ENOENT
		}
		if errno := f.checkIntfLocked(c, regmap.USBInterface); errno != 0 {
			return errno
		}
		f.halted[ep] = false
		f.cond.Broadcast()
	}
	return 0
}

// submit takes an URB.
func (f *Function) submit(id ClientID, io Ioctl) (int, syscall.Errno) {
	addr := le.Uint64(io.Arg().Bytes())
	m, err := io.Arg().Resolve(0, urbSize)
	if err != nil || m == nil {
		return 0, syscall.EFAULT
	}
	b := m.Bytes()
	u := &urb{addr: addr, typ: b[urbOffType], ep: b[urbOffEndpoint], flags: le.Uint32(b[urbOffFlags:]),
		bufLen: int(int32(le.Uint32(b[urbOffBufLen:])))}
	if u.bufLen < 0 || u.bufLen > maxURB {
		return 0, syscall.ENOMEM
	}
	switch {
	case u.typ == urbTypeControl && u.ep == 0:
		if u.bufLen < setupPacketSize {
			return 0, syscall.EINVAL
		}
	case u.typ == urbTypeBulk && (u.ep == regmap.USBEndpointOut || u.ep == regmap.USBEndpointIn):
	case u.typ == urbTypeBulk || u.typ == urbTypeIntr || u.typ == urbTypeISO || u.typ == urbTypeControl:
		return 0, syscall.ENOENT // no such endpoint
	default:
		return 0, syscall.EINVAL
	}
	in := u.ep&regmap.USBDirIn != 0
	if u.typ == urbTypeControl || (!in && u.bufLen > 0) {
		buf, err := m.Resolve(urbOffBuffer, u.bufLen)
		if err != nil || buf == nil {
			return 0, syscall.EFAULT
		}
		if u.typ == urbTypeControl {
			u.setup = parseSetup(buf.Bytes())
			if int(u.setup.length) > u.bufLen-setupPacketSize {
				return 0, syscall.EINVAL
			}
			u.buf = buf
			u.buf.Hold()
			if u.setup.typ&regmap.USBDirIn == 0 {
				u.data = append([]byte(nil), buf.Bytes()[setupPacketSize:setupPacketSize+int(u.setup.length)]...)
			}
		} else {
			u.data = append([]byte(nil), buf.Bytes()...)
		}
	} else if in {
		u.data = make([]byte, u.bufLen)
	}
	m.Hold()
	u.mem = m
	release := func() {
		u.mem.Release()
		if u.buf != nil {
			u.buf.Release()
		}
	}
	f.mu.Lock()
	if f.gone {
		f.mu.Unlock()
		release()
		return 0, syscall.ENODEV
	}
	c := f.clientLocked(id)
	if _, dup := c.pending[addr]; dup {
		f.mu.Unlock()
		release()
		return 0, syscall.EBUSY
	}
	if f.urbMem+u.bufLen > maxURBMemory {
		f.mu.Unlock()
		release()
		return 0, syscall.ENOMEM
	}
	if u.typ == urbTypeBulk || u.setup.recipient() != recipDevice {
		if errno := f.checkIntfLocked(c, regmap.USBInterface); errno != 0 {
			f.mu.Unlock()
			release()
			return 0, errno
		}
	}
	u.c = c
	c.pending[addr] = u
	f.urbMem += u.bufLen
	switch {
	case u.typ == urbTypeControl:
		f.ep0 = append(f.ep0, u)
		f.stats.ControlURBs++
	case in:
		f.stats.InURBs++
		if f.halted[u.ep] {
			f.completeLocked(u, -int32(syscall.EPIPE), 0)
			break
		}
		f.inq = append(f.inq, u)
		f.stats.MaxInFlight = max(f.stats.MaxInFlight, len(f.inq))
	default:
		f.stats.OutURBs++
		if f.halted[u.ep] {
			f.completeLocked(u, -int32(syscall.EPIPE), 0)
			break
		}
		f.outq = append(f.outq, u)
		f.stats.MaxOutFlight = max(f.stats.MaxOutFlight, len(f.outq))
	}
	f.cond.Broadcast()
	f.mu.Unlock()
	if in {
		f.kickIn()
	}
	return 0, 0
}

// discard cancels an URB: it completes with ENOENT and whatever it transferred.
func (f *Function) discard(id ClientID, addr uint64) (int, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.clients[id]
	if c == nil {
		return 0, syscall.EINVAL
	}
	u := c.pending[addr]
	if u == nil {
		return 0, syscall.EINVAL // completed already, or never submitted
	}
	for _, q := range []*[]*urb{&f.ep0, &f.outq, &f.inq} {
		for i, x := range *q {
			if x == u {
				*q = append((*q)[:i:i], (*q)[i+1:]...)
				break
			}
		}
	}
	f.completeLocked(u, -int32(syscall.ENOENT), u.outUsed)
	f.cond.Broadcast()
	return 0, 0
}

// reap hands back the oldest completed URB of the client, EAGAIN if none (ENODEV once the
// device is gone and nothing is left).
func (f *Function) reap(id ClientID, io Ioctl) (int, syscall.Errno) {
	f.mu.Lock()
	c := f.clientLocked(id)
	if len(c.reap) == 0 {
		gone := f.gone
		f.mu.Unlock()
		if gone {
			return 0, syscall.ENODEV
		}
		return 0, syscall.EAGAIN
	}
	u := c.reap[0]
	c.reap = c.reap[1:]
	f.urbMem -= u.bufLen
	f.updateReadyLocked()
	f.mu.Unlock()
	defer func() {
		u.mem.Release()
		if u.buf != nil {
			u.buf.Release()
		}
	}()
	in := u.ep&regmap.USBDirIn != 0 || (u.typ == urbTypeControl && u.setup.typ&regmap.USBDirIn != 0)
	if in && u.actual > 0 {
		if u.typ == urbTypeControl {
			copy(u.buf.Bytes()[setupPacketSize:], u.data[:u.actual])
		} else {
			buf, err := u.mem.Resolve(urbOffBuffer, u.actual)
			if err != nil || buf == nil {
				return 0, syscall.EFAULT
			}
			copy(buf.Bytes(), u.data[:u.actual])
		}
	}
	b := u.mem.Bytes()
	le.PutUint32(b[urbOffStatus:], uint32(u.status))
	le.PutUint32(b[urbOffActual:], uint32(u.actual))
	le.PutUint32(b[urbOffErrCount:], 0)
	p, err := io.Arg().Resolve(0, 8)
	if err != nil || p == nil {
		return 0, syscall.EFAULT
	}
	p.SetPtr(0, u.mem)
	return 0, 0
}

// kickIn wakes the IN pump (an URB or a burst to send).
func (f *Function) kickIn() {
	f.mu.Lock()
	s := f.sess
	f.mu.Unlock()
	if s != nil {
		s.signalIRQ()
	}
}
