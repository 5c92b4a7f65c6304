package vfiodev

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// FuzzClientReader connects the client to a fake server that answers the handshake
// properly and then sends arbitrary bytes: replies, commands (DMA_READ/DMA_WRITE) and
// garbage. The client must end gone or failed or fine, never panic or hang, whatever comes.
func FuzzClientReader(f *testing.F) {
	f.Add(vfiouser.Header{ID: 1, Command: vfiouser.CmdRegionRead, Size: 36, Flags: vfiouser.TypeReply}.Append(vfiouser.RegionAccess{Count: 4, Data: []byte{1, 2, 3, 4}}.Append(nil)))
	f.Add(append(vfiouser.Header{ID: 9, Command: vfiouser.CmdDMARead, Size: 32}.Append(nil), vfiouser.DMAAccess{Address: 1 << 32, Count: 8}.Append(nil)...))
	f.Add(append(vfiouser.Header{ID: 9, Command: vfiouser.CmdDMAWrite, Size: 34}.Append(nil), vfiouser.DMAAccess{Address: 1<<32 + 8, Count: 2, Data: []byte{7, 7}}.Append(nil)...))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 1<<16 {
			return
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var conns [2]*net.UnixConn
		for i, fd := range fds {
			file := os.NewFile(uintptr(fd), "fuzz")
			c, err := net.FileConn(file)
			file.Close()
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c.(*net.UnixConn)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer conns[1].Close()
			s := vfiouser.NewConn(conns[1])
			for _, cmd := range []vfiouser.Command{vfiouser.CmdVersion, vfiouser.CmdDeviceGetInfo} {
				m, err := s.Receive()
				if err != nil {
					return
				}
				vfiouser.CloseFds(m.Fds)
				payload := vfiouser.Version{Major: 0, Minor: 1}.Append(nil)
				if cmd == vfiouser.CmdDeviceGetInfo {
					payload = vfio.Encode(nil, &vfio.DeviceInfo{Argsz: uint32(vfio.DeviceInfoSize), Flags: vfio.DeviceFlagsPCI, NumRegions: 9, NumIRQs: 5})
				}
				s.Reply(m.Header, payload, nil)
			}
			conns[1].Write(raw)
			conns[1].CloseWrite()
			for {
				m, err := s.Receive()
				if err != nil {
					return
				}
				vfiouser.CloseFds(m.Fds)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, err := NewUser(ctx, conns[0], "fuzz", UserOpts{Timeout: 20 * time.Millisecond})
		if err == nil {
			u := d.(*userDev)
			u.mu.Lock()
			u.windows = append(u.windows, &DMA{IOVA: 1 << 32, Size: 4096, Mem: make([]byte, 4096), Write: true})
			u.mu.Unlock()
			var b [4]byte
			d.ReadRegion(0, 0, b[:])
			d.Close()
		}
		<-done
	})
}
