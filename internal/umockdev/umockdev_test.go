//go:build gousb

package umockdev

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestTestbedAndNode(t *testing.T) {
	tb, err := New()
	require.NoError(t, err)
	defer tb.Close()
	assert.Equal(t, tb.Root(), os.Getenv("UMOCKDEV_DIR"))
	require.NoError(t, tb.AddFromString("P: /devices/thing\nE: SUBSYSTEM=test\nA: answer=42\n"))
	b, err := os.ReadFile(filepath.Join(tb.Root(), "sys/devices/thing/answer"))
	require.NoError(t, err)
	assert.Equal(t, "42", string(b))
	err = tb.AddFromString("not a device")
	require.ErrorIs(t, err, ErrTestbed)
	assert.Contains(t, err.Error(), "adding devices")

	n, err := tb.AddNode("/dev/bus/usb/001/002")
	require.NoError(t, err)
	fd, err := unix.Open(filepath.Join(tb.Root(), "dev/bus/usb/001/002"), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	poll := func() int16 {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		_, err := unix.Poll(p, 1000)
		require.NoError(t, err)
		return p[0].Revents
	}
	pollNow := func() int16 {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		_, err := unix.Poll(p, 0)
		require.NoError(t, err)
		return p[0].Revents
	}
	// The terminal acts on the flow control characters in a kernel worker: soon, not at once.
	stopped := func() bool { return pollNow() == 0 }
	assert.Eventually(t, stopped, 5*time.Second, time.Millisecond, "not ready: no POLLOUT")
	n.SetReady(true)
	assert.Equal(t, int16(unix.POLLOUT), poll())
	n.SetReady(false)
	assert.Eventually(t, stopped, 5*time.Second, time.Millisecond)
	n.Gone()
	assert.NotZero(t, poll()&unix.POLLERR, "gone: POLLERR")
	_, err = os.Lstat(filepath.Join(tb.Root(), "dev/bus/usb/001/002"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
