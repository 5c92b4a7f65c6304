package board

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "lrb")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// serveTest serves a new board on a socket until the test ends.
func serveTest(t *testing.T, opts Opts) (string, *Board) {
	b, err := New(opts)
	require.NoError(t, err)
	path := filepath.Join(shortDir(t), "sub", "b.sock")
	ln, err := Listen(path)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.ServeUnix(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		b.Close()
		_, err := os.Stat(path)
		require.True(t, os.IsNotExist(err), "the socket is removed")
	})
	return path, b
}

// hello sends raw bytes as the hello and returns the decoded reply and the descriptors.
func hello(t *testing.T, path string, msg []byte) (regmap.HelloReply, int) {
	c, err := net.Dial("unixpacket", path)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(msg)
	require.NoError(t, err)
	buf, oob := make([]byte, 1024), make([]byte, 1024)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := c.(*net.UnixConn).ReadMsgUnix(buf, oob)
	require.NoError(t, err)
	r, err := regmap.DecodeHelloReply(buf[:n])
	require.NoError(t, err)
	return r, oobn
}

func TestServeAnswersQueriesAndRefusals(t *testing.T) {
	path, _ := serveTest(t, Opts{Serial: 9, Protocol: regmap.MakeVersion(1, 3)})
	r, oobn := hello(t, path, regmap.Hello{Version: regmap.ProtocolVersion, Flags: regmap.HelloQuery}.Append(nil))
	require.Equal(t, regmap.SetupOK, r.Status)
	require.Zero(t, oobn, "a query gets no descriptors")
	require.Equal(t, uint64(9), r.Serial)
	require.Equal(t, regmap.MakeVersion(1, 3), r.Version)
	require.Equal(t, uint32(8), r.Cores)
	require.False(t, r.Attached)

	r, _ = hello(t, path, []byte("garbage"))
	require.Equal(t, regmap.SetupError, r.Status)
	require.Contains(t, r.Message, "7 bytes, want 40")

	r, _ = hello(t, path, regmap.Hello{Version: regmap.MakeVersion(2, 0)}.Append(nil))
	require.Equal(t, regmap.SetupVersion, r.Status)
	require.Equal(t, regmap.MakeVersion(1, 3), r.Version)

	r, _ = hello(t, path, regmap.Hello{Version: regmap.ProtocolVersion, RingCap: [4]uint32{1024}}.Append(nil))
	require.Equal(t, regmap.SetupError, r.Status)
	require.Contains(t, r.Message, "below 4096")

	// A host that attaches gets the descriptors; while it is there the next is busy and
	// told who holds the board.
	c, err := net.Dial("unixpacket", path)
	require.NoError(t, err)
	_, err = c.Write(regmap.Hello{Version: regmap.ProtocolVersion}.Append(nil))
	require.NoError(t, err)
	buf, oob := make([]byte, 1024), make([]byte, 1024)
	n, oobn, _, _, err := c.(*net.UnixConn).ReadMsgUnix(buf, oob)
	require.NoError(t, err)
	r, err = regmap.DecodeHelloReply(buf[:n])
	require.NoError(t, err)
	require.Equal(t, regmap.SetupOK, r.Status)
	require.Equal(t, uint32(regmap.SetupFds), r.NFds)
	require.NotZero(t, oobn)
	closeRights(oob[:oobn])
	r, _ = hello(t, path, regmap.Hello{Version: regmap.ProtocolVersion}.Append(nil))
	require.Equal(t, regmap.SetupBusy, r.Status)
	require.Equal(t, uint32(os.Getpid()), r.HolderPID)
	require.NotEmpty(t, r.HolderComm)
	c.Close()
	require.Eventually(t, func() bool {
		r, _ := hello(t, path, regmap.Hello{Version: regmap.ProtocolVersion, Flags: regmap.HelloQuery}.Append(nil))
		return !r.Attached
	}, 5*time.Second, time.Millisecond, "the board lets go when the host hangs up")
}

func TestListenReplacesOnlyDeadSockets(t *testing.T) {
	path, _ := serveTest(t, Opts{})
	_, err := Listen(path)
	require.ErrorIs(t, err, ErrInUse)
	stale := filepath.Join(filepath.Dir(path), "stale.sock")
	require.NoError(t, os.WriteFile(stale, nil, 0o600))
	ln, err := Listen(stale)
	require.NoError(t, err)
	ln.Close()
}

func closeRights(oob []byte) {
	msgs, err := unixParse(oob)
	if err != nil {
		return
	}
	for _, fd := range msgs {
		unixClose(fd)
	}
}
