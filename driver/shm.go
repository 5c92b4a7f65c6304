package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/hangup"
	"github.com/lrchip/lrchip/runtime/ring"
)

func init() {
	RegisterTransport(TransportEmuUnix, dialUnix)
}

// shmLink is the driver's side of the emulator's shared-memory transport: the board's
// register file and rings mapped here, the doorbell and interrupt eventfds, and the socket
// that tells when the board's process dies.
type shmLink struct {
	conn     *net.UnixConn
	connFd   int
	bar      []byte
	rings    [regmap.NumRings]*ring.Ring
	cmd, in  *ring.Producer
	cpl, out *ring.Consumer
	doorbell int
	irq      int
	bulk     []byte   // the bulk DMA window, mapped read-write
	lock     *devLock // emu:unix: the lock file that keeps other processes off
	onClose  func()   // what the dialer needs done after the link closes (stop an in-process board)
}

// DialShm attaches to a board serving the emulator's shared-memory transport at the other
// end of conn (as emu/board's ServeConn does): it sends the hello with the ring and bulk
// sizes of opts, maps what the board passes and returns the link, which owns conn. what
// names the device in errors. onClose, when not nil, runs after the link is closed.
func DialShm(ctx context.Context, conn *net.UnixConn, opts Opts, what string, onClose func()) (Link, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	hello := regmap.Hello{Version: regmap.ProtocolVersion, PID: uint32(os.Getpid())}
	for i := range hello.RingCap {
		hello.RingCap[i] = uint32(opts.RingCapacity)
	}
	hello.Bulk = uint32(opts.Bulk)
	l, _, err := attachShm(ctx, conn, hello, what)
	if err != nil {
		return nil, err
	}
	l.onClose = onClose
	return l, nil
}

// dialUnix is the emu:unix: transport: an emulator process serving on a Unix socket.
func dialUnix(ctx context.Context, u URI, opts Opts) (Link, error) {
	what := u.String()
	var lock *devLock
	if !opts.NoLock {
		l, err := lockDevice(u.Path+".lock", what)
		if err != nil {
			return nil, err
		}
		lock = l
	}
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unixpacket", u.Path)
	if err != nil {
		lock.unlock()
		if ctx.Err() != nil {
			return nil, ctxError(ctx, what+": connect")
		}
		return nil, errorf("%s: %v: %w", what, err, ErrNotFound)
	}
	l, err := DialShm(ctx, c.(*net.UnixConn), opts, what, nil)
	if err != nil {
		c.Close()
		lock.unlock()
		return nil, err
	}
	l.(*shmLink).lock = lock
	return l, nil
}

// exchangeHello sends h on conn and reads the board's reply and the descriptors that came
// with it. The caller owns the descriptors, even on error.
func exchangeHello(ctx context.Context, conn *net.UnixConn, h regmap.Hello, what string) (regmap.HelloReply, []int, error) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer conn.SetDeadline(time.Time{})
	ctxErr := func(err error) error {
		if ctx.Err() != nil {
			return ctxError(ctx, what+": setup")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errorf("%s: no answer to the setup: %w", what, ErrTimeout)
		}
		return errorf("%s: setup: %v: %w", what, err, ErrGone)
	}
	if _, err := conn.Write(h.Append(nil)); err != nil {
		return regmap.HelloReply{}, nil, ctxErr(err)
	}
	buf := make([]byte, regmap.HelloReplySize+regmap.MaxMessage+1)
	oob := make([]byte, unix.CmsgSpace(4*regmap.SetupFds))
	n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return regmap.HelloReply{}, nil, ctxErr(err)
	}
	var fds []int
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, m := range msgs {
				if r, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, r...)
				}
			}
		}
	}
	if n == 0 {
		return regmap.HelloReply{}, fds, errorf("%s: the board closed the connection during setup: %w", what, ErrGone)
	}
	reply, err := regmap.DecodeHelloReply(buf[:n])
	if err != nil {
		return reply, fds, errorf("%s: %v: %w", what, err, ErrProtocol)
	}
	if flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		return reply, fds, errorf("%s: setup message truncated: %w", what, ErrProtocol)
	}
	return reply, fds, nil
}

// replyError turns a refusal into an error.
func replyError(r regmap.HelloReply, what string) error {
	switch r.Status {
	case regmap.SetupOK:
		return nil
	case regmap.SetupBusy:
		holder := "another process"
		if r.HolderPID != 0 {
			holder = fmt.Sprintf("pid %d", r.HolderPID)
			if r.HolderComm != "" {
				holder += " (" + r.HolderComm + ")"
			}
		}
		return errorf("%s is held by %s: %w", what, holder, ErrBusy)
	case regmap.SetupVersion:
		return errorf("%s speaks protocol %s, this driver speaks %s: %w", what, r.Version, regmap.ProtocolVersion, ErrVersion)
	default:
		return errorf("%s could not set up: %s: %w", what, r.Message, ErrDevice)
	}
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// attachShm sends the hello and maps what the board passes.
func attachShm(ctx context.Context, conn *net.UnixConn, h regmap.Hello, what string) (l *shmLink, reply regmap.HelloReply, err error) {
	reply, fds, err := exchangeHello(ctx, conn, h, what)
	defer closeFds(fds) // rings and the BAR are mapped or duplicated; the eventfds are taken out below
	if err != nil {
		return nil, reply, err
	}
	if err := replyError(reply, what); err != nil {
		return nil, reply, err
	}
	if len(fds) != regmap.SetupFds || reply.NFds != regmap.SetupFds {
		return nil, reply, errorf("%s: setup passed %d descriptors (announced %d), want %d: %w", what, len(fds), reply.NFds, regmap.SetupFds, ErrProtocol)
	}
	// The link as built so far; a failure below releases it (the result is nil then).
	built := &shmLink{conn: conn, connFd: -1, doorbell: -1, irq: -1}
	l = built
	defer func() {
		if err != nil {
			built.close(false)
		}
	}()
	proto := func(format string, args ...any) error {
		return errorf("%s: %s: %w", what, fmt.Sprintf(format, args...), ErrProtocol)
	}
	// The register file: a regular file (memfd) of at least BARSize bytes that cannot shrink
	// (a shrink would make our accesses fault).
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < regmap.BARSize {
		return nil, reply, proto("the register file is not a %d-byte memory file", regmap.BARSize)
	}
	if seals, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GET_SEALS, 0); err != nil || seals&unix.F_SEAL_SHRINK == 0 {
		if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
			return nil, reply, proto("the register file is not sealed against shrinking")
		}
	}
	if l.bar, err = unix.Mmap(fds[0], 0, regmap.BARSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, reply, errorf("%s: mapping the register file: %v: %w", what, err, ErrProtocol)
	}
	for i := range l.rings {
		r, err := ring.Attach(fds[1+i], ring.Opts{Heartbeat: -1})
		if err != nil {
			return nil, reply, proto("ring %s: %v", regmap.Ring(i), err)
		}
		l.rings[i] = r
		ri := regmap.Ring(i)
		if base, size := l.load64(regmap.RingBaseLo(ri)), l.load(regmap.RingSize(ri)); base != uint64(1+i) || int(size) != r.Capacity() {
			return nil, reply, proto("ring %s registers say descriptor %d, %d bytes; it is descriptor %d, %d bytes", ri, base, size, 1+i, r.Capacity())
		}
	}
	if l.cmd, err = l.rings[regmap.RingCmd].Producer(); err == nil {
		if l.cpl, err = l.rings[regmap.RingCpl].Consumer(); err == nil {
			if l.in, err = l.rings[regmap.RingSpkIn].Producer(); err == nil {
				l.out, err = l.rings[regmap.RingOut].Consumer()
			}
		}
	}
	if err != nil {
		return nil, reply, proto("claiming the rings: %v", err)
	}
	for i, p := range []*int{&l.doorbell, &l.irq} {
		fd := fds[regmap.SetupFdDoorbell+i]
		if link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err != nil || link != "anon_inode:[eventfd]" {
			return nil, reply, proto("descriptor %d is not an eventfd", regmap.SetupFdDoorbell+i)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, reply, errorf("%s: %v", what, err)
		}
		*p = fd
		fds[regmap.SetupFdDoorbell+i] = -1 // ours now
	}
	// The bulk window: as big as BULK_SIZE says, sealed against shrinking.
	bfd, bsize := fds[regmap.SetupFdBulk], l.load(regmap.RegBulkSize)
	if base := l.load64(regmap.RegBulkBaseLo); base != regmap.SetupFdBulk {
		return nil, reply, proto("BULK_BASE says descriptor %d, the window is descriptor %d", base, regmap.SetupFdBulk)
	}
	if err := unix.Fstat(bfd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < int64(bsize) || bsize%4096 != 0 || bsize > regmap.MaxBulk {
		return nil, reply, proto("the bulk window is not a memory file of BULK_SIZE %d bytes", bsize)
	}
	if seals, err := unix.FcntlInt(uintptr(bfd), unix.F_GET_SEALS, 0); err != nil || seals&unix.F_SEAL_SHRINK == 0 {
		return nil, reply, proto("the bulk window is not sealed against shrinking")
	}
	if bsize > 0 {
		if l.bulk, err = unix.Mmap(bfd, 0, int(bsize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			return nil, reply, errorf("%s: mapping the bulk window: %v: %w", what, err, ErrProtocol)
		}
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, reply, errorf("%s: %v", what, err)
	}
	raw.Control(func(fd uintptr) { l.connFd = int(fd) })
	return l, reply, nil
}

// Close implements Link.
func (l *shmLink) Close() error {
	l.close(true)
	l.lock.unlock()
	if l.onClose != nil {
		l.onClose()
	}
	return nil
}

// close releases everything; with conn, the socket too (the board sees the host leave).
func (l *shmLink) close(conn bool) {
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
	if l.bulk != nil {
		unix.Munmap(l.bulk)
		l.bulk = nil
	}
	for _, p := range []*int{&l.doorbell, &l.irq} {
		if *p >= 0 {
			unix.Close(*p)
			*p = -1
		}
	}
	if conn && l.conn != nil {
		// Say goodbye and wait (briefly) for the board's EOF: by then it has let go of the
		// session, so that the next Open is not refused as busy.
		if l.conn.CloseWrite() == nil {
			l.conn.SetReadDeadline(time.Now().Add(closeWait))
			var b [64]byte
			for {
				if _, err := l.conn.Read(b[:]); err != nil {
					break
				}
			}
		}
		l.conn.Close()
		l.conn = nil
	}
}

// closeWait bounds how long Close waits for the board to let go.
const closeWait = time.Second

func (l *shmLink) word(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&l.bar[off&^3])) }
func (l *shmLink) load(off uint32) uint32  { return atomic.LoadUint32(l.word(off)) }
func (l *shmLink) load64(off uint32) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&l.bar[off&^7])))
}

// ReadReg implements Link: the register file is shared memory.
func (l *shmLink) ReadReg(off uint32) (uint32, error) {
	if off >= regmap.BARSize {
		return 0, errorf("register %#x: outside the register file", off)
	}
	return l.load(off), nil
}

// WriteReg implements Link: the access semantics a register file in hardware would give,
// with atomic operations on the shared word.
func (l *shmLink) WriteReg(off, v uint32) error {
	if off >= regmap.BARSize {
		return errorf("register %#x: outside the register file", off)
	}
	switch regmap.AccessOf(off) {
	case regmap.W1C:
		atomic.AndUint32(l.word(off), ^v)
	case regmap.W1S:
		atomic.OrUint32(l.word(off), v)
		l.wakeBoard()
	default:
		atomic.StoreUint32(l.word(off), v)
	}
	return nil
}

// Producer implements Link.
func (l *shmLink) Producer(r regmap.Ring) RecordProducer {
	if r == regmap.RingSpkIn {
		return l.in
	}
	return l.cmd
}

// Consumer implements Link.
func (l *shmLink) Consumer(r regmap.Ring) RecordConsumer {
	if r == regmap.RingOut {
		return l.out
	}
	return l.cpl
}

// Notify implements Link: the doorbell bit, and a kick if the board sleeps (need-wakeup).
func (l *shmLink) Notify(r regmap.Ring) {
	atomic.OrUint32(l.word(regmap.RegDoorbell), 1<<r)
	l.wakeBoard()
}

// wakeBoard kicks the board's doorbell eventfd if the board said it sleeps.
func (l *shmLink) wakeBoard() {
	if l.load(regmap.RegStatus)&regmap.StatusSleeping != 0 {
		var b [8]byte
		b[0] = 1
		unix.Write(l.doorbell, b[:])
	}
}

// Arm implements Link.
func (l *shmLink) Arm(on bool) {
	v := uint32(0)
	if on {
		v = regmap.IRQAll
	}
	atomic.StoreUint32(l.word(regmap.RegIRQMask), v)
}

// Wake implements Link.
func (l *shmLink) Wake() {
	var b [8]byte
	b[0] = 1
	unix.Write(l.irq, b[:])
}

// Wait implements Link: the interrupt eventfd, and the socket for the board's death.
func (l *shmLink) Wait(d time.Duration) error {
	if _, gone := hangup.Wait(l.irq, l.connFd, d); gone {
		return l.goneErr()
	}
	return nil
}

// Alive implements Link.
func (l *shmLink) Alive() error {
	if hangup.Gone(l.connFd) {
		return l.goneErr()
	}
	return nil
}

func (l *shmLink) goneErr() error {
	return errorf("the board closed the connection (its process exited?): %w", ErrGone)
}

// Bulk implements Link.
func (l *shmLink) Bulk() []byte { return l.bulk }
