package pcie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// session is one host's connection.
type session struct {
	s    *Server
	b    *board.Board
	c    *vfiouser.Conn
	host board.Host

	windows []*window // by address

	irqMu sync.RWMutex
	irqs  [vfio.PCINumIRQs][]int // eventfds per IRQ index and subindex, -1 unset

	config [regmap.PCIConfigSize]byte
	msix   [regmap.PCIBarMSIXSize]byte

	att *attachment // nil while detached
}

// window is a DMA window of host memory, mapped here.
type window struct {
	addr, size uint64
	flags      uint32
	mem        []byte
}

func (w *window) contains(addr, n uint64) bool {
	return addr >= w.addr && n <= w.size && addr-w.addr <= w.size-n
}

func newSession(s *Server, c *vfiouser.Conn, host board.Host) (*session, error) {
	ss := &session{s: s, b: s.b, c: c, host: host}
	ss.irqs[vfio.PCIMSIXIRQIndex] = []int{-1, -1}
	ss.irqs[vfio.PCIErrIRQIndex] = []int{-1}
	ss.irqs[vfio.PCIReqIRQIndex] = []int{-1}
	ss.initConfig()
	return ss, nil
}

// close releases everything the host gave: the board detaches, the windows are unmapped and
// the eventfds closed. The board's state otherwise stays (the spec's rule for a client that
// disconnects).
func (ss *session) close() {
	ss.detach()
	for _, w := range ss.windows {
		unix.Munmap(w.mem)
	}
	ss.windows = nil
	ss.irqMu.Lock()
	for i := range ss.irqs {
		for j, fd := range ss.irqs[i] {
			if fd >= 0 {
				unix.Close(fd)
			}
			ss.irqs[i][j] = -1
		}
	}
	ss.irqMu.Unlock()
}

// run answers the host's commands until it disconnects or breaks the framing, or ctx ends.
func (ss *session) run(ctx context.Context) error {
	conn := ss.c.UnixConn()
	stop := context.AfterFunc(ctx, func() {
		// Ask the host to let go (the request interrupt), then end the connection.
		ss.signal(vfio.PCIReqIRQIndex, 0)
		conn.CloseRead()
	})
	defer stop()
	for {
		m, err := ss.c.Receive()
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("pcie: %w", err)
		}
		if m.IsReply() {
			vfiouser.CloseFds(m.Fds)
			return fmt.Errorf("pcie: an unexpected reply (%s, id %d)", m.Command, m.ID)
		}
		payload, fds, errno := ss.handle(m)
		if m.Flags&vfiouser.FlagNoReply != 0 {
			continue
		}
		if errno != 0 {
			err = ss.c.ReplyError(m.Header, errno)
		} else {
			err = ss.c.Reply(m.Header, payload, fds)
		}
		closeFds(fds)
		if err != nil {
			return err
		}
	}
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// handle executes one command; it takes the message's descriptors. It returns the reply's
// payload and descriptors (closed after sending), or an errno.
func (ss *session) handle(m vfiouser.Message) (payload []byte, fds []int, errno unix.Errno) {
	keep := false
	defer func() {
		if !keep {
			closeFds(m.Fds)
		}
	}()
	switch m.Command {
	case vfiouser.CmdVersion:
		return nil, nil, unix.EINVAL // once only
	case vfiouser.CmdDeviceGetInfo:
		if vfiouser.DecodeDeviceInfoRequest(m.Payload) != nil {
			return nil, nil, unix.EINVAL
		}
		return vfio.Encode(nil, &vfio.DeviceInfo{Argsz: uint32(vfio.DeviceInfoSize), Flags: vfio.DeviceFlagsReset | vfio.DeviceFlagsPCI,
			NumRegions: vfio.PCINumRegions, NumIRQs: vfio.PCINumIRQs}), nil, 0
	case vfiouser.CmdDeviceGetRegionInfo:
		index, argsz, err := vfiouser.DecodeRegionInfoRequest(m.Payload)
		if err != nil || index >= vfio.PCINumRegions {
			return nil, nil, unix.EINVAL
		}
		return ss.regionInfo(index, argsz)
	case vfiouser.CmdDeviceGetIRQInfo:
		index, err := vfiouser.DecodeIRQInfoRequest(m.Payload)
		if err != nil || index >= vfio.PCINumIRQs {
			return nil, nil, unix.EINVAL
		}
		info := vfio.IRQInfo{Argsz: uint32(vfio.IRQInfoSize), Index: index, Count: uint32(len(ss.irqs[index]))}
		if info.Count > 0 {
			info.Flags = vfio.IRQInfoEventfd | vfio.IRQInfoNoresize
		}
		return vfio.Encode(nil, &info), nil, 0
	case vfiouser.CmdDeviceSetIRQs:
		set, err := vfiouser.DecodeIRQSet(m.Payload, len(m.Fds))
		if err != nil {
			return nil, nil, unix.EINVAL
		}
		keep = true
		return nil, nil, ss.setIRQs(set, m.Fds)
	case vfiouser.CmdRegionRead:
		a, err := vfiouser.DecodeRegionAccess(m.Payload, "REGION_READ", false, vfiouser.DefaultMaxDataXfer)
		if err != nil {
			return nil, nil, unix.EINVAL
		}
		data, errno := ss.read(a.Region, a.Offset, a.Count)
		if errno != 0 {
			return nil, nil, errno
		}
		a.Data = data
		return a.Append(nil), nil, 0
	case vfiouser.CmdRegionWrite:
		a, err := vfiouser.DecodeRegionAccess(m.Payload, "REGION_WRITE", true, vfiouser.DefaultMaxDataXfer)
		if err != nil {
			return nil, nil, unix.EINVAL
		}
		if errno := ss.write(a.Region, a.Offset, a.Data); errno != 0 {
			return nil, nil, errno
		}
		a.Data = nil
		return a.Append(nil), nil, 0
	case vfiouser.CmdDMAMap:
		d, err := vfiouser.DecodeDMAMap(m.Payload)
		if err != nil {
			return nil, nil, unix.EINVAL
		}
		return nil, nil, ss.dmaMap(d, m.Fds)
	case vfiouser.CmdDMAUnmap:
		d, err := vfiouser.DecodeDMAUnmap(m.Payload)
		if err != nil {
			return nil, nil, unix.EINVAL
		}
		if errno := ss.dmaUnmap(d); errno != 0 {
			return nil, nil, errno
		}
		return d.Append(nil), nil, 0
	case vfiouser.CmdDeviceReset:
		if len(m.Payload) != 0 {
			return nil, nil, unix.EINVAL
		}
		ss.detach()
		ss.b.ResetFunction()
		return nil, nil, 0
	case vfiouser.CmdDeviceFeature, vfiouser.CmdDeviceGetRegionIOFDs, vfiouser.CmdRegionWriteMulti:
		return nil, nil, unix.ENOTSUP // migration, ioeventfds and write batching are not offered
	}
	return nil, nil, unix.ENOSYS
}

// --- regions ---

func (ss *session) regionInfo(index, argsz uint32) ([]byte, []int, unix.Errno) {
	ri := vfiouser.RegionInfo{RegionInfo: vfio.RegionInfo{Index: index}}
	var fds []int
	switch index {
	case vfio.PCIConfigRegionIndex:
		ri.Size, ri.Flags = regmap.PCIConfigSize, vfio.RegionInfoFlagRead|vfio.RegionInfoFlagWrite
	case regmap.PCIBarRegs:
		// Mappable whole, said as a sparse mmap capability of one area, with the descriptor
		// only when the capability fits the reply (as libvfio-user does: a client that asked
		// for the bare structure gets no descriptor it did not expect).
		ri.Size, ri.Flags = regmap.BARSize, vfio.RegionInfoFlagRead|vfio.RegionInfoFlagWrite|vfio.RegionInfoFlagMmap
		ri.Sparse = []vfio.SparseMmapArea{{Offset: 0, Size: regmap.BARSize}}
		if argsz < uint32(len(ri.Append(nil, vfiouser.MaxRegionInfo))) {
			break
		}
		f, err := ss.b.RegisterFile()
		if err != nil {
			return nil, nil, unix.EIO
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			return nil, nil, unix.EMFILE
		}
		fds = []int{fd}
	case regmap.PCIBarMSIX:
		ri.Size, ri.Flags = regmap.PCIBarMSIXSize, vfio.RegionInfoFlagRead|vfio.RegionInfoFlagWrite
	}
	return ri.Append(nil, argsz), fds, 0
}

// regionBytes returns the bytes of a byte-addressed region (config space, the MSI-X BAR).
func (ss *session) regionBytes(region uint32) []byte {
	switch region {
	case vfio.PCIConfigRegionIndex:
		return ss.config[:]
	case regmap.PCIBarMSIX:
		return ss.msix[:]
	}
	return nil
}

func (ss *session) read(region uint32, off uint64, n uint32) ([]byte, unix.Errno) {
	if region == regmap.PCIBarRegs {
		// Registers are read a word at a time (a 64-bit pair as two, LO first).
		if off%4 != 0 || n%4 != 0 || off >= regmap.BARSize || uint64(n) > regmap.BARSize-off {
			return nil, unix.EINVAL
		}
		out := make([]byte, n)
		for i := uint32(0); i < n; i += 4 {
			v, _ := ss.b.ReadReg(uint32(off) + i)
			le.PutUint32(out[i:], v)
		}
		return out, 0
	}
	mem := ss.regionBytes(region)
	if mem == nil || off >= uint64(len(mem)) || uint64(n) > uint64(len(mem))-off {
		return nil, unix.EINVAL
	}
	return append([]byte(nil), mem[off:off+uint64(n)]...), 0
}

func (ss *session) write(region uint32, off uint64, data []byte) unix.Errno {
	n := uint64(len(data))
	switch region {
	case regmap.PCIBarRegs:
		if off%4 != 0 || n%4 != 0 || off >= regmap.BARSize || n > regmap.BARSize-off {
			return unix.EINVAL
		}
		for i := uint64(0); i < n; i += 4 {
			ss.writeReg(uint32(off+i), le.Uint32(data[i:]))
		}
		return 0
	case vfio.PCIConfigRegionIndex:
		if off >= regmap.PCIConfigSize || n > regmap.PCIConfigSize-off {
			return unix.EINVAL
		}
		ss.writeConfig(int(off), data)
		return 0
	case regmap.PCIBarMSIX:
		if off >= regmap.PCIBarMSIXSize || n > regmap.PCIBarMSIXSize-off {
			return unix.EINVAL
		}
		if off < regmap.MSIXPBAOffset { // the pending bits are the board's
			copy(ss.msix[off:min(off+n, regmap.MSIXPBAOffset)], data)
		}
		return 0
	}
	return unix.EINVAL
}

// writeReg is an MMIO write to BAR 0: CONTROL.ATTACH is acted on here, everything else goes
// to the register file, waking the firmware for DOORBELL and CONTROL.
func (ss *session) writeReg(off, v uint32) {
	if off == regmap.RegControl && v&regmap.ControlAttach != 0 {
		ss.attach()
		v &^= regmap.ControlAttach
	}
	e, _ := ss.b.WriteReg(off, v)
	if e&board.EffectWake != 0 && ss.att != nil {
		ss.att.kick()
	}
	if e&board.EffectInterrupt != 0 {
		ss.interrupt()
	}
}

// interrupt signals the MSI-X vectors that carry the causes pending in IRQ_STATUS.
func (ss *session) interrupt() {
	st, _ := ss.b.ReadReg(regmap.RegIRQStatus)
	v := regmap.VectorsFor(st)
	for i := 0; i < regmap.NumMSIXVectors; i++ {
		if v&(1<<i) != 0 {
			ss.signal(vfio.PCIMSIXIRQIndex, i)
		}
	}
}

// --- configuration space ---

func (ss *session) initConfig() {
	c := ss.config[:]
	le.PutUint16(c[regmap.PCIConfigVendor:], regmap.PCIVendorID)
	le.PutUint16(c[regmap.PCIConfigDevice:], regmap.PCIDeviceID)
	le.PutUint16(c[regmap.PCIConfigStatus:], regmap.PCIStatusCapList)
	c[regmap.PCIConfigRevision] = regmap.PCIRevision
	c[regmap.PCIConfigClass] = byte(regmap.PCIClass & 0xff)
	c[regmap.PCIConfigClass+1] = byte(regmap.PCIClass >> 8 & 0xff)
	c[regmap.PCIConfigClass+2] = byte(regmap.PCIClass >> 16)
	le.PutUint16(c[regmap.PCIConfigSubVendor:], regmap.PCIVendorID)
	le.PutUint16(c[regmap.PCIConfigSubsystem:], regmap.PCIDeviceID)
	c[regmap.PCIConfigCapPtr] = regmap.MSIXCapOffset
	x := c[regmap.MSIXCapOffset:]
	x[0], x[1] = regmap.MSIXCapID, 0
	le.PutUint16(x[regmap.MSIXCapControl:], regmap.NumMSIXVectors-1)
	le.PutUint32(x[regmap.MSIXCapTable:], regmap.MSIXTableOffset|regmap.PCIBarMSIX)
	le.PutUint32(x[regmap.MSIXCapPBA:], regmap.MSIXPBAOffset|regmap.PCIBarMSIX)
}

// barSize is the size of each implemented BAR (0: none).
func barSize(i int) uint32 {
	switch i {
	case regmap.PCIBarRegs:
		return regmap.BARSize
	case regmap.PCIBarMSIX:
		return regmap.PCIBarMSIXSize
	}
	return 0
}

// writeConfig applies a write to the configuration space byte by byte: only the command
// register's memory, bus master and INTx-disable bits, the implemented BARs' address bits
// (so that sizing by writing all ones works) and MSI-X's enable and mask bits are writable.
func (ss *session) writeConfig(off int, data []byte) {
	const cmdMask = uint16(regmap.PCICommandMemory|regmap.PCICommandMaster) | 1<<10
	const ctlMask = uint16(regmap.MSIXControlEnable | regmap.MSIXControlFuncMask)
	c := ss.config[:]
	for i, v := range data {
		o := off + i
		switch {
		case o >= regmap.PCIConfigCommand && o < regmap.PCIConfigCommand+2:
			m := byte(cmdMask >> (8 * (o - regmap.PCIConfigCommand)))
			c[o] = c[o]&^m | v&m
		case o >= regmap.PCIConfigBAR0 && o < regmap.PCIConfigBAR0+24:
			bar := (o - regmap.PCIConfigBAR0) / 4
			mask := ^(barSize(bar) - 1) // low bits read 0: 32-bit memory, not prefetchable
			if barSize(bar) == 0 {
				mask = 0
			}
			m := byte(mask >> (8 * ((o - regmap.PCIConfigBAR0) % 4)))
			c[o] = v & m
		case o >= regmap.MSIXCapOffset+regmap.MSIXCapControl && o < regmap.MSIXCapOffset+regmap.MSIXCapControl+2:
			m := byte(ctlMask >> (8 * (o - regmap.MSIXCapOffset - regmap.MSIXCapControl)))
			c[o] = c[o]&^m | v&m
		}
	}
}

// --- DMA windows ---

func (ss *session) dmaMap(d vfiouser.DMAMap, fds []int) unix.Errno {
	if len(fds) != 1 {
		// Without a descriptor the board would need DMA_READ/DMA_WRITE for every access:
		// this board reaches host memory only through mapped windows.
		return unix.EINVAL
	}
	fd := fds[0]
	defer unix.Close(fd)
	const page = 4096
	if d.Address%page != 0 || d.Size%page != 0 || d.Offset%page != 0 || d.Size > 1<<40 {
		return unix.EINVAL
	}
	if d.Flags&vfiouser.DMAReadable == 0 {
		return unix.EINVAL
	}
	if len(ss.windows) >= ss.s.opts.MaxDMAMaps {
		return unix.ENOSPC
	}
	for _, w := range ss.windows {
		if d.Address < w.addr+w.size && w.addr < d.Address+d.Size {
			return unix.EEXIST
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || uint64(st.Size) < d.Offset+d.Size {
		return unix.EINVAL
	}
	// The file must not shrink under the board (a fault); seal it where it lets us. A file
	// that cannot be sealed is still taken: a fault on it ends the session (see attach).
	unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK)
	prot := unix.PROT_READ
	if d.Flags&vfiouser.DMAWriteable != 0 {
		prot |= unix.PROT_WRITE
	}
	mem, err := unix.Mmap(fd, int64(d.Offset), int(d.Size), prot, unix.MAP_SHARED)
	if err != nil {
		return unix.EINVAL
	}
	ss.windows = append(ss.windows, &window{addr: d.Address, size: d.Size, flags: d.Flags, mem: mem})
	sort.Slice(ss.windows, func(i, j int) bool { return ss.windows[i].addr < ss.windows[j].addr })
	return 0
}

func (ss *session) dmaUnmap(d vfiouser.DMAUnmap) unix.Errno {
	var gone []*window
	kept := ss.windows[:0:0]
	for _, w := range ss.windows {
		if d.Flags&vfiouser.DMAUnmapAll != 0 || (w.addr == d.Address && w.size == d.Size) {
			gone = append(gone, w)
		} else {
			kept = append(kept, w)
		}
	}
	if len(gone) == 0 {
		return unix.ENOENT
	}
	// The board lets go of a window before it is unmapped (the spec's rule for in-flight
	// DMA): unmapping memory the board uses detaches it.
	if a := ss.att; a != nil {
		for _, w := range gone {
			if a.uses(w) {
				ss.detach()
				ss.b.RefuseAttach(regmap.ResultRange)
				ss.signal(vfio.PCIMSIXIRQIndex, regmap.MSIXVectorError)
				break
			}
		}
	}
	for _, w := range gone {
		unix.Munmap(w.mem)
	}
	ss.windows = kept
	return 0
}

// find returns the window holding [addr, addr+n), nil if none does.
func (ss *session) find(addr, n uint64) *window {
	for _, w := range ss.windows {
		if w.contains(addr, n) {
			return w
		}
	}
	return nil
}

// --- interrupts ---

func (ss *session) setIRQs(set vfiouser.IRQSet, fds []int) unix.Errno {
	ss.irqMu.Lock()
	defer ss.irqMu.Unlock()
	if set.Index >= vfio.PCINumIRQs || len(ss.irqs[set.Index]) == 0 {
		closeFds(fds)
		return unix.EINVAL
	}
	slots := ss.irqs[set.Index]
	data, action := set.Flags&vfio.IRQSetDataTypeMask, set.Flags&vfio.IRQSetActionTypeMask
	if action != vfio.IRQSetActionTrigger {
		closeFds(fds)
		return unix.EINVAL // the interrupts are not maskable
	}
	if data == vfio.IRQSetDataNone && set.Count == 0 && set.Start == 0 {
		for i, fd := range slots {
			if fd >= 0 {
				unix.Close(fd)
			}
			slots[i] = -1
		}
		return 0
	}
	if uint64(set.Start)+uint64(set.Count) > uint64(len(slots)) {
		closeFds(fds)
		return unix.EINVAL
	}
	for i := uint32(0); i < set.Count; i++ {
		k := set.Start + i
		switch data {
		case vfio.IRQSetDataEventfd:
			if slots[k] >= 0 {
				unix.Close(slots[k])
			}
			slots[k] = -1
			if len(fds) > 0 {
				slots[k] = fds[i]
			}
		case vfio.IRQSetDataNone:
			kick(slots[k])
		case vfio.IRQSetDataBool:
			if set.Bools[i] != 0 {
				kick(slots[k])
			}
		}
	}
	return 0
}

// signal raises interrupt sub of IRQ index (if the host set an eventfd for it).
func (ss *session) signal(index, sub int) {
	ss.irqMu.RLock()
	defer ss.irqMu.RUnlock()
	if sub < len(ss.irqs[index]) {
		kick(ss.irqs[index][sub])
	}
}

// kick adds one to an eventfd (nothing for -1).
func kick(fd int) {
	if fd < 0 {
		return
	}
	var b [8]byte
	b[0] = 1
	unix.Write(fd, b[:])
}
