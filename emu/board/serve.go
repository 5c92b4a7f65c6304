package board

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/emu/internal/unixsrv"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/hangup"
	"github.com/lrchip/lrchip/runtime/ring"
)

// helloTimeout bounds the wait for a host's hello.
const helloTimeout = 5 * time.Second

// ErrInUse is returned by Listen when a live server answers on the socket already.
var ErrInUse = errors.New("board: socket in use by a live server")

// Listen makes the Unix socket a board is served on: a SOCK_SEQPACKET socket at path, in a
// directory it creates (mode 0700) if missing. A socket left behind by a dead server is
// replaced; one a live server answers on is not (ErrInUse). The listener removes the socket
// when it is closed.
func Listen(path string) (*net.UnixListener, error) {
	ln, err := unixsrv.Listen("unixpacket", path)
	switch {
	case errors.Is(err, unixsrv.ErrInUse):
		return nil, fmt.Errorf("board: %s: %w", path, ErrInUse)
	case err != nil:
		return nil, fmt.Errorf("board: %w", err)
	}
	return ln, nil
}

// ServeUnix accepts hosts on ln, each answered by ServeConn, until ctx ends (it closes ln and
// returns nil once every connection is done) or ln fails.
func (b *Board) ServeUnix(ctx context.Context, ln *net.UnixListener) error {
	err := unixsrv.Serve(ctx, ln, func(ctx context.Context, conn *net.UnixConn) {
		b.ServeConn(ctx, conn) // its errors are the host's problem, told to the host
	})
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// ServeConn answers one host on conn: identity for a query (HELLO_QUERY), SETUP_BUSY with
// the attached host's pid and command name while another is attached, SETUP_VERSION for a
// host of another protocol major, else a session: the register file, four fresh rings and
// two eventfds go to the host with SCM_RIGHTS, and the board serves it (see Serve) until it
// goes or ctx ends. The caller closes conn.
func (b *Board) ServeConn(ctx context.Context, conn *net.UnixConn) error {
	buf := make([]byte, 256)
	conn.SetReadDeadline(time.Now().Add(helloTimeout))
	n, _, _, _, err := conn.ReadMsgUnix(buf, nil)
	if err != nil {
		return fmt.Errorf("board: reading hello: %w", err)
	}
	conn.SetReadDeadline(time.Time{})
	reply := b.Identity()
	hello, err := regmap.DecodeHello(buf[:n])
	if err != nil {
		reply.Status, reply.Message = regmap.SetupError, err.Error()
		conn.Write(reply.Append(nil))
		return err
	}
	if h, att := b.Holder(); att {
		reply.HolderPID, reply.HolderComm = uint32(h.PID), h.Comm
	}
	if hello.Flags&regmap.HelloQuery != 0 {
		_, err := conn.Write(reply.Append(nil))
		return err
	}
	if hello.Version.Major() != reply.Version.Major() {
		reply.Status = regmap.SetupVersion
		conn.Write(reply.Append(nil))
		return fmt.Errorf("board: host speaks protocol %s, board %s", hello.Version, reply.Version)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	connFd := -1
	raw.Control(func(fd uintptr) { connFd = int(fd) })
	var host Host
	host.PID, host.Comm = unixsrv.Peer(conn)
	if err := b.attach(host); err != nil {
		if h, att := b.Holder(); att {
			reply.HolderPID, reply.HolderComm = uint32(h.PID), h.Comm
		}
		reply.Status = regmap.SetupBusy
		if !errors.Is(err, ErrBusy) {
			reply.Status, reply.Message = regmap.SetupError, err.Error()
		}
		conn.Write(reply.Append(nil))
		return err
	}
	s, err := b.newSession(hello)
	if err != nil {
		// Detach before answering: the host may try again as soon as it reads the reply.
		b.detach()
		reply.Status, reply.Message = regmap.SetupError, err.Error()
		conn.Write(reply.Append(nil))
		return err
	}
	defer b.detach()
	defer s.close()
	reply.Attached, reply.HolderPID, reply.HolderComm = true, uint32(host.PID), host.Comm
	reply.NFds = regmap.SetupFds
	fds := []int{b.regs.fd}
	for _, r := range s.rings {
		fds = append(fds, r.Fd())
	}
	fds = append(fds, s.doorbell, s.irq, s.bulkFd)
	l := Link{Cmd: s.cmd, SpkIn: s.in, Cpl: s.cpl, Out: s.out, Host: host, Payload: s.payload, OutMax: s.rings[regmap.RingOut].MaxPayload(), Bulk: s.bulk,
		Interrupt: func() { kick(s.irq) },
		// The host is gone when its end of the socket hangs up, never because a poll was
		// interrupted or the host was slow (hangup handles both).
		Wait: func(d time.Duration) bool {
			_, gone := hangup.Wait(s.doorbell, connFd, d)
			return !gone
		},
		Alive: func() bool { return !hangup.Gone(connFd) },
	}
	b.prepare(&l) // before the reply: from then on the host may write the registers
	if _, _, err := conn.WriteMsgUnix(reply.Append(nil), unix.UnixRights(fds...), nil); err != nil {
		b.regs.setStatus(regmap.StatusAttached, false)
		return fmt.Errorf("board: sending the setup: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { kick(s.doorbell) })
	defer stop()
	err = b.serve(ctx, l)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// session is what one attached host was given.
type session struct {
	rings    [regmap.NumRings]*ring.Ring
	cmd, in  *ring.Consumer
	cpl, out *ring.Producer
	doorbell int
	irq      int
	payload  int
	bulkFd   int
	bulk     []byte // mapped read-only
}

func (b *Board) newSession(h regmap.Hello) (s *session, err error) {
	s = &session{doorbell: -1, irq: -1, bulkFd: -1}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	smallest := 0
	for i := range s.rings {
		c := int(h.RingCap[i])
		if c == 0 {
			c = b.opts.RingCapacity
		}
		if c < 1<<12 {
			return s, fmt.Errorf("board: ring %s capacity %d is below 4096", regmap.Ring(i), c)
		}
		if smallest == 0 || c < smallest {
			smallest = c
		}
		s.rings[i], err = ring.Create(ring.Opts{Capacity: c, Name: "lrchip-" + strings.ToLower(regmap.Ring(i).String()), Heartbeat: -1})
		if err != nil {
			return s, err
		}
		b.regs.store64(regmap.RingBaseLo(regmap.Ring(i)), uint64(1+i))
		b.regs.store(regmap.RingSize(regmap.Ring(i)), uint32(c))
	}
	s.payload = smallest / 4
	if s.cmd, err = s.rings[regmap.RingCmd].Consumer(); err != nil {
		return s, err
	}
	if s.cpl, err = s.rings[regmap.RingCpl].Producer(); err != nil {
		return s, err
	}
	if s.in, err = s.rings[regmap.RingSpkIn].Consumer(); err != nil {
		return s, err
	}
	if s.out, err = s.rings[regmap.RingOut].Producer(); err != nil {
		return s, err
	}
	if s.doorbell, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return s, fmt.Errorf("board: eventfd: %w", err)
	}
	if s.irq, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return s, fmt.Errorf("board: eventfd: %w", err)
	}
	size := int(h.Bulk)
	if size == 0 {
		size = b.opts.Bulk
	}
	if s.bulkFd, s.bulk, err = newBulk(size); err != nil {
		return s, err
	}
	b.regs.store64(regmap.RegBulkBaseLo, regmap.SetupFdBulk)
	b.regs.store(regmap.RegBulkSize, uint32(size))
	return s, nil
}

// newBulk makes the bulk DMA window: a sealed memfd, mapped read-only here.
func newBulk(size int) (int, []byte, error) {
	fd, err := unix.MemfdCreate("lrchip-bulk", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, nil, fmt.Errorf("board: bulk window: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("board: bulk window: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("board: bulk window: seal: %w", err)
	}
	if size == 0 {
		return fd, nil, nil
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("board: bulk window: mmap: %w", err)
	}
	return fd, mem, nil
}

func (s *session) close() {
	for _, r := range s.rings {
		if r != nil {
			r.Close() // closes the endpoints too
		}
	}
	if s.bulk != nil {
		unix.Munmap(s.bulk)
	}
	for _, fd := range []int{s.doorbell, s.irq, s.bulkFd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// kick adds one to an eventfd.
func kick(fd int) {
	var b [8]byte
	b[0] = 1
	unix.Write(fd, b[:])
}
