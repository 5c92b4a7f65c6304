// Package emuproc runs an emulated board as its own process for hostlib's tests (the
// device emu:unix:PATH, as `lrctl emu serve` would): the test binary re-executes itself
// as the board, so that a test can kill a board under load. It is linked into tests only.
package emuproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/emu/board"
)

const env = "LRCHIP_HOSTLIB_TEST_BOARD" // socket path: serve a board there until SIGTERM

// Main serves a board and exits when the test binary was started as one by Start; call it
// first in TestMain.
func Main() {
	path := os.Getenv(env)
	if path == "" {
		return
	}
	b, err := board.New(board.Opts{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := board.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := b.ServeUnix(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Board is a board process.
type Board struct {
	URI string
	cmd *exec.Cmd
}

// Start starts a board process and waits until it takes connections. The test's cleanup
// kills it.
func Start(t testing.TB) *Board {
	t.Helper()
	dir, err := os.MkdirTemp("", "lrh") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "emu.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &Board{URI: "emu:unix:" + path, cmd: cmd}
	t.Cleanup(b.Kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := driver.Query(context.Background(), path, time.Second)
		if err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("emuproc: the board process did not come up: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling for a process to come up, not for a result
	}
}

// Kill kills the board process at once (SIGKILL) and reaps it. It is idempotent.
func (b *Board) Kill() {
	if b.cmd.ProcessState == nil {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	}
}
