package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver"
)

// asLrctl, set to 1, makes the test binary run lrctl's main (see TestMain).
const asLrctl = "LRCTL_TEST_AS_LRCTL"

// startServe runs lrctl emu serve as a process of its own and returns it with the URI it
// printed.
func startServe(t *testing.T, dir string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, append([]string{"emu", "serve"}, args...)...)
	cmd.Env = append(os.Environ(), asLrctl+"=1", driver.RunDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	_, uri, ok := strings.Cut(strings.TrimSpace(line), " on ")
	require.True(t, ok, line)
	return cmd, uri
}

// SIGTERM stops lrctl emu serve cleanly: its socket and the lock a host took are gone.
func TestServeLeavesNothingOnSIGTERM(t *testing.T) {
	dir := shortRunDir(t)
	cmd, uri := startServe(t, dir)
	require.Equal(t, "emu:unix:"+filepath.Join(dir, "emu0.sock"), uri)
	out, _, err := lrctl2(t, "info", "--device", uri)
	require.NoError(t, err)
	require.Contains(t, out, "serial 1")
	_, err = os.Stat(driver.LockPath(filepath.Join(dir, "emu0.sock")))
	require.NoError(t, err, "a host took the lock")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "a clean exit")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left)
}

// Each emulator gets its own serial; a command without --device uses an emulator process
// nobody holds before the in-process emulator, and says so.
func TestDefaultDeviceIsARunningEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := shortRunDir(t)
	_, first := startServe(t, dir)
	_, second := startServe(t, dir, "--size", "2x256")
	out, _, err := lrctlCtx(ctx, "info", "--device", second)
	require.NoError(t, err)
	require.Contains(t, out, "serial 2")

	out, errOut, err := lrctlCtx(ctx, "info")
	require.NoError(t, err)
	require.Contains(t, out, first)
	require.Contains(t, out, "serial 1")
	require.Contains(t, errOut, "using "+first+", the first device found")
	require.Greater(t, serialFor("/a/x.sock"), uint64(1000), "a path gives a serial above the run directory's")
	require.NotEqual(t, serialFor("/a/x.sock"), serialFor("/b/x.sock"))
}
