package ring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations. The ring is shared between processes, so these are the
// non-private forms (no FUTEX_PRIVATE_FLAG).
const (
	futexWaitOp  = 0 // FUTEX_WAIT
	futexWakeOp  = 1 // FUTEX_WAKE
	futexWakeAll = 1<<31 - 1
)

// futexWait sleeps while *addr == val, for at most d. Spurious and early
// returns are fine: callers re-check their condition.
func futexWait(addr *uint32, val uint32, d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp,
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes every thread sleeping on addr.
func futexWake(addr *uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp,
		futexWakeAll, 0, 0, 0)
}

// wake bumps the futex word and wakes its sleepers. Bumping first makes a
// sleeper that read the word before the bump return from FUTEX_WAIT at once.
func wake(addr *uint32) {
	atomic.AddUint32(addr, 1)
	futexWake(addr)
}

// memfdCreate is a variable so tests can force the /dev/shm fallback.
var memfdCreate = unix.MemfdCreate

// shmDir is where the fallback files go.
var shmDir = "/dev/shm"

var shmSeq atomic.Uint64

// createShm makes a new shared file of size bytes: a sealed memfd, or when
// path is set or memfd_create is unavailable, a file created exclusively at
// path or in shmDir. It returns the descriptor and the file's path (empty for
// a memfd).
func createShm(name, path string, size int64) (fd int, outPath string, err error) {
	if path == "" {
		fd, err = memfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err == nil {
			if err = unix.Ftruncate(fd, size); err != nil {
				unix.Close(fd)
				return -1, "", fmt.Errorf("ring: size memfd: %w", err)
			}
			// Seal the size: a peer that shrank the file would make our
			// accesses fault (SIGBUS).
			if _, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
				unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
				unix.Close(fd)
				return -1, "", fmt.Errorf("ring: seal memfd: %w", err)
			}
			return fd, "", nil
		}
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
			return -1, "", fmt.Errorf("ring: memfd_create: %w", err)
		}
		path = filepath.Join(shmDir, fmt.Sprintf("%s-%d-%d", name, os.Getpid(), shmSeq.Add(1)))
	}
	fd, err = unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, "", fmt.Errorf("ring: create %s: %w", path, err)
	}
	if err = unix.Ftruncate(fd, size); err != nil {
		unix.Close(fd)
		unix.Unlink(path)
		return -1, "", fmt.Errorf("ring: size %s: %w", path, err)
	}
	return fd, path, nil
}

// sealShrink tries to forbid shrinking the file behind fd; it is best effort
// (plain files cannot be sealed, a memfd may be sealed against new seals).
func sealShrink(fd int) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || seals&unix.F_SEAL_SHRINK != 0 || seals&unix.F_SEAL_SEAL != 0 {
		return
	}
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)
}

// readHeaderFd reads the header of the ring file behind fd and returns the
// file size.
func readHeaderFd(fd int, buf []byte) (size int64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("ring: stat fd %d: %w", fd, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, fmt.Errorf("ring: fd %d is not a regular file (mode %#o)", fd, st.Mode)
	}
	if st.Size < HeaderSize {
		return 0, errorf(ErrProtocol, "file of %d bytes is smaller than the %d-byte header", st.Size, HeaderSize)
	}
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("ring: read header: %w", err)
	}
	if n < len(buf) {
		return 0, errorf(ErrProtocol, "short header read: %d of %d bytes", n, len(buf))
	}
	return st.Size, nil
}

// pidNamespace identifies this process's pid namespace (the inode of
// /proc/self/ns/pid); 0 if unknown.
var pidNamespace = sync.OnceValue(func() uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return 0
	}
	return st.Ino
})

// procWatch tells whether one process is still alive. It prefers a pidfd,
// which also reports an exited process that nobody has reaped yet (a zombie)
// and is immune to pid reuse once opened; without one it falls back to
// kill(pid, 0) plus the state in /proc/PID/stat.
type procWatch struct {
	pid   int
	pidfd int // -1: none
}

func newProcWatch(pid int) *procWatch {
	w := &procWatch{pid: pid, pidfd: -1}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		w.pidfd = fd
	} else if errors.Is(err, unix.ESRCH) {
		w.pidfd = -2 // gone already
	}
	return w
}

// gone reports whether the process has exited.
func (w *procWatch) gone() bool {
	switch {
	case w.pidfd == -2:
		return true
	case w.pidfd >= 0:
		fds := []unix.PollFd{{Fd: int32(w.pidfd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			return err == nil && n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0
		}
	}
	return processGone(w.pid)
}

func (w *procWatch) close() {
	if w.pidfd >= 0 {
		unix.Close(w.pidfd)
	}
	w.pidfd = -1
}

// processGone checks pid without a pidfd.
func processGone(pid int) bool {
	if err := unix.Kill(pid, 0); err != nil {
		return errors.Is(err, unix.ESRCH) // EPERM: alive, someone else's
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, syscall.ENOENT) || errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name, which may itself
	// contain parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st == 'Z' || st == 'X' || st == 'x'
}
