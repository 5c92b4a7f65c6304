package usbdev

import (
	"bytes"
	"syscall"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The FT2232H's usbdevfs side: what the kernel's usbfs does in front of it, and its
// ftdi_sio driver bound to both interfaces until a client detaches it.

// The usbdevfs requests that only the FT2232H's clients use (kernel drivers bound to its
// interfaces), on 64-bit machines.
const (
	ioctlIoctl           = 0xc0105512 // USBDEVFS_IOCTL, struct usbdevfs_ioctl
	ioctlDisconnectClaim = 0x8108551b // USBDEVFS_DISCONNECT_CLAIM
	subDisconnect        = 0x5516     // USBDEVFS_DISCONNECT, inside USBDEVFS_IOCTL
	subConnect           = 0x5517     // USBDEVFS_CONNECT
	claimIfDriver        = 0x01
	claimExceptDriver    = 0x02
	getDriverSize        = 4 + 256
	disconnectClaimSize  = 8 + 256
	usbfsIoctlSize       = 16
)

// Connect registers a client (an open of the device node).
func (f *FTDI) Connect(id ClientID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clientLocked(id)
}

func (f *FTDI) clientLocked(id ClientID) *client {
	c := f.clients[id]
	if c == nil {
		c = &client{id: id, pending: map[uint64]*urb{}}
		f.clients[id] = c
	}
	return c
}

// Disconnect forgets a client: its interfaces are released (the kernel does not give them
// back to ftdi_sio: libusb does, when it released them itself) and its URBs dropped.
func (f *FTDI) Disconnect(id ClientID) {
	f.mu.Lock()
	c := f.clients[id]
	if c == nil {
		f.mu.Unlock()
		return
	}
	delete(f.clients, id)
	for i := range f.owner {
		if f.owner[i] == c {
			f.owner[i] = nil
		}
	}
	var mems []Mem
	for _, u := range c.pending {
		if x := f.xfers[u]; x != nil {
			delete(f.xfers, u)
			x.onDone = nil
			f.dequeue(x)
			f.complete(x, syscall.ENOENT)
		}
		mems = append(mems, u.mem, u.buf)
		f.urbMem -= u.bufLen
	}
	for _, u := range c.reap {
		mems = append(mems, u.mem, u.buf)
		f.urbMem -= u.bufLen
	}
	c.pending, c.reap = nil, nil
	f.updateReadyLocked()
	f.mu.Unlock()
	for _, m := range mems {
		if m != nil {
			m.Release()
		}
	}
}

// dequeue takes a transfer off its channel's queue.
func (f *FTDI) dequeue(x *ftdiXfer) {
	for _, c := range f.ch {
		for _, q := range []*[]*ftdiXfer{&c.outq, &c.inq} {
			for i, y := range *q {
				if y == x {
					*q = append((*q)[:i:i], (*q)[i+1:]...)
					return
				}
			}
		}
	}
}

// Ioctl answers one usbdevfs ioctl of client id. Every request completes at once; bulk URBs
// complete later, to be reaped.
func (f *FTDI) Ioctl(id ClientID, io Ioctl) {
	ret, errno := f.ioctl(id, io)
	if errno != 0 {
		io.Complete(-1, errno)
		return
	}
	io.Complete(ret, 0)
}

func (f *FTDI) ioctl(id ClientID, io Ioctl) (int, syscall.Errno) {
	req := io.Request()
	switch req {
	case ioctlSubmitURB:
		return f.submit(id, io)
	case ioctlReapURBNDelay:
		return f.reap(id, io)
	case ioctlDiscardURB:
		return f.discard(id, le.Uint64(io.Arg().Bytes()))
	case ioctlReapURB:
		return 0, syscall.ENOTTY // libusb reaps with REAPURBNDELAY only
	}
	// The argument is resolved (read from the client) before the lock is taken.
	size := map[uint32]int{ioctlGetCapabilities: 4, ioctlClaimInterface: 4, ioctlReleaseIntf: 4, ioctlSetConfig: 4,
		ioctlClearHalt: 4, ioctlSetInterface: 8, ioctlGetDriver: getDriverSize, ioctlIoctl: usbfsIoctlSize,
		ioctlDisconnectClaim: disconnectClaimSize}[req]
	if size == 0 {
		return 0, syscall.ENOTTY
	}
	m, err := io.Arg().Resolve(0, size)
	if err != nil || m == nil {
		return 0, syscall.EFAULT
	}
	arg := func(int) ([]byte, syscall.Errno) { return m.Bytes(), 0 }
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return 0, syscall.ENODEV
	}
	c := f.clientLocked(id)
	switch req {
	case ioctlGetCapabilities:
		b, errno := arg(4)
		if errno == 0 {
			le.PutUint32(b, capabilities)
		}
		return 0, errno
	case ioctlClaimInterface, ioctlReleaseIntf, ioctlSetConfig, ioctlClearHalt:
		b, errno := arg(4)
		if errno != 0 {
			return 0, errno
		}
		return 0, f.simpleLocked(c, req, le.Uint32(b))
	case ioctlSetInterface:
		b, errno := arg(8)
		if errno != 0 {
			return 0, errno
		}
		if errno := f.claimLocked(c, int(le.Uint32(b))); errno != 0 {
			return 0, errno
		}
		if le.Uint32(b[4:]) != 0 {
			return 0, syscall.EINVAL
		}
		return 0, 0
	case ioctlGetDriver:
		b, errno := arg(getDriverSize)
		if errno != 0 {
			return 0, errno
		}
		n := le.Uint32(b)
		if n > 1 {
			return 0, syscall.EINVAL
		}
		d := f.driverLocked(int(n))
		if d == "" {
			return 0, syscall.ENODATA
		}
		clear(b[4:])
		copy(b[4:], d)
		return 0, 0
	case ioctlIoctl:
		b, errno := arg(usbfsIoctlSize)
		if errno != 0 {
			return 0, errno
		}
		n, code := le.Uint32(b), le.Uint32(b[4:])
		if n > 1 {
			return 0, syscall.EINVAL
		}
		switch code {
		case subDisconnect:
			switch {
			case f.kernel[n]:
				f.kernel[n] = false
				f.stats.Detaches++
			case f.owner[n] != nil:
				f.owner[n] = nil // the kernel takes it from usbfs too
			default:
				return 0, syscall.ENODATA
			}
			return 0, 0
		case subConnect:
			if f.kernel[n] || f.owner[n] != nil {
				return 0, syscall.EBUSY
			}
			if f.opts.NoKernelDriver {
				return 0, 0 // no driver wants it
			}
			f.kernel[n] = true
			f.stats.Attaches++
			return 1, 0
		}
		return 0, syscall.ENOTTY
	case ioctlDisconnectClaim:
		b, errno := arg(disconnectClaimSize)
		if errno != 0 {
			return 0, errno
		}
		n, flags := le.Uint32(b), le.Uint32(b[4:])
		if n > 1 {
			return 0, syscall.EINVAL
		}
		name := b[8:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if d := f.driverLocked(int(n)); d != "" && f.owner[n] != c {
			if flags&claimIfDriver != 0 && d != string(name) || flags&claimExceptDriver != 0 && d == string(name) {
				return 0, syscall.EBUSY
			}
			if f.kernel[n] {
				f.kernel[n] = false
				f.stats.Detaches++
			} else {
				f.owner[n] = nil
			}
		} else if f.owner[n] == c && flags&claimExceptDriver != 0 && string(name) == "usbfs" {
			return 0, syscall.EBUSY
		}
		return 0, f.claimLocked(c, int(n))
	}
	return 0, syscall.ENOTTY
}

// claimLocked claims interface n for c, as usbfs does (also for a client that uses an
// interface without claiming it): EBUSY while a kernel driver or another client holds it.
func (f *FTDI) claimLocked(c *client, n int) syscall.Errno {
	if n < 0 || n > 1 {
		return syscall.ENOENT
	}
	if f.owner[n] == c {
		return 0
	}
	if f.kernel[n] || f.owner[n] != nil {
		return syscall.EBUSY
	}
	f.owner[n] = c
	return 0
}

func (f *FTDI) simpleLocked(c *client, req, v uint32) syscall.Errno {
	switch req {
	case ioctlClaimInterface:
		if v > 1 {
			return syscall.EINVAL
		}
		return f.claimLocked(c, int(v))
	case ioctlReleaseIntf:
		if v > 1 || f.owner[v] != c {
			return syscall.EINVAL
		}
		f.owner[v] = nil
	case ioctlSetConfig:
		if int32(v) != 1 && int32(v) != -1 && v != 0 {
			return syscall.EINVAL
		}
		for i := range f.owner {
			if f.kernel[i] || f.owner[i] != nil && f.owner[i] != c {
				return syscall.EBUSY
			}
		}
	case ioctlClearHalt:
		ch, _, ok := f.channelOf(uint8(v))
		if !ok {
			return syscall.ENOENT
		}
		return f.claimLocked(c, ch.idx)
	}
	return 0
}

// submit takes an URB: control requests are answered at once, bulk URBs join their
// channel's queue.
func (f *FTDI) submit(id ClientID, io Ioctl) (int, syscall.Errno) {
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
	ch, in, bulk := f.channelOf(u.ep)
	switch {
	case u.typ == urbTypeControl && u.ep == 0:
		if u.bufLen < setupPacketSize {
			return 0, syscall.EINVAL
		}
	case u.typ == urbTypeBulk && bulk:
	case u.typ == urbTypeBulk || u.typ == urbTypeIntr || u.typ == urbTypeISO || u.typ == urbTypeControl:
		return 0, syscall.ENOENT
	default:
		return 0, syscall.EINVAL
	}
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
	release := func() {
		u.mem.Release()
		if u.buf != nil {
			u.buf.Release()
		}
	}
	var resp []byte
	var cerr error
	if u.typ == urbTypeControl {
		// Answered before taking the lock: vendor requests take it themselves.
		if f.isGone() {
			release()
			return 0, syscall.ENODEV
		}
		resp, cerr = f.control(u.setup, u.data)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(errno syscall.Errno) (int, syscall.Errno) {
		release()
		return 0, errno
	}
	if f.gone {
		return fail(syscall.ENODEV)
	}
	c := f.clientLocked(id)
	if _, dup := c.pending[addr]; dup {
		return fail(syscall.EBUSY)
	}
	if f.urbMem+u.bufLen > maxURBMemory {
		return fail(syscall.ENOMEM)
	}
	if u.typ == urbTypeBulk {
		if errno := f.claimLocked(c, ch.idx); errno != 0 {
			return fail(errno)
		}
	}
	u.c = c
	c.pending[addr] = u
	f.urbMem += u.bufLen
	if u.typ == urbTypeControl {
		f.stats.ControlURBs++
		if cerr != nil {
			f.finishURB(u, -int32(syscall.EPIPE), 0)
		} else {
			n := 0
			if u.setup.in() {
				u.data = make([]byte, u.setup.length)
				n = copy(u.data, resp)
			}
			f.finishURB(u, 0, n)
		}
		return 0, 0
	}
	x := &ftdiXfer{data: u.data, onDone: func(x *ftdiXfer) {
		delete(f.xfers, u)
		f.finishURB(u, -int32(x.errno), x.n)
	}}
	f.xfers[u] = x
	if in {
		f.stats.InURBs++
		ch.inq = append(ch.inq, x)
	} else {
		f.stats.OutURBs++
		ch.outq = append(ch.outq, x)
	}
	ch.pump()
	return 0, 0
}

func (f *FTDI) isGone() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gone
}

// finishURB gives an URB back to its client, to reap.
func (f *FTDI) finishURB(u *urb, status int32, actual int) {
	if u.done {
		return
	}
	u.done, u.status, u.actual = true, status, actual
	c := u.c
	if c.pending == nil { // the client is gone
		return
	}
	delete(c.pending, u.addr)
	c.reap = append(c.reap, u)
	f.updateReadyLocked()
}

// discard cancels an URB: it completes with ENOENT and what it transferred.
func (f *FTDI) discard(id ClientID, addr uint64) (int, syscall.Errno) {
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
	x := f.xfers[u]
	if x == nil {
		return 0, syscall.EINVAL
	}
	f.dequeue(x)
	f.complete(x, syscall.ENOENT)
	return 0, 0
}

// reap hands back the oldest completed URB of the client (EAGAIN if none; ENODEV once the
// device is gone and nothing is left).
func (f *FTDI) reap(id ClientID, io Ioctl) (int, syscall.Errno) {
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
	return 0, writeBack(u, io)
}

// writeBack puts a reaped URB's status, length and IN data into the client's memory and
// hands the client its URB.
func writeBack(u *urb, io Ioctl) syscall.Errno {
	defer func() {
		u.mem.Release()
		if u.buf != nil {
			u.buf.Release()
		}
	}()
	in := u.ep&regmap.USBDirIn != 0 || u.typ == urbTypeControl && u.setup.in()
	if in && u.actual > 0 {
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
