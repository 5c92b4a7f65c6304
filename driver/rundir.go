package driver

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// writableDir reports whether this process can create files in dir, or create dir itself.
func writableDir(dir string) bool {
	if unix.Access(dir, unix.W_OK|unix.X_OK) == nil {
		return true
	}
	if _, err := os.Stat(dir); err == nil {
		return false
	}
	return unix.Access(filepath.Dir(dir), unix.W_OK|unix.X_OK) == nil
}

// LockPath is the lock file beside an emulator's socket, where the host that holds the
// emulator writes its pid (emu serve removes it when it stops).
func LockPath(socket string) string { return socket + ".lock" }
