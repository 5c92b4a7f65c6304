package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// lrctl load, then lrctl run without a network, runs what is loaded, under its names, from
// where the device is: two runs of 20 steps give what one run of 40 gives.
func TestRunWhatIsLoaded(t *testing.T) {
	dir := shortRunDir(t)
	uri := serve(t, dir)
	img := filepath.Join(t.TempDir(), "h.lrni")
	_, _, err := lrctl2(t, "image", "build", examples+"hello.yaml", "-o", img)
	require.NoError(t, err)

	_, _, err = lrctl2(t, "run", "--device", uri, "--steps", "5")
	require.ErrorContains(t, err, "nothing is loaded on")
	_, _, err = lrctl2(t, "run", "--device", "emu:", "--steps", "5")
	require.ErrorContains(t, err, "keeps nothing loaded between commands")

	var early, late strings.Builder
	for step := 1; step <= 40; step++ {
		for n := range 4 {
			if step%(n+1) == 0 {
				fmt.Fprintf(&early, "%d,in,%d\n", step, n)
				if step > 20 {
					fmt.Fprintf(&late, "%d,in,%d\n", step-20, n)
				}
			}
		}
	}
	spikes, lateSpikes := writeFile(t, "s.csv", early.String()), writeFile(t, "l.csv", late.String())
	whole, _, err := lrctl2(t, "run", "--device", "emu:", img, "--steps", "40", "--input", spikes)
	require.NoError(t, err)

	_, _, err = lrctl2(t, "load", "--device", uri, img)
	require.NoError(t, err)
	first, errOut, err := lrctl2(t, "run", "--device", uri, "--steps", "20", "--input", spikes)
	require.NoError(t, err)
	require.Contains(t, errOut, "running network hello, loaded on")
	require.Contains(t, errOut, "from step 0")
	second, errOut, err := lrctl2(t, "run", "--device", uri, "--steps", "20", "--input", lateSpikes)
	require.NoError(t, err)
	require.Contains(t, errOut, "from step 20")
	w1, w2 := spikeRows(whole, 0, 1, 20), spikeRows(whole, 20, 1, 20)
	require.NotEmpty(t, w1)
	require.NotEmpty(t, w2)
	require.Equal(t, w1, spikeRows(first, 0, 1, 20))
	require.Equal(t, w2, spikeRows(second, 0, 1, 20), "the second run is steps 21-40, numbered from 1")

	// Probes added by an earlier run stay on the device: a second run with probes says so.
	_, _, err = lrctl2(t, "run", "--device", uri, "--steps", "2", "--probe", "exc:v")
	require.NoError(t, err)
	_, _, err = lrctl2(t, "run", "--device", uri, "--steps", "2", "--probe", "exc:v")
	require.ErrorContains(t, err, "load the image again")
}

// spikeRows returns a result CSV's spike rows of steps [lo, hi], their steps less shift.
func spikeRows(csv string, shift, lo, hi int) []string {
	var out []string
	for _, l := range strings.Split(csv, "\n") {
		f := strings.Split(l, ",")
		if len(f) < 5 || f[1] != "spike" {
			continue
		}
		step, _ := strconv.Atoi(f[0])
		step -= shift
		if step >= lo && step <= hi {
			f[0] = strconv.Itoa(step)
			out = append(out, strings.Join(f, ","))
		}
	}
	return out
}
