// Package pcie serves the emulated board (emu/board) as the board's PCIe function
// (docs/regmap.md §10) over vfio-user: QEMU's protocol for a PCI device emulated in another
// process (docs/interop/vfio-user.rst), messages shaped like the VFIO ioctls on a Unix stream
// socket. It is what `lrctl emu serve --vfio-user PATH` runs and what the driver's
// vfio-user:PATH transport opens, with the same code that drives a real board through the
// kernel's VFIO.
//
// The function has three regions: the configuration space (region 7), BAR 0, the board's
// register file (region 0: its memory passed read-only for the host to map, writes trapped
// as REGION_WRITE and applied with the registers' semantics), and BAR 2, the MSI-X table
// (region 2). The host gives the board its ring and bulk memory with DMA_MAP (memory files
// the server maps); at CONTROL.ATTACH the board takes the rings the ring registers name,
// which must lie wholly inside those windows, and runs its firmware (board.Serve) over them
// until the host detaches (DMA_UNMAP of a window in use, DEVICE_RESET, disconnection). Two
// MSI-X vectors, the error and the request interrupt are eventfds the host sets with
// SET_IRQS. One host at a time; the board's state (network, timestep, flash) outlives it.
//
// Nothing the host sends is trusted: messages are decoded by internal/vfiouser, every offset
// and window is checked, and a fault on a host's memory file that shrank under the board
// ends that host's session, not the server.
package pcie

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/internal/unixsrv"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// Defaults of Opts.
const (
	DefaultMaxDMAMaps = 64
	DefaultHello      = 5 * time.Second
)

// Opts configures a Server. The zero value gives the documented defaults.
type Opts struct {
	// MaxDMAMaps bounds the DMA windows a host may hold at once. Default DefaultMaxDMAMaps.
	MaxDMAMaps int
	// Hello bounds the wait for a new connection's VERSION. Default DefaultHello.
	Hello time.Duration
	// Log, if set, is told what the board refused and why (a CONTROL.ATTACH it could not
	// take, a fault on host memory): the host only sees ERROR_CODE.
	Log func(format string, args ...any)
}

// ErrInUse is returned by Listen when a live server answers on the socket already.
var ErrInUse = errors.New("pcie: socket in use by a live server")

// Server serves one board over vfio-user.
type Server struct {
	b    *board.Board
	opts Opts

	mu   sync.Mutex
	busy bool
}

// New makes a server for b. The server does not close b.
func New(b *board.Board, opts Opts) *Server {
	if opts.MaxDMAMaps <= 0 {
		opts.MaxDMAMaps = DefaultMaxDMAMaps
	}
	if opts.Hello <= 0 {
		opts.Hello = DefaultHello
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	return &Server{b: b, opts: opts}
}

// String describes the server.
func (s *Server) String() string { return "vfio-user server of " + s.b.String() }

// Listen makes the Unix stream socket a board is served on, at path, in a directory it
// creates (mode 0700) if missing. A socket left by a dead server is replaced; one a live
// server answers on is not (ErrInUse). The listener removes the socket when closed.
func Listen(path string) (*net.UnixListener, error) {
	ln, err := unixsrv.Listen("unix", path)
	switch {
	case errors.Is(err, unixsrv.ErrInUse):
		return nil, fmt.Errorf("pcie: %s: %w", path, ErrInUse)
	case err != nil:
		return nil, fmt.Errorf("pcie: %w", err)
	}
	return ln, nil
}

// Serve accepts hosts on ln, each answered by ServeConn, until ctx ends (it closes ln and
// returns nil once every connection is done) or ln fails.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	err := unixsrv.Serve(ctx, ln, func(ctx context.Context, conn *net.UnixConn) {
		s.ServeConn(ctx, conn) // its errors are the host's, told to the host
	})
	if err != nil {
		return fmt.Errorf("pcie: %w", err)
	}
	return nil
}

// ServeConn serves one host on conn until it disconnects, breaks the protocol, or ctx ends
// (the host gets the request interrupt first, then the connection closes). A second host
// while one is served gets EBUSY in reply to its VERSION. The caller closes conn.
func (s *Server) ServeConn(ctx context.Context, conn *net.UnixConn) error {
	c := vfiouser.NewConn(conn)
	conn.SetReadDeadline(time.Now().Add(s.opts.Hello))
	m, err := c.Receive()
	if err != nil {
		return fmt.Errorf("pcie: waiting for VERSION: %w", err)
	}
	conn.SetReadDeadline(time.Time{})
	vfiouser.CloseFds(m.Fds)
	if m.Command != vfiouser.CmdVersion || m.IsReply() {
		c.ReplyError(m.Header, unix.EINVAL)
		return fmt.Errorf("pcie: the first message is %s, not VERSION", m.Command)
	}
	v, err := vfiouser.DecodeVersion(m.Payload)
	if err == nil {
		v, err = vfiouser.Negotiate(v, vfiouser.Capabilities{MaxMsgFds: vfiouser.MaxFds, MaxDataXferSize: vfiouser.DefaultMaxDataXfer,
			MaxDMAMaps: uint64(s.opts.MaxDMAMaps), PgSizes: 4096})
	}
	if err != nil {
		c.ReplyError(m.Header, unix.EINVAL)
		return fmt.Errorf("pcie: %w", err)
	}
	s.mu.Lock()
	busy := s.busy
	s.busy = true
	s.mu.Unlock()
	if busy {
		c.ReplyError(m.Header, unix.EBUSY)
		return fmt.Errorf("pcie: a host is attached already")
	}
	defer func() {
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}()
	var host board.Host
	host.PID, host.Comm = unixsrv.Peer(conn)
	ss, err := newSession(s, c, host)
	if err != nil {
		c.ReplyError(m.Header, unix.ENOMEM)
		return err
	}
	defer ss.close()
	if err := c.Reply(m.Header, v.Append(nil), nil); err != nil {
		return err
	}
	return ss.run(ctx)
}
