package vfiodev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// UserOpts configures DialUser. The zero value gives the documented defaults.
type UserOpts struct {
	// Timeout bounds every request that waits for its reply. Default DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is UserOpts.Timeout's default.
const DefaultTimeout = 5 * time.Second

// closeWait bounds how long Close waits for the server to let go.
const closeWait = time.Second

// userIOVABase is where the client puts its DMA windows when asked to choose: any address
// does for a server that maps the memory files.
const userIOVABase = 1 << 32

// userDev is a PCI function served over vfio-user.
type userDev struct {
	what    string
	uc      *net.UnixConn
	c       *vfiouser.Conn
	timeout time.Duration
	info    vfio.DeviceInfo
	server  vfiouser.Capabilities

	mu        sync.Mutex
	nextID    uint16
	pending   map[uint16]chan vfiouser.Message
	abandoned map[uint16]bool // requests given up on: a late reply is dropped
	windows   []*DMA
	nextIOVA  uint64
	fds       []int // region descriptors handed out, closed at Close

	failed  atomic.Pointer[error]
	goneFd  int // eventfd: fired when the connection ends
	done    chan struct{}
	closeMu sync.Once
}

// DialUser connects to the vfio-user server at path and negotiates the protocol version.
func DialUser(ctx context.Context, path string, opts UserOpts) (Device, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	what := "vfio-user:" + path
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errorf("%s: connect: %w", what, ErrTimeout)
		}
		return nil, errorf("%s: %v: %w", what, err, ErrNotFound)
	}
	return NewUser(ctx, c.(*net.UnixConn), what, opts)
}

// NewUser speaks vfio-user on a connected stream socket (a server at the other end); it
// owns the socket from then on. what names the device in errors.
func NewUser(ctx context.Context, conn *net.UnixConn, what string, opts UserOpts) (Device, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	u := &userDev{what: what, uc: conn, c: vfiouser.NewConn(conn), timeout: opts.Timeout, pending: map[uint16]chan vfiouser.Message{},
		abandoned: map[uint16]bool{}, nextIOVA: userIOVABase, goneFd: -1, done: make(chan struct{})}
	u.c.SetSendTimeout(opts.Timeout)
	var err error
	if u.goneFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		conn.Close()
		return nil, errorf("%s: eventfd: %w", what, err)
	}
	if err := u.negotiate(ctx); err != nil {
		conn.Close()
		unix.Close(u.goneFd)
		return nil, err
	}
	go u.reader()
	m, err := u.call(vfiouser.CmdDeviceGetInfo, vfiouser.DeviceInfoRequest(), nil)
	if err == nil {
		u.info, err = vfiouser.DecodeDeviceInfo(m.Payload)
		if err != nil {
			err = u.protocol("%v", err)
		}
	}
	if err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// negotiate exchanges VERSION before the reader runs.
func (u *userDev) negotiate(ctx context.Context) error {
	deadline := time.Now().Add(u.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	u.uc.SetDeadline(deadline)
	defer u.uc.SetDeadline(time.Time{})
	mine := vfiouser.Version{Major: vfiouser.MajorVersion, Minor: vfiouser.MinorVersion,
		Caps: vfiouser.Capabilities{MaxMsgFds: vfiouser.MaxFds, MaxDataXferSize: vfiouser.DefaultMaxDataXfer}}
	if err := u.c.Send(vfiouser.Header{ID: 0, Command: vfiouser.CmdVersion}, mine.Append(nil), nil); err != nil {
		return errorf("%s: VERSION: %v: %w", u.what, err, ErrGone)
	}
	m, err := u.c.Receive()
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errorf("%s: VERSION: no reply in %v: %w", u.what, u.timeout, ErrTimeout)
		}
		if errors.Is(err, vfiouser.ErrMalformed) {
			return errorf("%s: VERSION: %v: %w", u.what, err, ErrProtocol)
		}
		return errorf("%s: VERSION: %v: %w", u.what, err, ErrGone)
	}
	vfiouser.CloseFds(m.Fds)
	if !m.IsReply() || m.Command != vfiouser.CmdVersion || m.ID != 0 || len(m.Fds) != 0 {
		return errorf("%s: the answer to VERSION is %s (id %d, reply %v, %d descriptors): %w", u.what, m.Command, m.ID, m.IsReply(), len(m.Fds), ErrProtocol)
	}
	if m.Flags&vfiouser.FlagError != 0 {
		if unix.Errno(m.Error) == unix.EBUSY {
			return errorf("%s: the server serves another host: %w", u.what, ErrBusy)
		}
		return errorf("%s: the server refused VERSION %d.%d: %v: %w", u.what, mine.Major, mine.Minor, unix.Errno(m.Error), ErrProtocol)
	}
	v, err := vfiouser.DecodeVersion(m.Payload)
	if err != nil {
		return errorf("%s: %v: %w", u.what, err, ErrProtocol)
	}
	if v.Major != mine.Major || v.Minor > mine.Minor {
		return errorf("%s: the server answers version %d.%d to %d.%d: %w", u.what, v.Major, v.Minor, mine.Major, mine.Minor, ErrProtocol)
	}
	u.server = v.Caps
	return nil
}

func (u *userDev) String() string        { return u.what }
func (u *userDev) Info() vfio.DeviceInfo { return u.info }

// fail records the first fatal error and wakes whoever waits.
func (u *userDev) fail(err error) {
	if u.failed.CompareAndSwap(nil, &err) {
		var b [8]byte
		b[0] = 1
		unix.Write(u.goneFd, b[:])
	}
}

func (u *userDev) protocol(format string, args ...any) error {
	err := errorf("%s: %s: %w", u.what, fmt.Sprintf(format, args...), ErrProtocol)
	u.fail(err)
	return err
}

// Gone implements Device.
func (u *userDev) Gone() error {
	if p := u.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// GoneFd implements Device.
func (u *userDev) GoneFd() int { return u.goneFd }

// reader takes every message off the socket: replies go to their requests, the server's
// DMA requests are served from the windows, anything else is a protocol violation.
func (u *userDev) reader() {
	defer close(u.done)
	for {
		m, err := u.c.Receive()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
				u.fail(errorf("%s: the server closed the connection (its process exited?): %w", u.what, ErrGone))
			case errors.Is(err, vfiouser.ErrMalformed), errors.Is(err, vfiouser.ErrTruncated):
				u.protocol("%v", err)
			default:
				u.fail(errorf("%s: %v: %w", u.what, err, ErrGone))
			}
			u.dropPending()
			return
		}
		if !m.IsReply() {
			u.serve(m)
			continue
		}
		u.mu.Lock()
		ch, ok := u.pending[m.ID]
		delete(u.pending, m.ID)
		late := u.abandoned[m.ID]
		delete(u.abandoned, m.ID)
		u.mu.Unlock()
		if !ok {
			vfiouser.CloseFds(m.Fds)
			if late {
				continue
			}
			u.protocol("a reply (%s) to message %d, which is not outstanding", m.Command, m.ID)
			u.dropPending()
			return // nothing more is read; Close ends the connection
		}
		ch <- m
	}
}

// dropPending ends the requests that wait: their replies will not come.
func (u *userDev) dropPending() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, ch := range u.pending {
		close(ch)
		delete(u.pending, id)
	}
}

// serve answers the server's commands: DMA_READ and DMA_WRITE within the windows. Any other
// command, or an access outside the windows, is a protocol violation (answered, then the
// device fails).
func (u *userDev) serve(m vfiouser.Message) {
	vfiouser.CloseFds(m.Fds)
	reply := func(payload []byte, errno unix.Errno) {
		if m.Flags&vfiouser.FlagNoReply != 0 {
			return
		}
		if errno != 0 {
			u.c.ReplyError(m.Header, errno)
		} else {
			u.c.Reply(m.Header, payload, nil)
		}
	}
	if len(m.Fds) != 0 {
		reply(nil, unix.EINVAL)
		u.protocol("%s from the server with %d descriptors", m.Command, len(m.Fds))
		return
	}
	switch m.Command {
	case vfiouser.CmdDMARead, vfiouser.CmdDMAWrite:
		write := m.Command == vfiouser.CmdDMAWrite
		a, err := vfiouser.DecodeDMAAccess(m.Payload, m.Command.String(), write, vfiouser.DefaultMaxDataXfer)
		if err != nil {
			reply(nil, unix.EINVAL)
			u.protocol("%v", err)
			return
		}
		mem := u.dmaSlice(a.Address, a.Count, write)
		if mem == nil {
			reply(nil, unix.EFAULT)
			u.protocol("the server's %s of %d bytes at %#x is outside the DMA windows", m.Command, a.Count, a.Address)
			return
		}
		if write {
			copy(mem, a.Data)
			a.Data = nil
		} else {
			a.Data = append([]byte(nil), mem...)
		}
		reply(a.Append(nil), 0)
	default:
		reply(nil, unix.ENOSYS)
		u.protocol("the server sent a %s command", m.Command)
	}
}

// dmaSlice returns the memory of [addr, addr+n) if one window holds it (and, for a write,
// lets the device write it).
func (u *userDev) dmaSlice(addr, n uint64, write bool) []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, w := range u.windows {
		if addr >= w.IOVA && n <= w.Size && addr-w.IOVA <= w.Size-n && (w.Write || !write) {
			o := addr - w.IOVA
			return w.Mem[o : o+n]
		}
	}
	return nil
}

// call sends a request and waits for its reply (its descriptors are the caller's). An error
// reply is an error naming the errno.
func (u *userDev) call(cmd vfiouser.Command, payload []byte, fds []int) (vfiouser.Message, error) {
	if err := u.Gone(); err != nil {
		return vfiouser.Message{}, err
	}
	ch := make(chan vfiouser.Message, 1)
	u.mu.Lock()
	id := u.nextID
	for u.pending[id] != nil || u.abandoned[id] {
		id++
	}
	u.nextID = id + 1
	u.pending[id] = ch
	u.mu.Unlock()
	if err := u.sendErr(cmd, u.c.Send(vfiouser.Header{ID: id, Command: cmd}, payload, fds)); err != nil {
		u.mu.Lock()
		delete(u.pending, id)
		u.mu.Unlock()
		return vfiouser.Message{}, err
	}
	t := time.NewTimer(u.timeout)
	defer t.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			return m, u.Gone()
		}
		if m.Command != cmd {
			vfiouser.CloseFds(m.Fds)
			return m, u.protocol("the reply to %s (message %d) says %s", cmd, id, m.Command)
		}
		if m.Flags&vfiouser.FlagError != 0 {
			vfiouser.CloseFds(m.Fds)
			return m, &ErrnoError{What: u.what, Cmd: cmd, Errno: unix.Errno(m.Error)}
		}
		return m, nil
	case <-t.C:
		u.mu.Lock()
		if _, ok := u.pending[id]; ok {
			delete(u.pending, id)
			u.abandoned[id] = true
		}
		u.mu.Unlock()
		return vfiouser.Message{}, errorf("%s: %s: no reply in %v: %w", u.what, cmd, u.timeout, ErrTimeout)
	}
}

// sendErr classifies a failed send: a server that took nothing within the timeout (stopped)
// is slow, not gone; anything else ends the connection.
func (u *userDev) sendErr(cmd vfiouser.Command, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, vfiouser.ErrTruncated) {
		return errorf("%s: %s: the server takes no messages (%v): %w", u.what, cmd, u.timeout, ErrTimeout)
	}
	e := errorf("%s: %s: %v: %w", u.what, cmd, err, ErrGone)
	u.fail(e)
	return e
}

// ErrnoError is a request the server refused, with its errno.
type ErrnoError struct {
	What  string
	Cmd   vfiouser.Command
	Errno unix.Errno
}

func (e *ErrnoError) Error() string {
	return fmt.Sprintf("%s: %s: refused: %v", e.What, e.Cmd, e.Errno)
}

// Unwrap makes errors.Is(err, unix.EINVAL) and the like work.
func (e *ErrnoError) Unwrap() error { return e.Errno }

// noFds checks that a reply brought no descriptors.
func (u *userDev) noFds(m vfiouser.Message) error {
	if len(m.Fds) == 0 {
		return nil
	}
	vfiouser.CloseFds(m.Fds)
	return u.protocol("the reply to %s brought %d descriptors", m.Command, len(m.Fds))
}

// Region implements Device: asked with room for the capabilities, so that a mappable
// region's descriptor comes with the reply.
func (u *userDev) Region(index uint32) (RegionInfo, error) {
	m, err := u.call(vfiouser.CmdDeviceGetRegionInfo, vfiouser.RegionInfoRequest(index, vfiouser.MaxRegionInfo), nil)
	if err != nil {
		return RegionInfo{}, err
	}
	ri, err := vfiouser.DecodeRegionInfo(m.Payload, index)
	if err != nil {
		vfiouser.CloseFds(m.Fds)
		return RegionInfo{}, u.protocol("%v", err)
	}
	r := RegionInfo{Index: index, Flags: ri.Flags, Size: ri.Size, Offset: ri.Offset, Sparse: ri.Sparse, fd: -1}
	switch {
	case len(m.Fds) > 1:
		vfiouser.CloseFds(m.Fds)
		return r, u.protocol("region %d came with %d descriptors", index, len(m.Fds))
	case len(m.Fds) == 1 && r.Flags&vfio.RegionInfoFlagMmap == 0:
		vfiouser.CloseFds(m.Fds)
		return r, u.protocol("region %d came with a descriptor but cannot be mapped", index)
	case len(m.Fds) == 1:
		r.fd = m.Fds[0]
		u.mu.Lock()
		u.fds = append(u.fds, r.fd)
		u.mu.Unlock()
	case r.Flags&vfio.RegionInfoFlagMmap != 0:
		r.Flags &^= vfio.RegionInfoFlagMmap // no descriptor to map: the messages will do
	}
	return r, nil
}

// MapRegion implements Device: the server's memory, mapped read-only (a write to a device
// register has side effects its memory cannot have: writes are messages).
func (u *userDev) MapRegion(r RegionInfo) ([]byte, bool, error) {
	if !r.Mappable() || r.fd < 0 {
		return nil, false, errorf("%s: region %d cannot be mapped", u.what, r.Index)
	}
	var st unix.Stat_t
	if err := unix.Fstat(r.fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || uint64(st.Size) < r.Offset+r.Size || r.Size > 1<<30 {
		return nil, false, u.protocol("region %d's descriptor is not a memory file of %d bytes from %#x", r.Index, r.Size, r.Offset)
	}
	mem, err := unix.Mmap(r.fd, int64(r.Offset), int(r.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false, u.protocol("mapping region %d: %v", r.Index, err)
	}
	return mem, false, nil
}

// ReadRegion implements Device.
func (u *userDev) ReadRegion(index uint32, off uint64, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), int(min(u.server.Xfer(), vfiouser.DefaultMaxDataXfer)))
		m, err := u.call(vfiouser.CmdRegionRead, vfiouser.RegionAccess{Offset: off, Region: index, Count: uint32(n)}.Append(nil), nil)
		if err != nil {
			return err
		}
		if err := u.noFds(m); err != nil {
			return err
		}
		a, err := vfiouser.DecodeRegionAccess(m.Payload, "REGION_READ reply", true, uint32(n))
		if err != nil {
			return u.protocol("%v", err)
		}
		if a.Offset != off || a.Region != index || int(a.Count) != n {
			return u.protocol("REGION_READ of %d bytes of region %d at %#x answered with %d bytes of region %d at %#x", n, index, off, a.Count, a.Region, a.Offset)
		}
		copy(b, a.Data)
		b, off = b[n:], off+uint64(n)
	}
	return nil
}

// WriteRegion implements Device. A posted write asks for no reply.
func (u *userDev) WriteRegion(index uint32, off uint64, b []byte, posted bool) error {
	if len(b) == 0 || uint64(len(b)) > min(u.server.Xfer(), vfiouser.DefaultMaxDataXfer) {
		return errorf("%s: a write of %d bytes", u.what, len(b))
	}
	payload := vfiouser.RegionAccess{Offset: off, Region: index, Count: uint32(len(b)), Data: b}.Append(nil)
	if posted {
		if err := u.Gone(); err != nil {
			return err
		}
		return u.sendErr(vfiouser.CmdRegionWrite, u.c.Send(vfiouser.Header{Command: vfiouser.CmdRegionWrite, Flags: vfiouser.FlagNoReply}, payload, nil))
	}
	m, err := u.call(vfiouser.CmdRegionWrite, payload, nil)
	if err != nil {
		return err
	}
	if err := u.noFds(m); err != nil {
		return err
	}
	a, err := vfiouser.DecodeRegionAccess(m.Payload, "REGION_WRITE reply", false, uint32(len(b)))
	if err != nil {
		return u.protocol("%v", err)
	}
	if a.Offset != off || a.Region != index || int(a.Count) != len(b) {
		return u.protocol("REGION_WRITE of %d bytes of region %d at %#x answered for %d bytes of region %d at %#x", len(b), index, off, a.Count, a.Region, a.Offset)
	}
	return nil
}

// Flush implements Device: a request with a reply (the server takes messages in order, so
// its reply comes after every posted write before it).
func (u *userDev) Flush() error {
	var b [4]byte
	return u.ReadRegion(0, 0, b[:])
}

// IRQCount implements Device.
func (u *userDev) IRQCount(index uint32) (uint32, error) {
	m, err := u.call(vfiouser.CmdDeviceGetIRQInfo, vfiouser.IRQInfoRequest(index), nil)
	if err != nil {
		return 0, err
	}
	if err := u.noFds(m); err != nil {
		return 0, err
	}
	ii, err := vfiouser.DecodeIRQInfo(m.Payload, index)
	if err != nil {
		return 0, u.protocol("%v", err)
	}
	if ii.Count > 0 && ii.Flags&vfio.IRQInfoEventfd == 0 {
		return 0, errorf("%s: interrupt index %d cannot signal eventfds: %w", u.what, index, ErrProtocol)
	}
	return ii.Count, nil
}

// SetIRQs implements Device.
func (u *userDev) SetIRQs(index uint32, fds []int) error {
	set := vfiouser.IRQSet{Flags: vfio.IRQSetDataEventfd | vfio.IRQSetActionTrigger, Index: index, Count: uint32(len(fds))}
	if len(fds) == 0 {
		set.Flags = vfio.IRQSetDataNone | vfio.IRQSetActionTrigger
	}
	if uint64(len(fds)) > u.server.Fds() {
		return errorf("%s: %d eventfds, the server takes %d descriptors a message", u.what, len(fds), u.server.Fds())
	}
	m, err := u.call(vfiouser.CmdDeviceSetIRQs, set.Append(nil), fds)
	if err != nil {
		return err
	}
	return u.noFds(m)
}

// MapDMA implements Device: the window's memory file goes to the server.
func (u *userDev) MapDMA(w *DMA) error {
	u.mu.Lock()
	if w.IOVA == 0 {
		w.IOVA = u.nextIOVA
	}
	u.nextIOVA = max(u.nextIOVA, (w.IOVA+w.Size+1<<21-1)&^(1<<21-1)+1<<21) // a guard gap between windows
	u.mu.Unlock()
	flags := uint32(vfiouser.DMAReadable)
	if w.Write {
		flags |= vfiouser.DMAWriteable
	}
	m, err := u.call(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: flags, Offset: w.Offset, Address: w.IOVA, Size: w.Size}.Append(nil), []int{w.Fd})
	if err != nil {
		return err
	}
	if err := u.noFds(m); err != nil {
		return err
	}
	u.mu.Lock()
	u.windows = append(u.windows, w)
	u.mu.Unlock()
	return nil
}

// UnmapDMA implements Device.
func (u *userDev) UnmapDMA(w *DMA) error {
	u.mu.Lock()
	for i, x := range u.windows {
		if x == w {
			u.windows = append(u.windows[:i], u.windows[i+1:]...)
			break
		}
	}
	u.mu.Unlock()
	m, err := u.call(vfiouser.CmdDMAUnmap, vfiouser.DMAUnmap{Address: w.IOVA, Size: w.Size}.Append(nil), nil)
	if err != nil {
		return err
	}
	if err := u.noFds(m); err != nil {
		return err
	}
	got, err := vfiouser.DecodeDMAUnmap(m.Payload)
	if err != nil {
		return u.protocol("%v", err)
	}
	if got.Address != w.IOVA || got.Size != w.Size {
		return u.protocol("DMA_UNMAP of %s answered for %d bytes at %#x", w, got.Size, got.Address)
	}
	return nil
}

// Reset implements Device.
func (u *userDev) Reset() error {
	m, err := u.call(vfiouser.CmdDeviceReset, nil, nil)
	if err != nil {
		return err
	}
	return u.noFds(m)
}

// Close implements Device: the connection ends (the server drops our windows and eventfds).
func (u *userDev) Close() error {
	u.closeMu.Do(func() {
		// Say goodbye and wait (briefly) for the server's end of file: by then it has let go
		// of the session, so that the next host to connect is not refused as busy.
		if u.uc.CloseWrite() == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-u.done:
			case <-t.C:
			}
			t.Stop()
		}
		u.uc.Close()
		<-u.done
		u.mu.Lock()
		for _, fd := range u.fds {
			unix.Close(fd)
		}
		u.fds = nil
		u.mu.Unlock()
		unix.Close(u.goneFd)
	})
	return nil
}
