package driver

import (
	"context"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/pcie"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// TestKilledVFIOServerIsGoneWithoutLeaks kills the server process while the device runs,
// free-runs or idles: every call fails with ErrGone within a second, and Close leaves no
// goroutine or descriptor behind.
func TestKilledVFIOServerIsGoneWithoutLeaks(t *testing.T) {
	for _, mode := range []string{"run", "free-running", "idle"} {
		t.Run(mode, func(t *testing.T) {
			s := startVFIOServer(t)
			ctx := ctxT(t)
			baseG, baseFd := runtime.NumGoroutine(), fdSet(t)
			d, err := Open(ctx, s.uri, Opts{})
			require.NoError(t, err)
			_, err = loadImage(d, ctx, lifImage(t, 8, 32, 1))
			require.NoError(t, err)
			errc := keepBusy(t, ctx, d, mode, func() error { _, err := d.Status(); return err })
			killed := time.Now()
			require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
			requireGone(t, errc, killed, time.Second)
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrGone)
			closed := time.Now()
			require.NoError(t, d.Close())
			require.Less(t, time.Since(closed), time.Second, "closing a gone device waits for nothing")
			s.kill()
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrClosed)
			settle(t, baseG)
			requireNoNewFds(t, baseFd)
		})
	}
}

// proxy sits between the driver and a real vfio-user server and lets a test rewrite, drop or
// replace the server's messages, or send its own: a server that misbehaves on cue.
type proxy struct {
	t      *testing.T
	client *vfiouser.Conn // the driver's side
	server *vfiouser.Conn
	// reply, if set, sees each message from the server before it goes on: it returns the
	// message to send (changed or not), or ok false to send nothing.
	mu      sync.Mutex
	reply   func(m vfiouser.Message) (vfiouser.Message, bool)
	replies chan vfiouser.Message // the driver's replies to the proxy's own commands
	wg      sync.WaitGroup
}

func (p *proxy) setReply(f func(m vfiouser.Message) (vfiouser.Message, bool)) {
	p.mu.Lock()
	p.reply = f
	p.mu.Unlock()
}

// raw writes bytes to the driver as if the server had sent them.
func (p *proxy) raw(b []byte) {
	_, err := p.client.UnixConn().Write(b)
	require.NoError(p.t, err)
}

func socketPair(t testing.TB) (a, b *net.UnixConn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		conns[i] = c.(*net.UnixConn)
	}
	return conns[0], conns[1]
}

// newProxy serves a fresh board and returns the proxy and the driver's end of it.
func newProxy(t *testing.T) (*proxy, *net.UnixConn) {
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	dc, pc := socketPair(t) // driver ↔ proxy
	ps, sc := socketPair(t) // proxy ↔ server
	p := &proxy{t: t, client: vfiouser.NewConn(pc), server: vfiouser.NewConn(ps), replies: make(chan vfiouser.Message, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		pcie.New(b, pcie.Opts{}).ServeConn(ctx, sc)
	}()
	forward := func(from, to *vfiouser.Conn, hook bool) {
		defer p.wg.Done()
		defer to.UnixConn().CloseWrite()
		for {
			m, err := from.Receive()
			if err != nil {
				return
			}
			send := true
			if !hook && m.IsReply() {
				// The driver's answer to a command the proxy sent in the server's name.
				p.replies <- m
				continue
			}
			if hook {
				p.mu.Lock()
				f := p.reply
				p.mu.Unlock()
				if f != nil {
					m, send = f(m)
				}
			}
			if send {
				to.Send(m.Header, m.Payload, m.Fds)
			}
			vfiouser.CloseFds(m.Fds)
		}
	}
	p.wg.Add(2)
	go forward(p.client, p.server, false)
	go forward(p.server, p.client, true)
	t.Cleanup(func() {
		pc.Close()
		ps.Close()
		cancel()
		<-done
		p.wg.Wait()
		b.Close()
	})
	return p, dc
}

// openThrough opens a device through the proxy.
func openThrough(t *testing.T, p *proxy, conn *net.UnixConn, opts Opts) (*Device, error) {
	l, err := DialVFIOUser(ctxT(t), conn, opts, "vfio-user:proxy")
	if err != nil {
		return nil, err
	}
	return OpenLink(ctxT(t), "vfio-user:proxy", l, opts)
}

// waitFailed waits until the device has failed (it learns of a fault from its link
// asynchronously: at once when idle, within its liveness period when busy) and returns the
// error a call gets.
func waitFailed(t *testing.T, d *Device) error {
	t.Helper()
	var err error
	require.Eventually(t, func() bool {
		_, err = d.Sensors(ctxT(t))
		return err != nil
	}, 5*time.Second, time.Millisecond, "the device never failed")
	return err
}

// TestMisbehavingServerDuringOpen: replies that are malformed or lie make Open fail with
// ErrProtocol (never a panic), and leave no descriptor behind.
func TestMisbehavingServerDuringOpen(t *testing.T) {
	efd := func() int {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		require.NoError(t, err)
		return fd
	}
	dup := func(fd int) int {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		require.NoError(t, err)
		return d
	}
	for _, tc := range []struct {
		name     string
		hook     func(m vfiouser.Message) (vfiouser.Message, bool)
		want     string
		sentinel error
	}{
		{"BAR 0 descriptor is an eventfd", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdDeviceGetRegionInfo && len(m.Fds) == 1 {
				vfiouser.CloseFds(m.Fds)
				m.Fds = []int{efd()} // the proxy closes it after sending
			}
			return m, true
		}, "not a memory file", ErrProtocol},
		{"two descriptors with BAR 0", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdDeviceGetRegionInfo && len(m.Fds) == 1 {
				m.Fds = []int{m.Fds[0], dup(m.Fds[0])}
			}
			return m, true
		}, "2 descriptors", ErrProtocol},
		{"a descriptor with a reply that takes none", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdDeviceGetIRQInfo {
				m.Fds = []int{efd()}
			}
			return m, true
		}, "brought 1 descriptors", ErrProtocol},
		{"BAR 0 larger than its file", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdDeviceGetRegionInfo && len(m.Fds) == 1 {
				m.Payload = append([]byte(nil), m.Payload...)
				putLE64(m.Payload[24:], 1<<20) // the region's offset in its file: past the end
			}
			return m, true
		}, "not a memory file of 4096 bytes", ErrProtocol},
		{"sparse area outside the region", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdDeviceGetRegionInfo && len(m.Payload) > 32 {
				m.Payload = append([]byte(nil), m.Payload...)
				putLE64(m.Payload[56:], 1<<16) // the area's size
			}
			return m, true
		}, "outside the 4096-byte region", ErrProtocol},
		{"config read answered for another offset", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdRegionRead && len(m.Payload) >= 16 {
				m.Payload = append([]byte(nil), m.Payload...)
				putLE64(m.Payload[0:], 0x40)
			}
			return m, true
		}, "answered with", ErrProtocol},
		{"not our board", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdRegionRead && len(m.Payload) == 20 && le32(m.Payload[8:]) == vfio.PCIConfigRegionIndex {
				m.Payload = append([]byte(nil), m.Payload...)
				putLE32(m.Payload[16:], 0xbeefdead)
			}
			return m, true
		}, "not an lrchip board", ErrNotFound},
		{"a reply to the wrong command", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdDeviceGetIRQInfo {
				m.Command = vfiouser.CmdDeviceReset
			}
			return m, true
		}, "says DEVICE_RESET", ErrProtocol},
		{"version answered with a higher minor", func(m vfiouser.Message) (vfiouser.Message, bool) {
			if m.Command == vfiouser.CmdVersion {
				m.Payload = vfiouser.Version{Major: 0, Minor: 9}.Append(nil)
			}
			return m, true
		}, "answers version 0.9", ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, conn := newProxy(t)
			p.setReply(tc.hook)
			baseFd := fdSet(t)
			d, err := openThrough(t, p, conn, Opts{Timeout: 2 * time.Second})
			if err == nil {
				d.Close()
			}
			require.ErrorIs(t, err, tc.sentinel)
			require.ErrorContains(t, err, tc.want)
			require.NotErrorIs(t, err, ErrTimeout)
			// The driver kept nothing: not the descriptors the server passed, not its own
			// (the proxy's socket to it is the test's).
			conn.Close()
			requireNoNewDescriptors(t, baseFd)
		})
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func putLE64(b []byte, v uint64) { putLE32(b, uint32(v)); putLE32(b[4:], uint32(v>>32)) }

// TestMisbehavingServerWhileOpen: garbage, short and oversized messages, replies nobody
// asked for, and DMA requests outside the windows end the device with ErrProtocol.
func TestMisbehavingServerWhileOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(p *proxy)
		want string
	}{
		{"garbage", func(p *proxy) { p.raw([]byte{0xde, 0xad, 0xbe, 0xef, 0x10, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0}) }, "unknown flags"},
		{"oversized", func(p *proxy) {
			p.raw(vfiouser.Header{ID: 1, Command: vfiouser.CmdRegionRead, Size: vfiouser.MaxMessage + 1, Flags: vfiouser.TypeReply}.Append(nil))
		}, "message size"},
		{"short", func(p *proxy) {
			p.raw(append(vfiouser.Header{ID: 1, Command: vfiouser.CmdRegionRead, Size: 64, Flags: vfiouser.TypeReply}.Append(nil), 1, 2, 3))
			p.client.UnixConn().CloseWrite()
		}, "inside a message"},
		{"a reply nobody asked for", func(p *proxy) {
			require.NoError(p.t, p.client.Send(vfiouser.Header{ID: 4242, Command: vfiouser.CmdRegionRead, Flags: vfiouser.TypeReply}, nil, nil))
		}, "not outstanding"},
		{"DMA outside the windows", func(p *proxy) {
			require.NoError(p.t, p.client.Send(vfiouser.Header{ID: 7, Command: vfiouser.CmdDMARead}, vfiouser.DMAAccess{Address: 0x1000, Count: 64}.Append(nil), nil))
		}, "outside the DMA windows"},
		{"a command the client does not serve", func(p *proxy) {
			require.NoError(p.t, p.client.Send(vfiouser.Header{ID: 7, Command: vfiouser.CmdDeviceReset}, nil, nil))
		}, "sent a DEVICE_RESET command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, conn := newProxy(t)
			d, err := openThrough(t, p, conn, Opts{})
			require.NoError(t, err)
			defer d.Close()
			ctx := ctxT(t)
			require.NoError(t, d.Echo(ctx, []byte("fine so far")))
			tc.do(p)
			err = waitFailed(t, d)
			require.ErrorIs(t, err, ErrProtocol)
			require.ErrorContains(t, err, tc.want)
			_, err = d.Status()
			require.ErrorIs(t, err, ErrProtocol)
		})
	}
}

// TestServerDMAThroughTheWindows: a server may read the host's memory with DMA_READ
// instead of mapping it (the spec's fallback): inside a window it gets the bytes; a write
// into a window the board may only read (the bulk window) is refused and ends the device.
func TestServerDMAThroughTheWindows(t *testing.T) {
	p, conn := newProxy(t)
	d, err := openThrough(t, p, conn, Opts{Bulk: 1 << 20})
	require.NoError(t, err)
	defer d.Close()
	bulkBase, err := read64(d.link, regmap.RegBulkBaseLo)
	require.NoError(t, err)
	take := func(id uint16) vfiouser.Message {
		select {
		case m := <-p.replies:
			require.Equal(t, id, m.ID)
			return m
		case <-time.After(5 * time.Second):
			t.Fatalf("no reply to %d", id)
		}
		return vfiouser.Message{}
	}
	copy(d.link.Bulk()[8:], []byte{1, 2, 3, 4})
	require.NoError(t, p.client.Send(vfiouser.Header{ID: 901, Command: vfiouser.CmdDMARead}, vfiouser.DMAAccess{Address: bulkBase + 8, Count: 4}.Append(nil), nil))
	m := take(901)
	require.Zero(t, m.Flags&vfiouser.FlagError)
	a, err := vfiouser.DecodeDMAAccess(m.Payload, "DMA_READ reply", true, 4)
	require.NoError(t, err)
	require.Equal(t, []byte{1, 2, 3, 4}, a.Data)
	require.NoError(t, d.Echo(ctxT(t), []byte("still fine")))

	require.NoError(t, p.client.Send(vfiouser.Header{ID: 902, Command: vfiouser.CmdDMAWrite}, vfiouser.DMAAccess{Address: bulkBase + 8, Count: 4, Data: []byte{9, 9, 9, 9}}.Append(nil), nil))
	m = take(902)
	require.NotZero(t, m.Flags&vfiouser.FlagError)
	require.Equal(t, uint32(unix.EFAULT), m.Error)
	require.Equal(t, []byte{1, 2, 3, 4}, d.link.Bulk()[8:12], "nothing written")
	err = waitFailed(t, d)
	require.ErrorIs(t, err, ErrProtocol)
	require.ErrorContains(t, err, "outside the DMA windows")
}

// requireNoNewDescriptors is requireNoNewFds for a process whose other goroutines open and
// close descriptors meanwhile: a descriptor that closes while it is looked at (its link
// unreadable) is not a leak.
func requireNoNewDescriptors(t testing.TB, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var leaked []string
		for fd, what := range fdSet(t) {
			if what != "" && before[fd] != what && !strings.HasPrefix(what, "/proc/") {
				leaked = append(leaked, fd+"->"+what)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaked descriptors: %v", leaked)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStoppedVFIOServerTimesOutThenResetRecovers: a board that stops answering (its process
// stopped) makes commands time out naming themselves, and opening it again times out naming
// the request; once it answers again, opening it resets the function and it works from a
// clean state.
func TestStoppedVFIOServerTimesOutThenResetRecovers(t *testing.T) {
	s := startVFIOServer(t)
	ctx := ctxT(t)
	opts := Opts{Timeout: 300 * time.Millisecond}
	d, err := Open(ctx, s.uri, opts)
	require.NoError(t, err)
	_, err = loadImage(d, ctx, lifImage(t, 8, 32, 1))
	require.NoError(t, err)
	_, err = runSteps(d, ctx, 5)
	require.NoError(t, err)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGSTOP))
	waitStopped(t, s.cmd.Process.Pid)
	defer s.cmd.Process.Signal(syscall.SIGCONT)
	_, err = d.Sensors(ctx)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "SENSORS: no completion in 300ms")
	_, err = d.Status()
	require.NoError(t, err, "a stopped board is slow, not gone")
	closed := time.Now()
	require.NoError(t, d.Close())
	require.Less(t, time.Since(closed), 3*time.Second, "closing a stopped board costs a timeout, not one per request")

	// The lock, the connection and the server's session are gone with the Close; a new open
	// waits for the stopped server's answer and times out naming it.
	_, err = Open(ctx, s.uri, opts)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "VERSION: no reply")

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGCONT))
	var d2 *Device
	require.Eventually(t, func() bool {
		d2, err = Open(ctx, s.uri, opts)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the board did not come back: %v", err)
	defer d2.Close()
	st, err := d2.Status()
	require.NoError(t, err)
	require.False(t, st.Loaded, "the function-level reset at open unloaded the network")
	require.Zero(t, st.Timestep)
	require.NoError(t, d2.Echo(ctx, []byte("works again")))
}

func TestVFIOUserSecondOpenIsBusy(t *testing.T) {
	s := startVFIOServer(t)
	ctx := ctxT(t)
	d, err := Open(ctx, s.uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	// Without the lock file the server itself refuses.
	_, err = Open(ctx, s.uri, Opts{NoLock: true})
	require.ErrorIs(t, err, ErrBusy)
	// With it, the lock names the holder.
	_, err = Open(ctx, s.uri, Opts{})
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorContains(t, err, "pid")
}

// TestVFIOUserWithoutAMappableBAR: when BAR 0 cannot be mapped (a kernel that will not map
// it, a server that offers no descriptor), every register access goes through the layer
// (pread/pwrite, REGION_READ/REGION_WRITE) and the device works the same.
func TestVFIOUserWithoutAMappableBAR(t *testing.T) {
	p, conn := newProxy(t)
	p.setReply(func(m vfiouser.Message) (vfiouser.Message, bool) {
		if m.Command == vfiouser.CmdDeviceGetRegionInfo && len(m.Fds) == 1 {
			vfiouser.CloseFds(m.Fds)
			m.Fds = nil
			b := append([]byte(nil), m.Payload[:vfio.RegionInfoSize]...)
			putLE32(b[0:], uint32(vfio.RegionInfoSize))
			putLE32(b[4:], le32(b[4:])&^(vfio.RegionInfoFlagMmap|vfio.RegionInfoFlagCaps))
			putLE32(b[12:], 0)
			m.Payload = b
		}
		return m, true
	})
	d, err := openThrough(t, p, conn, Opts{})
	require.NoError(t, err)
	defer d.Close()
	require.Nil(t, d.link.(*vfioLink).bar, "BAR 0 is not mapped")
	ctx := ctxT(t)
	require.NoError(t, d.WriteRegister(regmap.RegScratch, 0xa5a5_5a5a))
	v, err := d.ReadRegister(regmap.RegScratch)
	require.NoError(t, err)
	require.Equal(t, uint32(0xa5a5_5a5a), v)
	_, err = loadImage(d, ctx, lifImage(t, 8, 32, 1))
	require.NoError(t, err)
	require.NoError(t, d.Inject(ctx, randomInput(8, 50, 0.3, 3)))
	ts, err := runSteps(d, ctx, 50)
	require.NoError(t, err)
	require.Equal(t, uint64(50), ts)
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.NotEmpty(t, out.Spikes)
}
