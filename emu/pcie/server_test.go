package pcie

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
	"github.com/lrchip/lrchip/runtime/ring"
)

// host is a minimal vfio-user client for the tests, written against the spec with
// internal/vfiouser: enough to drive the board by hand.
type host struct {
	t    *testing.T
	c    *vfiouser.Conn
	id   uint16
	bar  []byte // BAR 0, mapped read-only
	done chan error
}

func pair(t *testing.T) (client, server *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		conns[i] = c.(*net.UnixConn)
	}
	return conns[0], conns[1]
}

func newBoard(t *testing.T) *board.Board {
	t.Helper()
	b, err := board.New(board.Opts{Size: chip.Size{Cores: 2, NeuronsPerCore: 64}})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// connect serves b on one end of a socket pair and negotiates the version on the other.
func connect(t *testing.T, srv *Server) *host {
	t.Helper()
	cc, sc := pair(t)
	h := &host{t: t, c: vfiouser.NewConn(cc), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer sc.Close()
		h.done <- srv.ServeConn(ctx, sc)
	}()
	t.Cleanup(func() {
		cancel()
		cc.Close()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("the server did not end")
		}
		if h.bar != nil {
			unix.Munmap(h.bar)
		}
	})
	r := h.call(vfiouser.CmdVersion, vfiouser.Version{Major: 0, Minor: 1, Caps: vfiouser.Capabilities{MaxMsgFds: 8}}.Append(nil))
	v, err := vfiouser.DecodeVersion(r.Payload)
	require.NoError(t, err)
	require.Equal(t, uint16(0), v.Major)
	require.Equal(t, uint16(1), v.Minor)
	require.GreaterOrEqual(t, v.Caps.Fds(), uint64(2))
	return h
}

// try sends a command and returns the reply (which may be an error reply).
func (h *host) try(cmd vfiouser.Command, payload []byte, fds ...int) vfiouser.Message {
	h.t.Helper()
	h.id++
	require.NoError(h.t, h.c.Send(vfiouser.Header{ID: h.id, Command: cmd}, payload, fds))
	h.c.UnixConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := h.c.Receive()
	require.NoError(h.t, err)
	require.True(h.t, m.IsReply())
	require.Equal(h.t, h.id, m.ID)
	require.Equal(h.t, cmd, m.Command)
	return m
}

func (h *host) call(cmd vfiouser.Command, payload []byte, fds ...int) vfiouser.Message {
	h.t.Helper()
	m := h.try(cmd, payload, fds...)
	require.Zero(h.t, m.Flags&vfiouser.FlagError, "%s failed: errno %d", cmd, m.Error)
	return m
}

func (h *host) errno(cmd vfiouser.Command, payload []byte, fds ...int) unix.Errno {
	h.t.Helper()
	m := h.try(cmd, payload, fds...)
	vfiouser.CloseFds(m.Fds)
	require.NotZero(h.t, m.Flags&vfiouser.FlagError, "%s succeeded", cmd)
	return unix.Errno(m.Error)
}

func (h *host) write(region uint32, off uint64, data []byte) {
	h.t.Helper()
	h.call(vfiouser.CmdRegionWrite, vfiouser.RegionAccess{Offset: off, Region: region, Count: uint32(len(data)), Data: data}.Append(nil))
}

func (h *host) writeReg(off, v uint32) {
	h.t.Helper()
	h.write(regmap.PCIBarRegs, uint64(off), le.AppendUint32(nil, v))
}

func (h *host) read(region uint32, off uint64, n uint32) []byte {
	h.t.Helper()
	m := h.call(vfiouser.CmdRegionRead, vfiouser.RegionAccess{Offset: off, Region: region, Count: n}.Append(nil))
	a, err := vfiouser.DecodeRegionAccess(m.Payload, "REGION_READ reply", true, n)
	require.NoError(h.t, err)
	return a.Data
}

// reg reads a register through the mapping of BAR 0.
func (h *host) reg(off uint32) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&h.bar[off])))
}

// mapBAR asks for BAR 0's region info and maps the descriptor it brings.
func (h *host) mapBAR() {
	h.t.Helper()
	m := h.call(vfiouser.CmdDeviceGetRegionInfo, vfiouser.RegionInfoRequest(regmap.PCIBarRegs, vfiouser.MaxRegionInfo))
	ri, err := vfiouser.DecodeRegionInfo(m.Payload, regmap.PCIBarRegs)
	require.NoError(h.t, err)
	require.Equal(h.t, uint64(regmap.BARSize), ri.Size)
	require.NotZero(h.t, ri.Flags&vfio.RegionInfoFlagMmap)
	require.Equal(h.t, []vfio.SparseMmapArea{{Offset: 0, Size: regmap.BARSize}}, ri.Sparse)
	require.Len(h.t, m.Fds, 1)
	defer vfiouser.CloseFds(m.Fds)
	_, err = unix.Mmap(m.Fds[0], int64(ri.Offset), regmap.BARSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.Error(h.t, err, "the register file must not be writable behind the firmware's back")
	h.bar, err = unix.Mmap(m.Fds[0], int64(ri.Offset), regmap.BARSize, unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(h.t, err)
}

// dma is host memory for the board: one memory file holding the four rings and the bulk
// window, each mapped as a window of its own.
type dma struct {
	fd    int
	mem   []byte
	rings [regmap.NumRings]*ring.Ring
	base  [regmap.NumRings + 1]uint64 // IOVAs: the rings, then the bulk window
	off   [regmap.NumRings + 1]uint64 // offsets in the file
	size  [regmap.NumRings + 1]uint64
	prod  [regmap.NumRings]*ring.Producer
	cons  [regmap.NumRings]*ring.Consumer
}

const (
	testRingCap = 64 << 10
	testBulk    = 1 << 20
	iovaBase    = 0x1_0000_0000
)

func newDMA(t *testing.T, sealable bool) *dma {
	t.Helper()
	d, release := newDMAOwned(t, sealable)
	t.Cleanup(release)
	return d
}

// newDMAOwned is newDMA for a caller that releases it itself.
func newDMAOwned(t *testing.T, sealable bool) (*dma, func()) {
	t.Helper()
	flags := unix.MFD_CLOEXEC
	if sealable {
		flags |= unix.MFD_ALLOW_SEALING
	}
	fd, err := unix.MemfdCreate("lrchip-test-dma", flags)
	require.NoError(t, err)
	d := &dma{fd: fd}
	var total uint64
	for i := 0; i <= regmap.NumRings; i++ {
		n := uint64(regmap.RingHeaderSize + testRingCap)
		if i == regmap.NumRings {
			n = testBulk
		}
		d.off[i], d.size[i] = total, n
		d.base[i] = iovaBase + uint64(i)<<24 // windows 16 MiB apart
		total += n
	}
	require.NoError(t, unix.Ftruncate(fd, int64(total)))
	d.mem, err = unix.Mmap(fd, 0, int(total), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.NoError(t, err)
	for i := range d.rings {
		d.rings[i], err = ring.New(d.mem[d.off[i]:d.off[i]+d.size[i]], ring.Opts{Capacity: testRingCap, Heartbeat: -1})
		require.NoError(t, err)
	}
	return d, func() {
		for _, r := range d.rings {
			r.Close()
		}
		unix.Munmap(d.mem)
		unix.Close(d.fd)
	}
}

// mapAll gives the board every window and writes the ring and bulk registers.
func (h *host) mapAll(d *dma) {
	h.t.Helper()
	for i := 0; i <= regmap.NumRings; i++ {
		h.call(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: vfiouser.DMAReadable | vfiouser.DMAWriteable, Offset: d.off[i], Address: d.base[i], Size: d.size[i]}.Append(nil), d.fd)
	}
	for i := regmap.Ring(0); i < regmap.NumRings; i++ {
		h.writeReg(regmap.RingBaseLo(i), uint32(d.base[i]))
		h.writeReg(regmap.RingBaseHi(i), uint32(d.base[i]>>32))
		h.writeReg(regmap.RingSize(i), testRingCap)
	}
	h.writeReg(regmap.RegBulkBaseLo, uint32(d.base[regmap.NumRings]))
	h.writeReg(regmap.RegBulkBaseHi, uint32(d.base[regmap.NumRings]>>32))
	h.writeReg(regmap.RegBulkSize, testBulk)
}

// waitStatus polls STATUS (through the mapping) until one of the bits is set.
func (h *host) waitStatus(bits uint32) uint32 {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := h.reg(regmap.RegStatus); s&bits != 0 {
			return s
		}
		require.True(h.t, time.Now().Before(deadline), "STATUS %#x never had %#x", h.reg(regmap.RegStatus), bits)
		time.Sleep(time.Millisecond)
	}
}

// irqs routes the MSI-X vectors to fresh eventfds.
func (h *host) irqs() [regmap.NumMSIXVectors]int {
	h.t.Helper()
	fds := h.irqsOwned()
	h.t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	return fds
}

// irqsOwned is irqs for a caller that closes the eventfds itself.
func (h *host) irqsOwned() [regmap.NumMSIXVectors]int {
	h.t.Helper()
	var fds [regmap.NumMSIXVectors]int
	for i := range fds {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		require.NoError(h.t, err)
		fds[i] = fd
	}
	h.call(vfiouser.CmdDeviceSetIRQs, vfiouser.IRQSet{Flags: vfio.IRQSetDataEventfd | vfio.IRQSetActionTrigger, Index: vfio.PCIMSIXIRQIndex, Count: regmap.NumMSIXVectors}.Append(nil), fds[:]...)
	return fds
}

// waitFd waits for an eventfd to be signalled.
func waitFd(t *testing.T, fd int) {
	t.Helper()
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 10000)
	require.NoError(t, err)
	require.Equal(t, 1, n, "no interrupt within 10 s")
	var b [8]byte
	unix.Read(fd, b[:])
}

// nop sends a NOP with data through CMD and waits for its completion (interrupt armed).
func (h *host) nop(d *dma, irq int, tag uint32, data []byte) regmap.Completion {
	h.t.Helper()
	p := d.producer(h.t, regmap.RingCmd)
	buf, err := p.TryReserve(regmap.TypeCommand, regmap.CommandSize(len(data)))
	require.NoError(h.t, err)
	regmap.PutCommand(buf, regmap.Command{Tag: tag, Op: regmap.OpNop, Args: data})
	p.Commit()
	p.Publish()
	// Need-wakeup: the doorbell only when the board sleeps.
	if h.reg(regmap.RegStatus)&regmap.StatusSleeping != 0 {
		h.writeReg(regmap.RegDoorbell, 1<<regmap.RingCmd)
	}
	c := d.consumer(h.t, regmap.RingCpl)
	for {
		h.writeReg(regmap.RegIRQMask, regmap.IRQAll)
		r, err := c.TryRead()
		if err == nil {
			require.Equal(h.t, regmap.TypeCompletion, r.Type)
			cpl, err := regmap.DecodeCompletion(r.Payload)
			require.NoError(h.t, err)
			cpl.Data = append([]byte(nil), cpl.Data...)
			c.Release()
			h.writeReg(regmap.RegIRQMask, 0)
			return cpl
		}
		require.ErrorIs(h.t, err, ring.ErrEmpty)
		waitFd(h.t, irq)
	}
}

func (d *dma) producer(t *testing.T, r regmap.Ring) *ring.Producer {
	if d.prod[r] == nil {
		p, err := d.rings[r].Producer()
		require.NoError(t, err)
		d.prod[r] = p
	}
	return d.prod[r]
}

func (d *dma) consumer(t *testing.T, r regmap.Ring) *ring.Consumer {
	if d.cons[r] == nil {
		c, err := d.rings[r].Consumer()
		require.NoError(t, err)
		d.cons[r] = c
	}
	return d.cons[r]
}

func TestDeviceDescription(t *testing.T) {
	h := connect(t, New(newBoard(t), Opts{}))
	m := h.call(vfiouser.CmdDeviceGetInfo, vfiouser.DeviceInfoRequest())
	info, err := vfiouser.DecodeDeviceInfo(m.Payload)
	require.NoError(t, err)
	require.Equal(t, uint32(vfio.DeviceFlagsPCI|vfio.DeviceFlagsReset), info.Flags)
	require.Equal(t, uint32(vfio.PCINumRegions), info.NumRegions)
	require.Equal(t, uint32(vfio.PCINumIRQs), info.NumIRQs)

	for _, tc := range []struct {
		index uint32
		size  uint64
		flags uint32
	}{
		{vfio.PCIConfigRegionIndex, regmap.PCIConfigSize, vfio.RegionInfoFlagRead | vfio.RegionInfoFlagWrite},
		{regmap.PCIBarMSIX, regmap.PCIBarMSIXSize, vfio.RegionInfoFlagRead | vfio.RegionInfoFlagWrite},
		{regmap.PCIBarRegs, regmap.BARSize, vfio.RegionInfoFlagRead | vfio.RegionInfoFlagWrite | vfio.RegionInfoFlagMmap | vfio.RegionInfoFlagCaps},
		{1, 0, 0},
		{vfio.PCIROMRegionIndex, 0, 0},
	} {
		m := h.call(vfiouser.CmdDeviceGetRegionInfo, vfiouser.RegionInfoRequest(tc.index, 32))
		ri, err := vfiouser.DecodeRegionInfo(m.Payload, tc.index)
		require.NoError(t, err)
		require.Equal(t, tc.size, ri.Size, "region %d", tc.index)
		require.Equal(t, tc.flags, ri.Flags, "region %d", tc.index)
		require.Empty(t, m.Fds, "no descriptor when the capability does not fit")
	}
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdDeviceGetRegionInfo, vfiouser.RegionInfoRequest(9, 32)))

	// Configuration space: our ids, class, the MSI-X capability with two vectors in BAR 2.
	cfg := h.read(vfio.PCIConfigRegionIndex, 0, regmap.PCIConfigSize)
	require.Equal(t, regmap.PCIVendorID, le.Uint16(cfg[regmap.PCIConfigVendor:]))
	require.Equal(t, regmap.PCIDeviceID, le.Uint16(cfg[regmap.PCIConfigDevice:]))
	require.Equal(t, regmap.PCIClass, le.Uint32(cfg[regmap.PCIConfigRevision:])>>8)
	require.Equal(t, byte(regmap.MSIXCapOffset), cfg[regmap.PCIConfigCapPtr])
	require.Equal(t, byte(regmap.MSIXCapID), cfg[regmap.MSIXCapOffset])
	require.Equal(t, uint16(regmap.NumMSIXVectors-1), le.Uint16(cfg[regmap.MSIXCapOffset+regmap.MSIXCapControl:])&regmap.MSIXControlTableMask)
	require.Equal(t, uint32(regmap.PCIBarMSIX), le.Uint32(cfg[regmap.MSIXCapOffset+regmap.MSIXCapTable:])&7)
	// BAR sizing: all ones reads back as the size mask; the vendor id does not change.
	h.write(vfio.PCIConfigRegionIndex, regmap.PCIConfigBAR0, []byte{0xff, 0xff, 0xff, 0xff})
	require.Equal(t, ^uint32(regmap.BARSize-1), le.Uint32(h.read(vfio.PCIConfigRegionIndex, regmap.PCIConfigBAR0, 4)))
	h.write(vfio.PCIConfigRegionIndex, 0, []byte{0, 0})
	require.Equal(t, regmap.PCIVendorID, le.Uint16(h.read(vfio.PCIConfigRegionIndex, 0, 2)))
	h.write(vfio.PCIConfigRegionIndex, regmap.PCIConfigCommand, []byte{0xff, 0xff})
	require.Equal(t, uint16(regmap.PCICommandMemory|regmap.PCICommandMaster|1<<10), le.Uint16(h.read(vfio.PCIConfigRegionIndex, regmap.PCIConfigCommand, 2)))

	for _, tc := range []struct {
		index, count uint32
	}{{vfio.PCIINTxIRQIndex, 0}, {vfio.PCIMSIIRQIndex, 0}, {vfio.PCIMSIXIRQIndex, regmap.NumMSIXVectors}, {vfio.PCIErrIRQIndex, 1}, {vfio.PCIReqIRQIndex, 1}} {
		m := h.call(vfiouser.CmdDeviceGetIRQInfo, vfiouser.IRQInfoRequest(tc.index))
		ii, err := vfiouser.DecodeIRQInfo(m.Payload, tc.index)
		require.NoError(t, err)
		require.Equal(t, tc.count, ii.Count, "IRQ index %d", tc.index)
	}
}

func TestRegistersHaveTheirSemantics(t *testing.T) {
	b := newBoard(t)
	h := connect(t, New(b, Opts{}))
	h.mapBAR()
	require.Equal(t, regmap.Magic, h.reg(regmap.RegMagic))
	require.Equal(t, regmap.Magic, le.Uint32(h.read(regmap.PCIBarRegs, regmap.RegMagic, 4)))
	h.writeReg(regmap.RegScratch, 0x1234_5678)
	require.Equal(t, uint32(0x1234_5678), h.reg(regmap.RegScratch))
	h.writeReg(regmap.RegMagic, 0) // RO
	require.Equal(t, regmap.Magic, h.reg(regmap.RegMagic))
	// An 8-byte read is the LO/HI pair.
	serial := h.read(regmap.PCIBarRegs, regmap.RegSerialLo, 8)
	require.Equal(t, uint64(board.DefaultSerial), le.Uint64(serial))

	for _, tc := range []struct {
		name string
		a    vfiouser.RegionAccess
		read bool
	}{
		{"unaligned", vfiouser.RegionAccess{Offset: 2, Count: 4}, true},
		{"outside BAR 0", vfiouser.RegionAccess{Offset: regmap.BARSize, Count: 4}, true},
		{"across the end", vfiouser.RegionAccess{Offset: regmap.BARSize - 4, Count: 8}, true},
		{"odd size", vfiouser.RegionAccess{Offset: 0, Count: 2}, true},
		{"outside config", vfiouser.RegionAccess{Region: vfio.PCIConfigRegionIndex, Offset: 250, Count: 8}, true},
		{"no such region", vfiouser.RegionAccess{Region: 5, Count: 4}, true},
		{"write outside", vfiouser.RegionAccess{Offset: regmap.BARSize, Count: 4, Data: []byte{1, 2, 3, 4}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := vfiouser.CmdRegionWrite
			if tc.read {
				cmd = vfiouser.CmdRegionRead
			}
			require.Equal(t, unix.EINVAL, h.errno(cmd, tc.a.Append(nil)))
		})
	}
	require.Equal(t, unix.ENOSYS, h.errno(vfiouser.Command(14), nil))
	require.Equal(t, unix.ENOTSUP, h.errno(vfiouser.CmdDeviceFeature, []byte{8, 0, 0, 0, 0, 0, 0, 0}))
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdVersion, vfiouser.Version{}.Append(nil)), "a second VERSION")
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdRegionRead, []byte{1, 2, 3}), "a malformed message gets EINVAL, the session goes on")
	require.Equal(t, regmap.Magic, le.Uint32(h.read(regmap.PCIBarRegs, regmap.RegMagic, 4)))
}

func TestTheBoardWorksThroughTheHostsRings(t *testing.T) {
	b := newBoard(t)
	h := connect(t, New(b, Opts{}))
	h.mapBAR()
	irq := h.irqs()
	d := newDMA(t, true)
	h.mapAll(d)
	require.Zero(t, h.reg(regmap.RegStatus)&regmap.StatusAttached)
	h.writeReg(regmap.RegControl, regmap.ControlAttach)
	st := h.waitStatus(regmap.StatusAttached | regmap.StatusError)
	require.Zero(t, st&regmap.StatusError, "ERROR_CODE %d", h.reg(regmap.RegErrorCode))
	require.Equal(t, uint32(testRingCap/4), h.reg(regmap.RegCapPayload))
	require.Zero(t, h.reg(regmap.RegControl), "ATTACH is not left in CONTROL")

	for i := uint32(1); i <= 50; i++ {
		c := h.nop(d, irq[regmap.MSIXVectorRings], i, []byte{byte(i), 2, 3})
		require.Equal(t, i, c.Tag)
		require.Equal(t, regmap.ResultOK, c.Result)
		require.Equal(t, []byte{byte(i), 2, 3}, c.Data)
	}
	// Sleeping: the board sleeps after its spin; a doorbell wakes it.
	h.waitStatus(regmap.StatusSleeping)
	c := h.nop(d, irq[regmap.MSIXVectorRings], 99, nil)
	require.Equal(t, uint32(99), c.Tag)

	// Unmapping a window the board uses detaches it first, with RANGE.
	h.call(vfiouser.CmdDMAUnmap, vfiouser.DMAUnmap{Address: d.base[regmap.RingCpl], Size: d.size[regmap.RingCpl]}.Append(nil))
	require.Zero(t, h.reg(regmap.RegStatus)&regmap.StatusAttached)
	require.NotZero(t, h.reg(regmap.RegStatus)&regmap.StatusError)
	require.Equal(t, uint32(regmap.ResultRange), h.reg(regmap.RegErrorCode))
	waitFd(t, irq[regmap.MSIXVectorError])
	require.Equal(t, unix.ENOENT, h.errno(vfiouser.CmdDMAUnmap, vfiouser.DMAUnmap{Address: d.base[regmap.RingCpl], Size: d.size[regmap.RingCpl]}.Append(nil)))

	// The function-level reset clears it all.
	h.call(vfiouser.CmdDeviceReset, nil)
	require.Zero(t, h.reg(regmap.RegStatus)&regmap.StatusError)
	require.Zero(t, h.reg(regmap.RegErrorCode))
	require.Zero(t, h.reg(regmap.RingBaseLo(regmap.RingCmd)))
	require.Zero(t, h.reg(regmap.RegBulkSize))
	require.NotZero(t, h.reg(regmap.RegStatus)&regmap.StatusReady)
}

func TestAttachRefusesMemoryOutsideTheWindows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *host, d *dma)
		code  regmap.Result
	}{
		{"ring past its window", func(h *host, d *dma) { h.writeReg(regmap.RingSize(regmap.RingOut), testRingCap*2) }, regmap.ResultRange},
		{"ring in no window", func(h *host, d *dma) { h.writeReg(regmap.RingBaseHi(regmap.RingSpkIn), 0x40) }, regmap.ResultRange},
		{"bulk in no window", func(h *host, d *dma) { h.writeReg(regmap.RegBulkBaseLo, 0x1000) }, regmap.ResultRange},
		{"unaligned ring", func(h *host, d *dma) { h.writeReg(regmap.RingBaseLo(regmap.RingCmd), uint32(d.base[regmap.RingCmd]+8)) }, regmap.ResultRange},
		{"size not a power of two", func(h *host, d *dma) { h.writeReg(regmap.RingSize(regmap.RingCpl), 5000) }, regmap.ResultBadArgs},
		{"size the header does not say", func(h *host, d *dma) { h.writeReg(regmap.RingSize(regmap.RingCpl), testRingCap/2) }, regmap.ResultBadArgs},
		{"rings overlap", func(h *host, d *dma) {
			h.writeReg(regmap.RingBaseLo(regmap.RingOut), uint32(d.base[regmap.RingCpl]))
			h.writeReg(regmap.RingBaseHi(regmap.RingOut), uint32(d.base[regmap.RingCpl]>>32))
		}, regmap.ResultBadArgs},
		{"unformatted ring", func(h *host, d *dma) { clear(d.mem[d.off[regmap.RingSpkIn] : d.off[regmap.RingSpkIn]+64]) }, regmap.ResultBadArgs},
		{"read-only window", func(h *host, d *dma) {
			h.call(vfiouser.CmdDMAUnmap, vfiouser.DMAUnmap{Address: d.base[regmap.RingCpl], Size: d.size[regmap.RingCpl]}.Append(nil))
			h.call(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: vfiouser.DMAReadable, Offset: d.off[regmap.RingCpl], Address: d.base[regmap.RingCpl], Size: d.size[regmap.RingCpl]}.Append(nil), d.fd)
		}, regmap.ResultRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := connect(t, New(newBoard(t), Opts{}))
			h.mapBAR()
			irq := h.irqs()
			d := newDMA(t, true)
			h.mapAll(d)
			tc.setup(h, d)
			h.writeReg(regmap.RegControl, regmap.ControlAttach)
			st := h.waitStatus(regmap.StatusError | regmap.StatusAttached)
			require.Zero(t, st&regmap.StatusAttached)
			require.Equal(t, uint32(tc.code), h.reg(regmap.RegErrorCode))
			waitFd(t, irq[regmap.MSIXVectorError])
			// After a reset and with good registers the same host attaches.
			h.call(vfiouser.CmdDeviceReset, nil)
			require.Zero(t, h.reg(regmap.RegStatus)&regmap.StatusError)
		})
	}
}

func TestDMAMapChecks(t *testing.T) {
	h := connect(t, New(newBoard(t), Opts{MaxDMAMaps: 3}))
	d := newDMA(t, true)
	m := vfiouser.DMAMap{Flags: vfiouser.DMAReadable | vfiouser.DMAWriteable, Offset: 0, Address: iovaBase, Size: 8192}
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdDMAMap, m.Append(nil)), "no descriptor")
	h.call(vfiouser.CmdDMAMap, m.Append(nil), d.fd)
	require.Equal(t, unix.EEXIST, h.errno(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: iovaBase + 4096, Size: 4096}.Append(nil), d.fd))
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: 1 << 40, Size: 100}.Append(nil), d.fd), "not whole pages")
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: 1 << 40, Offset: 1 << 30, Size: 4096}.Append(nil), d.fd), "past the end of the file")
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(efd)
	require.Equal(t, unix.EINVAL, h.errno(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: 1 << 40, Size: 4096}.Append(nil), efd), "not a memory file")
	h.call(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: 1 << 41, Size: 4096}.Append(nil), d.fd)
	h.call(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: 1 << 42, Size: 4096}.Append(nil), d.fd)
	require.Equal(t, unix.ENOSPC, h.errno(vfiouser.CmdDMAMap, vfiouser.DMAMap{Flags: 3, Address: 1 << 43, Size: 4096}.Append(nil), d.fd))
	h.call(vfiouser.CmdDMAUnmap, vfiouser.DMAUnmap{Flags: vfiouser.DMAUnmapAll}.Append(nil))
	h.call(vfiouser.CmdDMAMap, m.Append(nil), d.fd)
}

func TestSecondHostIsBusy(t *testing.T) {
	srv := New(newBoard(t), Opts{})
	connect(t, srv)
	cc, sc := pair(t)
	defer cc.Close()
	go func() { defer sc.Close(); srv.ServeConn(context.Background(), sc) }()
	c := vfiouser.NewConn(cc)
	require.NoError(t, c.Send(vfiouser.Header{ID: 1, Command: vfiouser.CmdVersion}, vfiouser.Version{Minor: 1}.Append(nil), nil))
	m, err := c.Receive()
	require.NoError(t, err)
	require.NotZero(t, m.Flags&vfiouser.FlagError)
	require.Equal(t, uint32(unix.EBUSY), m.Error)
}

func TestDisconnectingDetachesAndReleases(t *testing.T) {
	b := newBoard(t)
	srv := New(b, Opts{})
	before := countFds(t)
	cc, sc := pair(t)
	done := make(chan error, 1)
	go func() { err := srv.ServeConn(context.Background(), sc); sc.Close(); done <- err }()
	h := &host{t: t, c: vfiouser.NewConn(cc)}
	h.call(vfiouser.CmdVersion, vfiouser.Version{Minor: 1}.Append(nil))
	h.mapBAR()
	irq := h.irqsOwned()
	d, release := newDMAOwned(t, true)
	h.mapAll(d)
	h.writeReg(regmap.RegControl, regmap.ControlAttach)
	h.waitStatus(regmap.StatusAttached)
	require.Greater(t, countFds(t), before)
	cc.Close()
	require.NoError(t, <-done)
	unix.Munmap(h.bar)
	release()
	for _, fd := range irq {
		unix.Close(fd)
	}
	status, _ := b.ReadReg(regmap.RegStatus)
	require.Zero(t, status&regmap.StatusAttached)
	_, attached := b.Holder()
	require.False(t, attached)
	// The server kept nothing of the host's: its eventfds, its memory files and the register
	// file it handed out are all closed.
	require.Equal(t, before, countFds(t))
}

func countFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestAFaultOnHostMemoryEndsOnlyThatSession(t *testing.T) {
	b := newBoard(t)
	var logged atomic.Value
	srv := New(b, Opts{Log: func(f string, a ...any) { logged.Store(f) }})
	h := connect(t, srv)
	h.mapBAR()
	irq := h.irqs()
	d := newDMA(t, false) // a memory file that cannot be sealed
	h.mapAll(d)
	h.writeReg(regmap.RegControl, regmap.ControlAttach)
	h.waitStatus(regmap.StatusAttached)
	// The host shrinks its file under the board: the board faults on its next access.
	require.NoError(t, unix.Ftruncate(d.fd, 0))
	h.writeReg(regmap.RegDoorbell, 1)
	waitFd(t, irq[regmap.MSIXVectorError])
	require.Equal(t, uint32(regmap.ResultRange), h.reg(regmap.RegErrorCode))
	require.NotNil(t, logged.Load())
	// The server still answers.
	require.Equal(t, regmap.Magic, le.Uint32(h.read(regmap.PCIBarRegs, regmap.RegMagic, 4)))
	h.call(vfiouser.CmdDeviceReset, nil)
	require.Zero(t, h.reg(regmap.RegStatus)&regmap.StatusError)
}
