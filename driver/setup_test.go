package driver

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// fakeBoard answers one hello with reply and the descriptors fds, then waits for the host
// to hang up.
func fakeBoard(t *testing.T, reply []byte, fds []int) string {
	path := filepath.Join(shortDir(t), "fake.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 256)
		c.Read(buf)
		var oob []byte
		if len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		c.WriteMsgUnix(reply, oob, nil)
		c.Read(buf) // until the host hangs up
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "emu:unix:" + path
}

func devNulls(t *testing.T, n int) []int {
	var fds []int
	for i := 0; i < n; i++ {
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		fds = append(fds, int(f.Fd()))
	}
	return fds
}

// memfd returns a sealed memory file of n bytes and its mapping.
func memfd(t *testing.T, n int) (int, []byte) {
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	require.NoError(t, err)
	require.NoError(t, unix.Ftruncate(fd, int64(n)))
	_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK)
	require.NoError(t, err)
	mem, err := unix.Mmap(fd, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(mem); unix.Close(fd) })
	return fd, mem
}

func TestBoardBreakingTheSetup(t *testing.T) {
	ok := regmap.HelloReply{Status: regmap.SetupOK, Version: regmap.ProtocolVersion, NFds: regmap.SetupFds}.Append(nil)
	tests := []struct {
		name       string
		reply      []byte
		fds        int
		err        error
		want       string
		bar, rings bool
	}{
		{"rings that are not rings", ok, regmap.SetupFds, ErrProtocol, "ring CMD", true, false},
		{"doorbell that is not an eventfd", ok, regmap.SetupFds, ErrProtocol, "descriptor 5 is not an eventfd", false, true},
		{"garbage", []byte("nonsense"), 0, ErrProtocol, "hello reply", false, false},
		{"too few descriptors", ok, 2, ErrProtocol, "passed 2 descriptors (announced 8), want 8", false, false},
		{"no memory file", ok, regmap.SetupFds, ErrProtocol, "the register file is not a 4096-byte memory file", false, false},
		{"busy", regmap.HelloReply{Status: regmap.SetupBusy, HolderPID: 77, HolderComm: "other"}.Append(nil), 0, ErrBusy, "held by pid 77 (other)", false, false},
		{"error", regmap.HelloReply{Status: regmap.SetupError, Message: "out of memory"}.Append(nil), 0, ErrDevice, "could not set up: out of memory", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fds := devNulls(t, tt.fds)
			if tt.bar {
				fds[0], _ = memfd(t, regmap.BARSize)
			}
			if tt.rings {
				for i := 0; i < regmap.NumRings; i++ {
					r, err := ring.Create(ring.Opts{Capacity: 4096, Heartbeat: -1})
					require.NoError(t, err)
					t.Cleanup(func() { r.Close() })
					fds[1+i] = r.Fd()
				}
				fd, bar := memfd(t, regmap.BARSize)
				fds[0] = fd
				for i := 0; i < regmap.NumRings; i++ {
					le := binary.LittleEndian
					le.PutUint64(bar[regmap.RingBaseLo(regmap.Ring(i)):], uint64(1+i))
					le.PutUint32(bar[regmap.RingSize(regmap.Ring(i)):], 4096)
				}
			}
			uri := fakeBoard(t, tt.reply, fds)
			before := fdSet(t)
			_, err := Open(context.Background(), uri, Opts{NoLock: true})
			require.ErrorIs(t, err, tt.err)
			require.ErrorContains(t, err, tt.want)
			requireNoNewFds(t, before)
		})
	}
}
