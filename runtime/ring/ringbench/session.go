package ringbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/runtime/ring"
)

// PeerEnv is the environment variable Run sets in the peer's environment (to
// peerEnvValue); IsPeer and Peer look for it.
const PeerEnv = "LRCHIP_RINGBENCH_PEER"

// peerEnvValue names the layout of the descriptors the peer inherits (see the package
// documentation); a peer built from another version of this package refuses a new layout.
const peerEnvValue = "fds-v1"

// The peer's descriptors.
const (
	fdCtrl = 3 + iota
	fdRingA
	fdRingB
	fdUDS
	fdLine
	fdRingPA
	fdRingPB
)

const (
	ringCapA   = 1 << 20 // ring A's data area (ring.DefaultCapacity), and memcpy's working set
	ringCapAck = 64 << 10
	busySpin   = 1 << 22 // polls before a ping-pong ring's wait sleeps: busy-polling
	recordType = 1       // record type of the benchmark's records
	lineSize   = 4096    // the shared page whose first cache line is bounced
	peerExit   = 5 * time.Second
)

// ringOpts are the options of both ends of a ring; busy rings busy-poll.
func ringOpts(busy bool) ring.Opts {
	o := ring.Opts{WakeInterval: 20 * time.Millisecond, Heartbeat: -1}
	if busy {
		o.SpinPolls = busySpin
	}
	return o
}

// shared is what the two processes share, seen from either.
type shared struct {
	ctrl   *os.File // control socket: one command or answer per datagram
	a, b   *ring.Ring
	pa, pb *ring.Ring
	uds    int    // Unix stream socket, blocking; -1 when none
	line   []byte // one shared page; the first cache line is bounced
}

func (e *shared) close() {
	if e.ctrl != nil {
		e.ctrl.Close()
	}
	for _, r := range []*ring.Ring{e.a, e.b, e.pa, e.pb} {
		if r != nil {
			r.Close()
		}
	}
	if e.uds >= 0 {
		unix.Close(e.uds)
	}
	if e.line != nil {
		unix.Munmap(e.line)
	}
}

// send and recv exchange control messages.
func (e *shared) send(format string, args ...any) error {
	_, err := fmt.Fprintf(e.ctrl, format, args...)
	return err
}

func (e *shared) recv() (string, error) {
	buf := make([]byte, 512)
	n, err := e.ctrl.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// watchCtrl makes a wait on the control socket end when ctx does (the socket is shut
// down: the wait and every later one see its end); call the returned stop when done.
func (e *shared) watchCtrl(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		if rc, err := e.ctrl.SyscallConn(); err == nil {
			// Control holds a reference: the descriptor cannot be closed (and its number
			// reused) under the shutdown.
			rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
		}
	})
}

// ctrlFile wraps a control socket descriptor in an *os.File. The socket stays blocking,
// off Go's network poller: a poller thread in either process is one more thing to
// schedule on the cores the measurements share (watchCtrl ends waits instead).
func ctrlFile(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ringbench: control socket: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// session is Run's side: the shared resources, their endpoints, and the peer process.
type session struct {
	shared
	ap       *ring.Producer // A: records to the peer
	bc       *ring.Consumer // B: the peer's acknowledgements
	pap      *ring.Producer // PA: pings
	pbc      *ring.Consumer // PB: pongs
	peer     *exec.Cmd
	peerDone chan error
	stopKill func() bool
}

// start creates what the processes share, starts the peer with its ends and waits for its
// hello. On failure nothing is left behind.
func start(ctx context.Context, opts Opts) (_ *session, err error) {
	s := &session{shared: shared{uds: -1}}
	peerFiles := make([]*os.File, fdRingPB-fdCtrl+1) // by descriptor in the peer, from 3
	defer func() {
		for _, f := range peerFiles {
			if f != nil {
				f.Close()
			}
		}
		if err != nil {
			s.close()
		}
	}()
	if err := s.create(peerFiles); err != nil {
		return nil, err
	}
	if err := s.startPeer(ctx, opts, peerFiles); err != nil {
		return nil, err
	}
	if err := s.endpoints(); err != nil {
		return nil, err
	}
	if err := s.expect(ctx, "hello"); err != nil {
		return nil, err
	}
	return s, nil
}

// create makes the control socket, the four rings, the Unix socket and the cache line's
// page, keeping this side's ends in s and putting the peer's in peerFiles (index: the
// peer's descriptor − 3).
func (s *session) create(peerFiles []*os.File) error {
	ctl, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ringbench: control socket: %w", err)
	}
	peerFiles[fdCtrl-fdCtrl] = os.NewFile(uintptr(ctl[1]), "ringbench-control-peer")
	if s.ctrl, err = ctrlFile(ctl[0], "ringbench-control"); err != nil {
		return err
	}

	for _, x := range []struct {
		r        **ring.Ring
		fd       int
		name     string
		capacity int
		busy     bool
	}{
		{&s.a, fdRingA, "ringbench-a", ringCapA, false},
		{&s.b, fdRingB, "ringbench-b", ringCapAck, false},
		{&s.pa, fdRingPA, "ringbench-pa", ringCapAck, true},
		{&s.pb, fdRingPB, "ringbench-pb", ringCapAck, true},
	} {
		o := ringOpts(x.busy)
		o.Capacity, o.Name = x.capacity, x.name
		if *x.r, err = ring.Create(o); err != nil {
			return fmt.Errorf("ringbench: %w", err)
		}
		d, err := unix.Dup((*x.r).Fd())
		if err != nil {
			return fmt.Errorf("ringbench: %s: %w", x.name, err)
		}
		peerFiles[x.fd-fdCtrl] = os.NewFile(uintptr(d), x.name)
	}

	uds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ringbench: unix socket: %w", err)
	}
	s.uds = uds[0]
	peerFiles[fdUDS-fdCtrl] = os.NewFile(uintptr(uds[1]), "ringbench-uds-peer")

	lineFd, err := unix.MemfdCreate("ringbench-line", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("ringbench: memfd: %w", err)
	}
	peerFiles[fdLine-fdCtrl] = os.NewFile(uintptr(lineFd), "ringbench-line")
	if err := unix.Ftruncate(lineFd, lineSize); err != nil {
		return fmt.Errorf("ringbench: memfd: %w", err)
	}
	if s.line, err = unix.Mmap(lineFd, 0, lineSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("ringbench: mmap: %w", err)
	}
	return nil
}

// startPeer starts the peer process with peerFiles as its descriptors from 3 on, and
// arranges that it dies with this process, when ctx ends, or (s.close) when Run is done.
func (s *session) startPeer(ctx context.Context, opts Opts, peerFiles []*os.File) error {
	peer := exec.Command(opts.Command[0], opts.Command[1:]...)
	peer.Env = append(os.Environ(), PeerEnv+"="+peerEnvValue)
	peer.ExtraFiles = peerFiles
	peer.Stdout, peer.Stderr = opts.Stderr, opts.Stderr
	peer.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := peer.Start(); err != nil {
		return fmt.Errorf("ringbench: start the peer %q: %w", opts.Command[0], err)
	}
	// The peer has its ends now; holding them here would hide its death (no end of file
	// on the control socket).
	for i, f := range peerFiles {
		f.Close()
		peerFiles[i] = nil
	}
	s.peer, s.peerDone = peer, make(chan error, 1)
	go func() { s.peerDone <- peer.Wait() }()
	// A peer that dies ends the waits: the rings see it by its pid, the control socket by
	// its end of file; killing it when ctx ends covers the busy loops.
	s.stopKill = context.AfterFunc(ctx, func() { peer.Process.Kill() })
	return nil
}

// endpoints takes this side's ends of the four rings.
func (s *session) endpoints() error {
	var err error
	if s.ap, err = s.a.Producer(); err != nil {
		return fmt.Errorf("ringbench: %w", err)
	}
	if s.bc, err = s.b.Consumer(); err != nil {
		return fmt.Errorf("ringbench: %w", err)
	}
	if s.pap, err = s.pa.Producer(); err != nil {
		return fmt.Errorf("ringbench: %w", err)
	}
	if s.pbc, err = s.pb.Consumer(); err != nil {
		return fmt.Errorf("ringbench: %w", err)
	}
	return nil
}

// expect waits for the peer to say want; it says "error: ..." when it fails.
func (s *session) expect(ctx context.Context, want string) error {
	stop := s.watchCtrl(ctx)
	got, err := s.recv()
	stop()
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("ringbench: waiting for the peer's %q: %w", want, context.Cause(ctx))
	case err != nil && want == "hello":
		return fmt.Errorf("%w: waiting for its %q (does the peer's program call ringbench.Peer?): %w", ErrPeer, want, err)
	case err != nil:
		return fmt.Errorf("%w: waiting for its %q: %w", ErrPeer, want, err)
	case got != want:
		return fmt.Errorf("%w: %s", ErrPeer, got)
	}
	return nil
}

// close tells the peer to quit, waits a little for it (then kills it), and releases
// everything.
func (s *session) close() {
	if s.stopKill != nil {
		s.stopKill()
	}
	if s.peer != nil {
		_ = s.send("quit")
		select {
		case <-s.peerDone:
		case <-time.After(peerExit):
			s.peer.Process.Kill()
			<-s.peerDone
		}
		s.peer = nil
	}
	s.shared.close()
}
