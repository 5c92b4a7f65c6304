//go:build gousb

package umockdev

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Preloaded reports whether libumockdev-preload is loaded in this process.
func Preloaded() bool {
	maps, err := os.ReadFile("/proc/self/maps")
	return err == nil && bytes.Contains(maps, []byte("libumockdev-preload"))
}

// EnsurePreloaded is what a test binary's TestMain calls first: it returns where
// libumockdev-preload is loaded, and otherwise re-executes the binary with it (Reexec),
// exiting with the reason where it cannot.
func EnsurePreloaded() {
	if Preloaded() {
		return
	}
	if err := Reexec(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Reexec replaces this process with itself, with libumockdev-preload preloaded: what a test
// binary's TestMain does when Preloaded is false, since the library must be there before
// libusb starts. It returns only on error (the library missing, say).
func Reexec() error {
	if strings.Contains(os.Getenv("LD_PRELOAD"), Preload) {
		return fmt.Errorf("umockdev: %s is in LD_PRELOAD but not loaded (is the umockdev package installed?): %w", Preload, ErrTestbed)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("umockdev: %w", err)
	}
	p := Preload
	if old := os.Getenv("LD_PRELOAD"); old != "" {
		p = old + ":" + p
	}
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "LD_PRELOAD=") {
			env = append(env, e)
		}
	}
	return syscall.Exec(exe, os.Args, append(env, "LD_PRELOAD="+p))
}
