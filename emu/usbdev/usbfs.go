package usbdev

import (
	"bytes"
	"context"
	"sync"
	"syscall"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// usbfs is what the Linux kernel's usbfs does in front of a USB device, written once for
// both devices of this package (Function, FTDI embed it): the clients (opens of the device
// node) and the URBs they submit, reap and discard; the interfaces, claimed by a client or
// held by a kernel driver until a client detaches it; and the usbdevfs ioctls that reach
// them. What differs between devices — their endpoints, what becomes of an URB once usbfs
// accepted it — they answer through usbfsDevice.
//
// mu guards the engine, and the device's own state too: a device's hooks run with it held
// (those named ...Locked), so that an URB and what the device did with it change together.
type usbfs struct {
	dev usbfsDevice

	mu       sync.Mutex
	clients  map[ClientID]*client
	owner    []*client // the client that claimed each interface
	kernel   []bool    // the kernel driver holds each interface
	driver   string    // the kernel driver that binds to the interfaces; "": none does
	notify   Ready
	gone     bool // unplugged
	ready    bool // some client has URBs to reap
	urbMem   int  // buffer bytes of the URBs submitted and not yet reaped
	detaches int  // the kernel driver detached from an interface
	attaches int  // the kernel driver bound to an interface again
}

// usbfsDevice is a device behind usbfs: its endpoints, and what it does with the URBs usbfs
// accepted for it. The methods named ...Locked run with usbfs.mu held.
type usbfsDevice interface {
	// bulkEndpoint says whether ep is one of the device's bulk endpoints, and on which
	// interface (a bulk URB claims it for its client, as usbfs does).
	bulkEndpoint(ep uint8) (intf int, ok bool)
	// controlIntf says which interface a control request needs, if any (claimed likewise).
	controlIntf(s setup) (intf int, ok bool)
	// takeLocked takes an URB usbfs accepted (bulk, or control on endpoint 0; registered
	// with its client): the device completes it with completeLocked, now or later.
	takeLocked(u *urb)
	// taken follows takeLocked once mu is released, before the SUBMITURB ioctl completes.
	taken(u *urb)
	// cancelLocked takes a discarded URB off the device's queues and completes it (ENOENT,
	// with what it transferred); EINVAL if it cannot be discarded.
	cancelLocked(u *urb) syscall.Errno
	// forgetLocked drops the URBs of a client that went away from the device's queues; what
	// it returns (if not nil) runs once mu is released.
	forgetLocked(c *client) func()
	// unpluggedLocked fails every URB in flight with ESHUTDOWN.
	unpluggedLocked()
	// haltClearedLocked: a client cleared a halt on ep (a bulk endpoint; its interface is
	// claimed).
	haltClearedLocked(ep uint8)
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
	cancel  context.CancelFunc // Function's OUT: stops the pump's wait for ring space
	outUsed int                // Function's OUT: bytes the board accepted
}

// release lets the client's memory of an URB go.
func (u *urb) release() {
	u.mem.Release()
	if u.buf != nil {
		u.buf.Release()
	}
}

// in says whether data goes to the client.
func (u *urb) in() bool {
	return u.ep&regmap.USBDirIn != 0 || u.typ == urbTypeControl && u.setup.in()
}

// dataBuf is where an IN control request's data goes.
func (u *urb) dataBuf() []byte {
	if !u.setup.in() {
		return nil
	}
	if u.data == nil {
		u.data = make([]byte, u.setup.length)
	}
	return u.data[:u.setup.length]
}

// init sets up the engine for dev, with the given number of interfaces, all held by the
// kernel driver named (none: "") until a client detaches it.
func (e *usbfs) init(dev usbfsDevice, interfaces int, driver string, notify Ready) {
	e.dev, e.driver, e.notify = dev, driver, notify
	e.clients = map[ClientID]*client{}
	e.owner = make([]*client, interfaces)
	e.kernel = make([]bool, interfaces)
	for i := range e.kernel {
		e.kernel[i] = driver != ""
	}
}

// setReady sets who is told about reapable URBs, and tells it now.
func (e *usbfs) setReady(r Ready) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notify = r
	if r != nil {
		r.SetReady(e.ready)
		if e.gone {
			r.Gone()
		}
	}
}

func (e *usbfs) isGone() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gone
}

// Outstanding returns the URBs submitted and not yet reaped, over all clients: zero when a
// host left nothing behind.
func (e *usbfs) Outstanding() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.clients {
		n += len(c.pending) + len(c.reap)
	}
	return n
}

// Clients returns the number of clients connected.
func (e *usbfs) Clients() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.clients)
}

// Driver says who holds interface intf: the kernel driver (by its name), "usbfs" (a
// client), or "".
func (e *usbfs) Driver(intf int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.driverLocked(intf)
}

func (e *usbfs) driverLocked(intf int) string {
	switch {
	case e.kernel[intf]:
		return e.driver
	case e.owner[intf] != nil:
		return "usbfs"
	}
	return ""
}

// unplugLocked removes the device as pulling its cable does: the device fails what is in
// flight with ESHUTDOWN (it can still be reaped), every later request gets ENODEV, and Ready
// is told. It reports whether the device was there.
func (e *usbfs) unplugLocked() bool {
	if e.gone {
		return false
	}
	e.gone = true
	e.dev.unpluggedLocked()
	if e.notify != nil {
		e.notify.Gone()
	}
	return true
}

// Connect registers a client (an open of the device node).
func (e *usbfs) Connect(id ClientID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clientLocked(id)
}

func (e *usbfs) clientLocked(id ClientID) *client {
	c := e.clients[id]
	if c == nil {
		c = &client{id: id, pending: map[uint64]*urb{}}
		e.clients[id] = c
	}
	return c
}

// Disconnect forgets a client (it closed the device node or died): its interfaces are
// released (the kernel does not give them back to its driver: libusb does, when it released
// them itself) and its URBs dropped.
func (e *usbfs) Disconnect(id ClientID) {
	e.mu.Lock()
	c := e.clients[id]
	if c == nil {
		e.mu.Unlock()
		return
	}
	delete(e.clients, id)
	for i := range e.owner {
		if e.owner[i] == c {
			e.owner[i] = nil
		}
	}
	after := e.dev.forgetLocked(c)
	var mems []Mem
	for _, u := range c.pending {
		mems = append(mems, u.mem, u.buf)
		e.urbMem -= u.bufLen
	}
	for _, u := range c.reap {
		mems = append(mems, u.mem, u.buf)
		e.urbMem -= u.bufLen
	}
	c.pending, c.reap = nil, nil
	e.updateReadyLocked()
	e.mu.Unlock()
	for _, m := range mems {
		if m != nil {
			m.Release()
		}
	}
	if after != nil {
		after()
	}
}

// completeLocked gives an URB back to its client, to reap.
func (e *usbfs) completeLocked(u *urb, status int32, actual int) {
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
	e.updateReadyLocked()
}

func (e *usbfs) updateReadyLocked() {
	ready := false
	for _, c := range e.clients {
		if len(c.reap) > 0 {
			ready = true
			break
		}
	}
	if ready != e.ready {
		e.ready = ready
		if e.notify != nil {
			e.notify.SetReady(ready)
		}
	}
}

// Ioctl answers one usbdevfs ioctl of client id. Every request completes before Ioctl
// returns; URBs complete later, to be reaped.
func (e *usbfs) Ioctl(id ClientID, io Ioctl) {
	ret, errno := e.ioctl(id, io)
	if errno != 0 {
		io.Complete(-1, errno)
		return
	}
	io.Complete(ret, 0)
}

// argSize is the size of the argument of each request that has one to read.
var argSize = map[uint32]int{ioctlGetCapabilities: 4, ioctlClaimInterface: 4, ioctlReleaseIntf: 4, ioctlSetConfig: 4,
	ioctlClearHalt: 4, ioctlSetInterface: 8, ioctlGetDriver: getDriverSize, ioctlIoctl: usbfsIoctlSize,
	ioctlDisconnectClaim: disconnectClaimSize}

func (e *usbfs) ioctl(id ClientID, io Ioctl) (int, syscall.Errno) {
	req := io.Request()
	switch req {
	case ioctlSubmitURB:
		return e.submit(id, io)
	case ioctlReapURBNDelay:
		return e.reap(id, io)
	case ioctlDiscardURB:
		return e.discard(id, le.Uint64(io.Arg().Bytes()))
	case ioctlReapURB:
		return 0, syscall.ENOTTY // libusb reaps with REAPURBNDELAY only
	}
	// As the kernel's usbdev_do_ioctl: a device gone refuses everything but reaping, before
	// the argument is looked at.
	if e.isGone() {
		return 0, syscall.ENODEV
	}
	size := argSize[req]
	if size == 0 {
		return 0, syscall.ENOTTY
	}
	// The argument is resolved (read from the client) before the lock is taken.
	m, err := io.Arg().Resolve(0, size)
	if err != nil || m == nil {
		return 0, syscall.EFAULT
	}
	b := m.Bytes()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gone {
		return 0, syscall.ENODEV
	}
	c := e.clientLocked(id)
	switch req {
	case ioctlGetCapabilities:
		le.PutUint32(b, capabilities)
		return 0, 0
	case ioctlClaimInterface:
		n := le.Uint32(b)
		if int(n) >= len(e.owner) {
			return 0, syscall.EINVAL
		}
		return 0, e.claimLocked(c, int(n))
	case ioctlReleaseIntf:
		n := le.Uint32(b)
		if int(n) >= len(e.owner) || e.owner[n] != c {
			return 0, syscall.EINVAL
		}
		e.owner[n] = nil
		return 0, 0
	case ioctlSetConfig:
		// Each device has one configuration, 1; -1 and 0 unconfigure.
		if v := int32(le.Uint32(b)); v != 1 && v != -1 && v != 0 {
			return 0, syscall.EINVAL
		}
		for i := range e.owner {
			if e.kernel[i] || e.owner[i] != nil && e.owner[i] != c {
				return 0, syscall.EBUSY
			}
		}
		return 0, 0
	case ioctlClearHalt:
		ep := uint8(le.Uint32(b))
		n, ok := e.dev.bulkEndpoint(ep)
		if !ok {
			return 0, syscall.ENOENT
		}
		if errno := e.claimLocked(c, n); errno != 0 {
			return 0, errno
		}
		e.dev.haltClearedLocked(ep)
		return 0, 0
	case ioctlSetInterface:
		if errno := e.claimLocked(c, int(le.Uint32(b))); errno != 0 {
			return 0, errno
		}
		if le.Uint32(b[4:]) != 0 {
			return 0, syscall.EINVAL // one alternate setting, 0
		}
		return 0, 0
	case ioctlGetDriver:
		n := le.Uint32(b)
		if int(n) >= len(e.owner) {
			return 0, syscall.EINVAL
		}
		d := e.driverLocked(int(n))
		if d == "" {
			return 0, syscall.ENODATA
		}
		clear(b[4:])
		copy(b[4:], d)
		return 0, 0
	case ioctlIoctl:
		n, code := le.Uint32(b), le.Uint32(b[4:])
		if int(n) >= len(e.owner) {
			return 0, syscall.EINVAL
		}
		switch code {
		case subDisconnect:
			switch {
			case e.kernel[n]:
				e.kernel[n] = false
				e.detaches++
			case e.owner[n] != nil:
				e.owner[n] = nil // the kernel takes it from usbfs too
			default:
				return 0, syscall.ENODATA
			}
			return 0, 0
		case subConnect:
			if e.kernel[n] || e.owner[n] != nil {
				return 0, syscall.EBUSY
			}
			if e.driver == "" {
				return 0, 0 // no driver wants it
			}
			e.kernel[n] = true
			e.attaches++
			return 1, 0
		}
		return 0, syscall.ENOTTY
	case ioctlDisconnectClaim:
		n, flags := le.Uint32(b), le.Uint32(b[4:])
		if int(n) >= len(e.owner) {
			return 0, syscall.EINVAL
		}
		name := b[8:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if d := e.driverLocked(int(n)); d != "" && e.owner[n] != c {
			if flags&claimIfDriver != 0 && d != string(name) || flags&claimExceptDriver != 0 && d == string(name) {
				return 0, syscall.EBUSY
			}
			if e.kernel[n] {
				e.kernel[n] = false
				e.detaches++
			} else {
				e.owner[n] = nil
			}
		} else if e.owner[n] == c && flags&claimExceptDriver != 0 && string(name) == "usbfs" {
			return 0, syscall.EBUSY
		}
		return 0, e.claimLocked(c, int(n))
	}
	return 0, syscall.ENOTTY
}

// claimLocked claims interface n for c, as usbfs does (also for a client that uses an
// interface without claiming it): EBUSY while the kernel driver or another client holds it.
func (e *usbfs) claimLocked(c *client, n int) syscall.Errno {
	if n < 0 || n >= len(e.owner) {
		return syscall.ENOENT
	}
	if e.owner[n] == c {
		return 0
	}
	if e.kernel[n] || e.owner[n] != nil {
		return syscall.EBUSY
	}
	e.owner[n] = c
	return 0
}

// submit takes an URB: it checks it as usbfs does, copies what goes out, and hands it to
// the device.
func (e *usbfs) submit(id ClientID, io Ioctl) (int, syscall.Errno) {
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
	intf, bulk := e.dev.bulkEndpoint(u.ep)
	switch {
	case u.typ == urbTypeControl && u.ep == 0:
		if u.bufLen < setupPacketSize {
			return 0, syscall.EINVAL
		}
	case u.typ == urbTypeBulk && bulk:
	case u.typ == urbTypeBulk || u.typ == urbTypeIntr || u.typ == urbTypeISO || u.typ == urbTypeControl:
		return 0, syscall.ENOENT // no such endpoint
	default:
		return 0, syscall.EINVAL
	}
	in := u.ep&regmap.USBDirIn != 0
	if u.typ == urbTypeControl || !in && u.bufLen > 0 {
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
			if !u.setup.in() {
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
	e.mu.Lock()
	if errno := e.acceptLocked(id, u, intf); errno != 0 {
		e.mu.Unlock()
		u.release()
		return 0, errno
	}
	e.dev.takeLocked(u)
	e.mu.Unlock()
	e.dev.taken(u)
	return 0, 0
}

// acceptLocked registers u with client id, unless the device is gone, the client has an
// URB at that address, the URBs in flight would use too much memory, or the interface the
// URB needs is not the client's to claim.
func (e *usbfs) acceptLocked(id ClientID, u *urb, intf int) syscall.Errno {
	if e.gone {
		return syscall.ENODEV
	}
	c := e.clientLocked(id)
	if _, dup := c.pending[u.addr]; dup {
		return syscall.EBUSY
	}
	if e.urbMem+u.bufLen > maxURBMemory {
		return syscall.ENOMEM
	}
	if u.typ == urbTypeControl {
		var ok bool
		if intf, ok = e.dev.controlIntf(u.setup); !ok {
			intf = -1
		}
	}
	if intf >= 0 {
		if errno := e.claimLocked(c, intf); errno != 0 {
			return errno
		}
	}
	u.c = c
	c.pending[u.addr] = u
	e.urbMem += u.bufLen
	return 0
}

// discard cancels an URB: it completes with ENOENT and whatever it transferred.
func (e *usbfs) discard(id ClientID, addr uint64) (int, syscall.Errno) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.clients[id]
	if c == nil {
		return 0, syscall.EINVAL
	}
	u := c.pending[addr]
	if u == nil {
		return 0, syscall.EINVAL // completed already, or never submitted
	}
	return 0, e.dev.cancelLocked(u)
}

// reap hands back the oldest completed URB of the client, EAGAIN if none (ENODEV once the
// device is gone and nothing is left).
func (e *usbfs) reap(id ClientID, io Ioctl) (int, syscall.Errno) {
	e.mu.Lock()
	c := e.clientLocked(id)
	if len(c.reap) == 0 {
		gone := e.gone
		e.mu.Unlock()
		if gone {
			return 0, syscall.ENODEV
		}
		return 0, syscall.EAGAIN
	}
	u := c.reap[0]
	c.reap = c.reap[1:]
	e.urbMem -= u.bufLen
	e.updateReadyLocked()
	e.mu.Unlock()
	return 0, writeBack(u, io)
}

// writeBack puts a reaped URB's status, length and IN data into the client's memory and
// hands the client its URB.
func writeBack(u *urb, io Ioctl) syscall.Errno {
	defer u.release()
	if u.in() && u.actual > 0 {
		if u.typ == urbTypeControl {
			copy(u.buf.Bytes()[setupPacketSize:], u.data[:u.actual])
		} else {
			buf, err := u.mem.Resolve(urbOffBuffer, u.actual)
			if err != nil || buf == nil {
				return syscall.EFAULT
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
		return syscall.EFAULT
	}
	p.SetPtr(0, u.mem)
	return 0
}
