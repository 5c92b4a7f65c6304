package driver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/pcie"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// envServeVFIOUser, for the test binary started as a server: serve a board as its PCIe
// function over vfio-user at this socket path until SIGTERM.
const envServeVFIOUser = "LRCHIP_TEST_SERVE_VFIO_USER"

func serveVFIOUserMain(path string) int {
	b, err := board.New(board.Opts{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := pcie.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := pcie.New(b, pcie.Opts{Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "vfio-user server: "+f+"\n", a...) }}).Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startVFIOServer starts a vfio-user server process (the test binary) and waits until it
// accepts connections.
func startVFIOServer(t testing.TB) *server {
	t.Helper()
	path := filepath.Join(shortDir(t), "vfu.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServeVFIOUser+"="+path)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	s := &server{path: path, uri: "vfio-user:" + path, cmd: cmd}
	t.Cleanup(s.kill)
	require.Eventually(t, func() bool {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 20*time.Second, 5*time.Millisecond, "the vfio-user server did not come up")
	return s
}

// openVFIOOn opens a device on b served over vfio-user in this process (a socket pair).
func openVFIOOn(t testing.TB, b *board.Board, opts Opts) (*Device, error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "vfio-user")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		conns[i] = c.(*net.UnixConn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conns[1].Close()
		pcie.New(b, pcie.Opts{}).ServeConn(ctx, conns[1])
	}()
	t.Cleanup(func() { cancel(); <-done })
	l, err := DialVFIOUser(ctxT(t), conns[0], opts, "vfio-user:pair")
	if err != nil {
		return nil, err
	}
	return OpenLink(ctxT(t), "vfio-user:pair", l, opts)
}

func TestVFIOUserOpensTheBoard(t *testing.T) {
	b, err := board.New(board.Opts{Serial: 77})
	require.NoError(t, err)
	defer b.Close()
	d, err := openVFIOOn(t, b, Opts{RingCapacity: 64 << 10, Bulk: 4 << 20})
	require.NoError(t, err)
	defer d.Close()
	i := d.Info()
	require.Equal(t, uint64(77), i.Serial)
	require.Equal(t, regmap.ProtocolVersion, i.Protocol)
	require.Equal(t, (64<<10)/4, i.MaxPayload)
	st, err := d.Status()
	require.NoError(t, err)
	require.True(t, st.Ready)
	ctx := ctxT(t)
	require.NoError(t, d.Echo(ctx, []byte("hello over vfio-user")))
	res, err := loadImage(d, ctx, relayImage(t, 16))
	require.NoError(t, err)
	require.Equal(t, 2, res.Outputs)
	ts, err := runSteps(d, ctx, 10)
	require.NoError(t, err)
	require.Equal(t, uint64(10), ts)
}

// TestSameSpikesOverVFIOUser runs one workload on emu: and on an emulator process through
// vfio-user: and wants the same bits.
func TestSameSpikesOverVFIOUser(t *testing.T) {
	s := startVFIOServer(t)
	local := runWorkload(t, "emu:")
	remote := runWorkload(t, s.uri)
	require.NotEmpty(t, local.Spikes)
	require.Equal(t, local, remote)
}

// TestListFindsVFIOUserServers: a vfio-user server in the run directory is listed beside the
// emulator sockets, with what its registers say, and with who holds it when one does.
func TestListFindsVFIOUserServers(t *testing.T) {
	s := startVFIOServer(t)
	u := startServer(t)
	dir := filepath.Dir(s.path)
	require.NoError(t, os.Symlink(u.path, filepath.Join(dir, "emu.sock")))
	ctx := ctxT(t)
	found, err := List(ctx, ListOpts{RunDir: dir, Sysfs: t.TempDir()})
	require.NoError(t, err)
	require.Len(t, found, 2)
	byURI := map[string]Found{}
	for _, f := range found {
		byURI[f.URI] = f
	}
	v, ok := byURI[s.uri]
	require.True(t, ok, "%+v", found)
	require.Equal(t, TransportVFIOUser, v.Transport)
	require.Equal(t, regmap.BoardEmulator.String(), v.Board)
	require.Equal(t, "1", v.Serial)
	require.Equal(t, "1.0", v.Protocol)
	require.Equal(t, "8×1024", v.Size)
	require.Empty(t, v.Error)
	require.Empty(t, v.Holder)
	require.Contains(t, byURI, "emu:unix:"+filepath.Join(dir, "emu.sock"))

	d, err := Open(ctx, s.uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	found, err = List(ctx, ListOpts{RunDir: dir, Sysfs: t.TempDir()})
	require.NoError(t, err)
	for _, f := range found {
		if f.URI == s.uri {
			require.Contains(t, f.Holder, fmt.Sprintf("pid %d", os.Getpid()))
		}
	}
}
