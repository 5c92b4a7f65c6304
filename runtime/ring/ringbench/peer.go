package ringbench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/runtime/ring"
)

// IsPeer reports whether this process was started by Run as its peer (PeerEnv is set), in
// which case it should call Peer and exit.
func IsPeer() bool { return os.Getenv(PeerEnv) != "" }

// peerSide is the peer's view: the shared resources and its ends of the rings.
type peerSide struct {
	shared
	ac  *ring.Consumer // A: records from Run
	bp  *ring.Producer // B: acknowledgements
	pac *ring.Consumer // PA: pings
	pbp *ring.Producer // PB: pongs
}

// Peer is the peer process's side of Run: it takes the descriptors Run passed (see the
// package documentation), plays its side of every measurement Run asks for, and returns
// nil when Run is done or gone. It returns ErrNotPeer in a process Run did not start, and
// ends when ctx does. It calls nothing that assumes a particular program around it.
func Peer(ctx context.Context) error {
	if v := os.Getenv(PeerEnv); v != peerEnvValue {
		return fmt.Errorf("%w (%s=%q, want %q)", ErrNotPeer, PeerEnv, v, peerEnvValue)
	}
	p, err := attach()
	if err != nil {
		if p != nil {
			_ = p.send("error: %v", err)
			p.close()
		}
		return fmt.Errorf("ringbench: peer: %w", err)
	}
	defer p.close()
	stop := p.watchCtrl(ctx)
	defer stop()
	if err := p.send("hello"); err != nil {
		return fmt.Errorf("ringbench: peer: %w", err)
	}
	for {
		msg, err := p.recv()
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("ringbench: peer: %w", context.Cause(ctx))
		case err != nil || msg == "quit":
			return nil // Run has gone or is done
		}
		if err := p.send("ready"); err != nil {
			return fmt.Errorf("ringbench: peer: %w", err)
		}
		if err := p.serve(ctx, msg); err != nil {
			_ = p.send("error: %v", err)
			return fmt.Errorf("ringbench: peer: %w", err)
		}
		if err := p.send("done"); err != nil {
			return fmt.Errorf("ringbench: peer: %w", err)
		}
	}
}

// attach takes the inherited descriptors. Once the control socket is taken, the returned
// peerSide is not nil even on failure, so that the failure can be reported to Run.
func attach() (*peerSide, error) {
	ctrl, err := ctrlFile(fdCtrl, "ringbench-control")
	if err != nil {
		return nil, err
	}
	p := &peerSide{shared: shared{ctrl: ctrl, uds: -1}}
	for _, x := range []struct {
		r    **ring.Ring
		fd   int
		busy bool
	}{{&p.a, fdRingA, false}, {&p.b, fdRingB, false}, {&p.pa, fdRingPA, true}, {&p.pb, fdRingPB, true}} {
		if *x.r, err = ring.Attach(x.fd, ringOpts(x.busy)); err != nil {
			return p, fmt.Errorf("ring on descriptor %d: %w", x.fd, err)
		}
		unix.Close(x.fd)
	}
	p.uds = fdUDS
	if p.line, err = unix.Mmap(fdLine, 0, lineSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return p, fmt.Errorf("cache line page on descriptor %d: %w", fdLine, err)
	}
	unix.Close(fdLine)
	if p.ac, err = p.a.Consumer(); err != nil {
		return p, err
	}
	if p.bp, err = p.b.Producer(); err != nil {
		return p, err
	}
	if p.pac, err = p.pa.Consumer(); err != nil {
		return p, err
	}
	if p.pbp, err = p.pb.Producer(); err != nil {
		return p, err
	}
	return p, nil
}

// command is a request from Run to the peer.
type command struct {
	op   string // "ring", "uds", "ringping" or "lineping"
	n    int    // records, messages or round trips
	size int    // ring: bytes per record, a positive multiple of 8
	xor  uint64 // ring: the XOR of every word but the first of each record over 64 bytes
}

// Limits of a command's numbers: far beyond what a run of minutes carries, and small
// enough that nothing sized from them is unbounded.
const (
	mostCount  = 1 << 40
	mostRecord = 1 << 20
)

// parseCommand parses "ring N SIZE [XOR]", "uds N", "ringping N" or "lineping N".
func parseCommand(msg string) (command, error) {
	f := strings.Fields(msg)
	if len(f) == 0 {
		return command{}, fmt.Errorf("empty command")
	}
	c := command{op: f[0]}
	nargs := map[string][2]int{"ring": {2, 3}, "uds": {1, 1}, "ringping": {1, 1}, "lineping": {1, 1}}
	want, ok := nargs[c.op]
	if !ok {
		return c, fmt.Errorf("unknown command %q", msg)
	}
	args := f[1:]
	if len(args) < want[0] || len(args) > want[1] {
		return c, fmt.Errorf("command %q: %d arguments, want %d to %d", msg, len(args), want[0], want[1])
	}
	vals := make([]uint64, len(args))
	for i, s := range args {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return c, fmt.Errorf("command %q: argument %d: %w", msg, i+1, err)
		}
		vals[i] = v
	}
	if vals[0] > mostCount {
		return c, fmt.Errorf("command %q: count %d is over %d", msg, vals[0], uint64(mostCount))
	}
	c.n = int(vals[0])
	if c.op == "ring" {
		if vals[1] < 8 || vals[1] > mostRecord || vals[1]%8 != 0 {
			return c, fmt.Errorf("command %q: record size %d is not a multiple of 8 from 8 to %d", msg, vals[1], mostRecord)
		}
		c.size = int(vals[1])
		if len(vals) > 2 {
			c.xor = vals[2]
		}
	}
	return c, nil
}

// serve plays the peer's side of one command from Run.
func (p *peerSide) serve(ctx context.Context, msg string) error {
	c, err := parseCommand(msg)
	if err != nil {
		return err
	}
	switch c.op {
	case "ring":
		return consume(ctx, p.ac, p.bp, c.n, c.size, c.xor)
	case "uds":
		return udsRecv(p.uds, c.n)
	case "ringping":
		return ringPong(ctx, p.pac, p.pbp, c.n)
	default: // "lineping"
		return linePong(ctx, p.line, c.n)
	}
}
