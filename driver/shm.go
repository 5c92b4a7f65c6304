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
	"github.com/lrchip/lrchip/runtime/ring"
)

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
	bulk     []byte // the bulk DMA window, mapped read-write
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
func (l *shmLink) store(off, v uint32) { atomic.StoreUint32(l.word(off), v) }
func (l *shmLink) or(off, v uint32)    { atomic.OrUint32(l.word(off), v) }
func (l *shmLink) andNot(off, v uint32) {
	atomic.AndUint32(l.word(off), ^v)
}

// kick wakes the board (the doorbell eventfd).
func (l *shmLink) kick() {
	var b [8]byte
	b[0] = 1
	unix.Write(l.doorbell, b[:])
}

// selfWake makes waitIRQ return (Close uses it).
func (l *shmLink) selfWake() {
	var b [8]byte
	b[0] = 1
	unix.Write(l.irq, b[:])
}

// waitIRQ sleeps until the board interrupts, the socket says the board is gone (false), or
// d passes.
func (l *shmLink) waitIRQ(d time.Duration) (alive bool) {
	fds := []unix.PollFd{{Fd: int32(l.irq), Events: unix.POLLIN}, {Fd: int32(l.connFd), Events: unix.POLLIN | unix.POLLRDHUP}}
	unix.Poll(fds, int(d/time.Millisecond)+1)
	if fds[0].Revents != 0 {
		var b [8]byte
		unix.Read(l.irq, b[:])
	}
	return fds[1].Revents == 0
}

// alive checks the socket without waiting.
func (l *shmLink) alive() bool {
	fds := []unix.PollFd{{Fd: int32(l.connFd), Events: unix.POLLIN | unix.POLLRDHUP}}
	n, _ := unix.Poll(fds, 0)
	return n == 0
}
