package driver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/testenv"
)

// The test binary doubles as an emulator process and as a second client, so that the tests
// can kill a board and open a device from another process.
const (
	envServe  = "LRCHIP_TEST_SERVE"  // socket path: serve a board there until SIGTERM
	envProto  = "LRCHIP_TEST_PROTO"  // with envServe: the protocol version the board speaks
	envClient = "LRCHIP_TEST_CLIENT" // device URI: open it, print the error, exit
)

func TestMain(m *testing.M) {
	if p := os.Getenv(envServe); p != "" {
		os.Exit(serveMain(p))
	}
	if p := os.Getenv(envServeVFIOUser); p != "" {
		os.Exit(serveVFIOUserMain(p))
	}
	if u := os.Getenv(envClient); u != "" {
		os.Exit(clientMain(u))
	}
	preloadForUSB() // the lab build's USB tests need libumockdev-preload in this process
	os.Exit(testenv.RunM(m))
}

func serveMain(path string) int {
	opts := board.Opts{}
	if v := os.Getenv(envProto); v != "" {
		var maj, min uint16
		fmt.Sscanf(v, "%d.%d", &maj, &min)
		opts.Protocol = regmap.MakeVersion(maj, min)
	}
	if v := os.Getenv("LRCHIP_TEST_SPIN"); v != "" {
		opts.Spin, _ = time.ParseDuration(v)
	}
	b, err := board.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := board.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if p := os.Getenv("LRCHIP_TEST_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := b.ServeUnix(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func clientMain(uri string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := Open(ctx, uri, Opts{})
	if err != nil {
		fmt.Println(err)
		return 2
	}
	d.Close()
	fmt.Println("opened")
	return 0
}

// server is an emulator process started from the test binary.
type server struct {
	path string
	uri  string
	cmd  *exec.Cmd
}

// shortDir returns a temporary directory with a short path (socket paths are limited to
// 108 bytes).
func shortDir(t testing.TB) string {
	d, err := os.MkdirTemp("", "lr")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func startServer(t testing.TB, env ...string) *server {
	t.Helper()
	path := filepath.Join(shortDir(t), "emu.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envServe+"="+path), env...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	s := &server{path: path, uri: "emu:unix:" + path, cmd: cmd}
	t.Cleanup(s.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := Query(context.Background(), path, time.Second)
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator process did not come up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill ends the process (SIGTERM, then SIGKILL if it lingers) and reaps it.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		t := time.AfterFunc(2*time.Second, func() { s.cmd.Process.Kill() })
		s.cmd.Wait()
		t.Stop()
	}
}
