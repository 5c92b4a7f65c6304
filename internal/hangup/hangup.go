// Package hangup tells whether the process at the other end of a Unix socket is gone, and
// sleeps on an eventfd until it fires or the peer goes — the liveness test of the emulator's
// shared-memory transport, on both its ends.
//
// Only a hang-up, an error or an end of file on the socket means gone: a poll interrupted
// by a signal (the Go runtime preempts goroutines with SIGURG, far more often on a loaded
// machine) is restarted, never read as the peer's death.
package hangup

import (
	"time"

	"golang.org/x/sys/unix"
)

const goneEvents = unix.POLLHUP | unix.POLLRDHUP | unix.POLLERR | unix.POLLNVAL

// Gone reports, without waiting, whether the peer of the socket sock has hung up.
func Gone(sock int) bool {
	_, gone := Wait(-1, sock, 0)
	return gone
}

// Wait sleeps until the eventfd ev becomes readable (it is drained then: fired), the peer of
// sock hangs up (gone), or d passes (neither). ev < 0 waits on the socket alone.
func Wait(ev, sock int, d time.Duration) (fired, gone bool) {
	deadline := time.Now().Add(d)
	fds := make([]unix.PollFd, 0, 2)
	fds = append(fds, unix.PollFd{Fd: int32(sock), Events: unix.POLLIN | unix.POLLRDHUP})
	if ev >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(ev), Events: unix.POLLIN})
	}
	for {
		ms := 0
		if left := time.Until(deadline); left > 0 {
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds[0].Revents = 0
		if ev >= 0 {
			fds[1].Revents = 0
		}
		_, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Poll itself failed (a closed descriptor): nothing can be learnt from it any more.
			return false, true
		}
		break
	}
	if ev >= 0 && fds[1].Revents&unix.POLLIN != 0 {
		var b [8]byte
		unix.Read(ev, b[:])
		fired = true
	}
	r := fds[0].Revents
	switch {
	case r&goneEvents != 0:
		gone = true
	case r&unix.POLLIN != 0:
		// Readable: data (the peer said something) or end of file (it closed its end).
		var b [1]byte
		for {
			n, _, err := unix.Recvfrom(sock, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			}
			gone = err == nil && n == 0 || err != nil && err != unix.EAGAIN
			break
		}
	}
	return fired, gone
}
