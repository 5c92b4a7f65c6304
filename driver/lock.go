package driver

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// devLock holds a device for this process: an exclusive flock on a lock file, with this
// process's pid written in it so that the next process can say who holds the device.
type devLock struct {
	f *os.File
}

// lockDevice takes the lock at path. A lock held by another process is ErrBusy naming the
// holder; a lock file that cannot be created (no such directory, no permission) is no lock
// at all (nil, nil): the device itself still refuses a second host.
func lockDevice(path, what string) (*devLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, nil
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errorf("%s is held by %s: %w", what, lockHolder(f), ErrBusy)
		}
		return nil, nil
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &devLock{f: f}, nil
}

func (l *devLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close() // releases the flock
	l.f = nil
}

// lockHolder names the process holding the flock on f: from the pid it wrote in the file,
// else from /proc/locks.
func lockHolder(f *os.File) string {
	pid := 0
	if b, err := os.ReadFile(f.Name()); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid <= 0 {
		pid = procLocksHolder(f)
	}
	if pid <= 0 {
		return "another process"
	}
	return procName(pid)
}

// procName is "pid N (comm)", or "pid N" when /proc does not say.
func procName(pid int) string {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
		return fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(b)))
	}
	return fmt.Sprintf("pid %d", pid)
}

// procLocksHolder finds the pid holding a flock on f's inode in /proc/locks.
func procLocksHolder(f *os.File) int {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	pl, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer pl.Close()
	want := fmt.Sprintf(":%d", st.Ino)
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
		fs := strings.Fields(sc.Text())
		if len(fs) >= 6 && fs[1] == "FLOCK" && strings.HasSuffix(fs[5], want) && strings.Count(fs[5], ":") == 2 {
			if dev := strings.TrimSuffix(fs[5], want); dev == fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev)) {
				if pid, err := strconv.Atoi(fs[4]); err == nil {
					return pid
				}
			}
		}
	}
	return 0
}
