package usbdev

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The tests drive the Function as umockdev and libusb do, through a fake of the transport
// interface: a client's memory (addresses mapping to byte slices), Mem with umockdev's
// semantics (a local copy that goes back where it changed when the ioctl completes), and
// ioctls that complete into a channel.

type space struct {
	mu   sync.Mutex
	next uint64
	mem  map[uint64][]byte
}

func newSpace() *space { return &space{next: 0x10000, mem: map[uint64][]byte{}} }

func (s *space) alloc(b []byte) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.next
	s.next += uint64(len(b)+15) &^ 7
	s.mem[a] = b
	return a
}

// at returns the client's bytes at [addr, addr+n).
func (s *space) at(addr uint64, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for base, b := range s.mem {
		if addr >= base && addr+uint64(n) <= base+uint64(len(b)) {
			o := addr - base
			return b[o : o+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("fault at %#x+%d", addr, n)
}

type fakeMem struct {
	sp       *space
	addr     uint64
	local    []byte
	children map[int]*fakeMem
	holds    *int32counter
}

type int32counter struct {
	mu sync.Mutex
	n  int
}

func (c *int32counter) add(d int) {
	c.mu.Lock()
	c.n += d
	c.mu.Unlock()
}

func (c *int32counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (m *fakeMem) Bytes() []byte { return m.local }

func (m *fakeMem) Resolve(off, n int) (Mem, error) {
	if c, ok := m.children[off]; ok {
		return c, nil
	}
	ptr := le.Uint64(m.local[off:])
	if ptr == 0 || n == 0 {
		return nil, nil
	}
	b, err := m.sp.at(ptr, n)
	if err != nil {
		return nil, err
	}
	c := &fakeMem{sp: m.sp, addr: ptr, local: append([]byte(nil), b...), children: map[int]*fakeMem{}, holds: m.holds}
	m.children[off] = c
	return c, nil
}

func (m *fakeMem) SetPtr(off int, child Mem) {
	c := child.(*fakeMem)
	m.children[off] = c
	le.PutUint64(m.local[off:], c.addr)
}

func (m *fakeMem) Hold()    { m.holds.add(1) }
func (m *fakeMem) Release() { m.holds.add(-1) }

// flush writes the local copies back, children first.
func (m *fakeMem) flush() {
	for _, c := range m.children {
		c.flush()
	}
	if m.addr == 0 {
		return
	}
	b, err := m.sp.at(m.addr, len(m.local))
	if err == nil {
		copy(b, m.local)
	}
}

type result struct {
	ret   int
	errno syscall.Errno
}

type fakeIoctl struct {
	req  uint32
	arg  *fakeMem
	done chan result
}

func (f *fakeIoctl) Request() uint32 { return f.req }
func (f *fakeIoctl) Arg() Mem        { return f.arg }
func (f *fakeIoctl) Complete(ret int, errno syscall.Errno) {
	f.arg.flush()
	f.done <- result{ret, errno}
}

// fakeReady records what the function says about reapable URBs.
type fakeReady struct {
	mu    sync.Mutex
	ready bool
	gone  bool
	ch    chan struct{}
}

func newFakeReady() *fakeReady { return &fakeReady{ch: make(chan struct{}, 1)} }

func (r *fakeReady) SetReady(v bool) {
	r.mu.Lock()
	r.ready = v
	r.mu.Unlock()
	if v {
		select {
		case r.ch <- struct{}{}:
		default:
		}
	}
}

func (r *fakeReady) Gone() {
	r.mu.Lock()
	r.gone = true
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// host is a client of the function, doing what libusb does.
type host struct {
	t     *testing.T
	f     USBDevice
	id    ClientID
	sp    *space
	ready *fakeReady
	holds *int32counter
	urbs  map[uint64][]byte // submitted URBs: address → struct
}

func newHost(t *testing.T, f USBDevice, id ClientID, ready *fakeReady) *host {
	h := &host{t: t, f: f, id: id, sp: newSpace(), ready: ready, holds: &int32counter{}, urbs: map[uint64][]byte{}}
	f.Connect(id)
	return h
}

// ioctl calls the function with an argument (a pointer or an integer) and waits.
func (h *host) ioctl(req uint32, arg uint64) result {
	a := &fakeMem{sp: h.sp, local: le.AppendUint64(nil, arg), children: map[int]*fakeMem{}, holds: h.holds}
	io := &fakeIoctl{req: req, arg: a, done: make(chan result, 1)}
	h.f.Ioctl(h.id, io)
	return <-io.done
}

func (h *host) u32ioctl(req uint32, v uint32) result {
	return h.ioctl(req, h.sp.alloc(le.AppendUint32(nil, v)))
}

// submit submits an URB and returns its address.
func (h *host) submit(typ byte, ep uint8, flags uint32, buf []byte) (uint64, result) {
	var bufAddr uint64
	if len(buf) > 0 {
		bufAddr = h.sp.alloc(buf)
	}
	u := make([]byte, urbSize)
	u[urbOffType], u[urbOffEndpoint] = typ, ep
	le.PutUint32(u[urbOffFlags:], flags)
	le.PutUint64(u[urbOffBuffer:], bufAddr)
	le.PutUint32(u[urbOffBufLen:], uint32(len(buf)))
	addr := h.sp.alloc(u)
	h.urbs[addr] = u
	return addr, h.ioctl(ioctlSubmitURB, addr)
}

type reaped struct {
	addr   uint64
	status int32
	actual int
	data   []byte
}

// tryReap reaps one URB without waiting.
func (h *host) tryReap() (reaped, syscall.Errno) {
	p := h.sp.alloc(make([]byte, 8))
	r := h.ioctl(ioctlReapURBNDelay, p)
	if r.errno != 0 {
		return reaped{}, r.errno
	}
	pb, _ := h.sp.at(p, 8)
	addr := le.Uint64(pb)
	u, ok := h.urbs[addr]
	require.True(h.t, ok, "reaped %#x, which was never submitted", addr)
	delete(h.urbs, addr)
	rp := reaped{addr: addr, status: int32(le.Uint32(u[urbOffStatus:])), actual: int(int32(le.Uint32(u[urbOffActual:])))}
	if n := int(le.Uint32(u[urbOffBufLen:])); n > 0 {
		b, err := h.sp.at(le.Uint64(u[urbOffBuffer:]), n)
		require.NoError(h.t, err)
		rp.data = b
	}
	return rp, 0
}

// reap waits for the next URB to complete, as libusb does: poll (Ready), then reap.
func (h *host) reap(ctx context.Context) reaped {
	for {
		r, errno := h.tryReap()
		if errno == 0 {
			return r
		}
		require.Equal(h.t, syscall.EAGAIN, errno)
		select {
		case <-h.ready.ch:
		case <-ctx.Done():
			h.t.Fatalf("no URB completed: %v", ctx.Err())
		}
	}
}

// control runs a control transfer and returns its status and data.
func (h *host) control(ctx context.Context, typ, req uint8, value, index uint16, data []byte, length int) (int32, []byte) {
	buf := make([]byte, setupPacketSize+max(length, len(data)))
	buf[0], buf[1] = typ, req
	le.PutUint16(buf[2:], value)
	le.PutUint16(buf[4:], index)
	le.PutUint16(buf[6:], uint16(max(length, len(data))))
	copy(buf[setupPacketSize:], data)
	addr, r := h.submit(urbTypeControl, 0, 0, buf)
	require.Zero(h.t, r.errno)
	rp := h.reap(ctx)
	require.Equal(h.t, addr, rp.addr)
	return rp.status, rp.data[setupPacketSize : setupPacketSize+rp.actual]
}

func (h *host) regRead(ctx context.Context, off uint32, n int) []byte {
	st, d := h.control(ctx, regmap.USBVendorIn, uint8(regmap.USBReqRegRead), 0, uint16(off), nil, n)
	require.Zero(h.t, st, "REG_READ %#x", off)
	return d
}

func (h *host) attach(ctx context.Context, a regmap.USBAttach) int32 {
	st, _ := h.control(ctx, regmap.USBVendorOut, uint8(regmap.USBReqAttach), 0, 0, a.Append(nil), 0)
	return st
}
