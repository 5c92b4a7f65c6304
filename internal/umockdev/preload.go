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
