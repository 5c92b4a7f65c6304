package vfiodev

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/internal/vfio"
)

// envLibvfioUser names a build directory of nutanix/libvfio-user (meson setup build && ninja
// -C build), built outside the project: with it set, TestInteropWithLibvfioUserServer runs
// this client against its sample server, an implementation of vfio-user we did not write.
const envLibvfioUser = "LRCHIP_LIBVFIO_USER_BUILD"

// TestInteropWithLibvfioUserServer drives libvfio-user's samples/server with our client:
// version negotiation, device and region info (its BAR 1 is sparse-mappable with a
// descriptor), the configuration space, a DMA map of two windows, INTx routed to an eventfd,
// a BAR 0 write that makes the server interrupt a second later and then do DMA to our
// windows — directly into the mapped window 1 and with DMA_WRITE/DMA_READ messages into
// window 0, which our client serves — a BAR 0 read, a reset and the unmaps.
func TestInteropWithLibvfioUserServer(t *testing.T) {
	dir := os.Getenv(envLibvfioUser)
	if dir == "" {
		t.Skipf("set %s to a libvfio-user build directory to run the interop check", envLibvfioUser)
	}
	bin := filepath.Join(dir, "samples/server")
	sock := filepath.Join(t.TempDir(), "vfu.sock")
	srv := exec.Command(bin, "-v", sock)
	var log bytes.Buffer
	srv.Stdout, srv.Stderr = &log, &log
	require.NoError(t, srv.Start())
	defer func() {
		srv.Process.Kill()
		srv.Wait()
		t.Logf("libvfio-user server:\n%s", log.String())
	}()
	require.Eventually(t, func() bool { _, err := os.Stat(sock); return err == nil }, 10*time.Second, 10*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := DialUser(ctx, sock, UserOpts{Timeout: 10 * time.Second})
	require.NoError(t, err, "version negotiation")
	defer d.Close()
	u := d.(*userDev)
	t.Logf("server capabilities: %+v", u.server)

	info := d.Info()
	require.NotZero(t, info.Flags&vfio.DeviceFlagsPCI)
	require.GreaterOrEqual(t, info.NumRegions, uint32(vfio.PCINumRegions))
	for i := uint32(0); i < info.NumRegions; i++ {
		r, err := d.Region(i)
		require.NoError(t, err, "region %d", i)
		t.Logf("region %d: %d bytes, flags %#x, offset %#x, sparse %v, descriptor %v", i, r.Size, r.Flags, r.Offset, r.Sparse, r.fd >= 0)
		if i == 1 {
			require.Len(t, r.Sparse, 2, "BAR 1 has two mappable areas")
			require.GreaterOrEqual(t, r.fd, 0)
		}
	}

	var cfg [0x30]byte
	require.NoError(t, d.ReadRegion(vfio.PCIConfigRegionIndex, 0, cfg[:]))
	require.Equal(t, uint16(0xdead), binary.LittleEndian.Uint16(cfg[0:]))
	require.Equal(t, uint16(0xbeef), binary.LittleEndian.Uint16(cfg[2:]))
	require.Equal(t, uint16(0xcafe), binary.LittleEndian.Uint16(cfg[0x2c:]))
	require.Equal(t, uint16(0xbabe), binary.LittleEndian.Uint16(cfg[0x2e:]))

	// Two one-page windows of a memory file, as the sample client gives.
	fd, err := unix.MemfdCreate("interop-dma", unix.MFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(fd)
	const page = 4096
	require.NoError(t, unix.Ftruncate(fd, 2*page))
	mem, err := unix.Mmap(fd, 0, 2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(mem)
	var wins []*DMA
	for i := 0; i < 2; i++ {
		w := &DMA{IOVA: uint64(i+1) * 1 << 20, Size: page, Fd: fd, Offset: uint64(i * page), Mem: mem[i*page : (i+1)*page], Write: true}
		require.NoError(t, d.MapDMA(w), "DMA_MAP %d", i)
		wins = append(wins, w)
	}

	n, err := d.IRQCount(vfio.PCIINTxIRQIndex)
	require.NoError(t, err)
	require.Equal(t, uint32(1), n)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(efd)
	require.NoError(t, d.SetIRQs(vfio.PCIINTxIRQIndex, []int{efd}))

	// BAR 0 is a time register: a write arms the server's timer.
	when := time.Now().Unix() + 1
	require.NoError(t, d.WriteRegion(0, 0, binary.LittleEndian.AppendUint64(nil, uint64(when)), false))
	p := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
	nfd, err := unix.Poll(p, 10000)
	require.NoError(t, err)
	require.Equal(t, 1, nfd, "no interrupt from the server")
	// Then it writes 'A'..'D' in 1 KiB pieces into window 1 directly and into window 0 with
	// DMA_WRITE (which our client serves), and reads both back.
	want := append(append(append(bytes.Repeat([]byte{'A'}, 1024), bytes.Repeat([]byte{'B'}, 1024)...), bytes.Repeat([]byte{'C'}, 1024)...), bytes.Repeat([]byte{'D'}, 1024)...)
	require.Eventually(t, func() bool { return bytes.Equal(mem[:page], want) && bytes.Equal(mem[page:], want) }, 10*time.Second, 10*time.Millisecond,
		"the server's DMA did not land in both windows")
	require.NoError(t, d.Gone(), "serving the server's DMA_WRITE/DMA_READ broke nothing")

	var b [8]byte
	require.NoError(t, d.ReadRegion(0, 0, b[:]))
	t.Logf("BAR 0 reads %d (seconds since the time written)", int64(binary.LittleEndian.Uint64(b[:])))

	require.NoError(t, d.Reset())
	for _, w := range wins {
		require.NoError(t, d.UnmapDMA(w))
	}
	require.NoError(t, d.SetIRQs(vfio.PCIINTxIRQIndex, nil))
}
