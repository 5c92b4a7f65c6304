package hangup

import (
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (int, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// A peer that is alive is never gone, however often the polls are interrupted by signals
// (the Go runtime preempts with SIGURG; a loaded machine sees many).
func TestInterruptedPollIsNotGone(t *testing.T) {
	a, _ := socketPair(t)
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	defer unix.Close(ev)
	var stop atomic.Bool
	sent := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			syscall.Kill(os.Getpid(), syscall.SIGURG)
			n++
		}
		sent <- n
	}()
	for range 200 {
		fired, gone := Wait(ev, a, time.Millisecond)
		require.False(t, gone)
		require.False(t, fired)
		require.False(t, Gone(a))
	}
	stop.Store(true)
	require.Positive(t, <-sent)
}

func TestFiredAndGone(t *testing.T) {
	a, b := socketPair(t)
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	defer unix.Close(ev)

	// The eventfd fires, and is drained by the wait that saw it.
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, err = unix.Write(ev, one)
	require.NoError(t, err)
	fired, gone := Wait(ev, a, time.Hour)
	require.True(t, fired)
	require.False(t, gone)
	fired, _ = Wait(ev, a, 0)
	require.False(t, fired, "drained")

	// Data from the peer is not a hang-up.
	_, err = unix.Write(b, []byte("x"))
	require.NoError(t, err)
	require.False(t, Gone(a))

	// The peer shuts its end: gone, from a wait as from Gone.
	require.NoError(t, unix.Shutdown(b, unix.SHUT_RDWR))
	_, gone = Wait(ev, a, time.Hour)
	require.True(t, gone)
	require.True(t, Gone(a))
}

func TestPeerClosedWithoutData(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	require.False(t, Gone(fds[0]))
	unix.Close(fds[1]) // as when the peer's process exits
	require.True(t, Gone(fds[0]))
}
