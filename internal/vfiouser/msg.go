// Package vfiouser is the vfio-user protocol (QEMU's docs/interop/vfio-user.rst): the
// messages a client (the driver's vfio-user: transport) and a server (the emulated board of
// lrctl emu serve --vfio-user) exchange over a Unix stream socket, their encoders and
// decoders, and the framing with file descriptors. Both sides use it; neither trusts what the
// other sends: every decoder checks sizes, counts and reserved fields against the bytes it
// was given and returns an error wrapping ErrMalformed, never panics and never allocates more
// than the message's own size. Decoders are fuzzed.
//
// The payloads that mirror VFIO ioctls are the structures of internal/vfio, encoded in the
// host's byte order (little-endian on every machine this runs on).
package vfiouser

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lrchip/lrchip/internal/vfio"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed vfio-user message")

var le = binary.LittleEndian

func malformed(what, format string, args ...any) error {
	return fmt.Errorf("vfio-user: %s: %s: %w", what, fmt.Sprintf(format, args...), ErrMalformed)
}

// Command is a message's command.
type Command uint16

// Commands (the spec's table).
const (
	CmdVersion              Command = 1
	CmdDMAMap               Command = 2
	CmdDMAUnmap             Command = 3
	CmdDeviceGetInfo        Command = 4
	CmdDeviceGetRegionInfo  Command = 5
	CmdDeviceGetRegionIOFDs Command = 6
	CmdDeviceGetIRQInfo     Command = 7
	CmdDeviceSetIRQs        Command = 8
	CmdRegionRead           Command = 9
	CmdRegionWrite          Command = 10
	CmdDMARead              Command = 11
	CmdDMAWrite             Command = 12
	CmdDeviceReset          Command = 13
	CmdRegionWriteMulti     Command = 15
	CmdDeviceFeature        Command = 16
	CmdMigDataRead          Command = 17
	CmdMigDataWrite         Command = 18
)

var cmdNames = map[Command]string{
	CmdVersion: "VERSION", CmdDMAMap: "DMA_MAP", CmdDMAUnmap: "DMA_UNMAP", CmdDeviceGetInfo: "DEVICE_GET_INFO",
	CmdDeviceGetRegionInfo: "DEVICE_GET_REGION_INFO", CmdDeviceGetRegionIOFDs: "DEVICE_GET_REGION_IO_FDS",
	CmdDeviceGetIRQInfo: "DEVICE_GET_IRQ_INFO", CmdDeviceSetIRQs: "DEVICE_SET_IRQS", CmdRegionRead: "REGION_READ",
	CmdRegionWrite: "REGION_WRITE", CmdDMARead: "DMA_READ", CmdDMAWrite: "DMA_WRITE", CmdDeviceReset: "DEVICE_RESET",
	CmdRegionWriteMulti: "REGION_WRITE_MULTI", CmdDeviceFeature: "DEVICE_FEATURE", CmdMigDataRead: "MIG_DATA_READ",
	CmdMigDataWrite: "MIG_DATA_WRITE",
}

func (c Command) String() string {
	if n, ok := cmdNames[c]; ok {
		return n
	}
	return fmt.Sprintf("command %d", uint16(c))
}

// Header flags.
const (
	TypeCommand  uint32 = 0x0
	TypeReply    uint32 = 0x1
	TypeMask     uint32 = 0xf
	FlagNoReply  uint32 = 1 << 4
	FlagError    uint32 = 1 << 5
	knownFlags          = TypeMask | FlagNoReply | FlagError
	HeaderSize          = 16
	MajorVersion uint16 = 0 // the protocol version this package speaks: 0.1
	MinorVersion uint16 = 1
)

// Limits.
const (
	// DefaultMaxDataXfer is the largest count of a REGION_READ/WRITE or DMA_READ/WRITE a peer
	// that says nothing else accepts.
	DefaultMaxDataXfer = 1 << 20
	// MaxMessage bounds a whole message (header included): the largest data transfer, its
	// access header and slack for the other messages, whose payloads are all small.
	MaxMessage = HeaderSize + 16 + DefaultMaxDataXfer
	// MaxFds bounds the descriptors one message may carry; more are closed and the message
	// refused.
	MaxFds = 16
	// MaxVersionData bounds the JSON of a VERSION message.
	MaxVersionData = 4096
)

// Header starts every message.
type Header struct {
	ID      uint16
	Command Command
	Size    uint32 // the whole message, header included
	Flags   uint32
	Error   uint32 // an errno, in a reply with FlagError
}

// IsReply reports whether the header is a reply's.
func (h Header) IsReply() bool { return h.Flags&TypeMask == TypeReply }

// Append appends the encoded header.
func (h Header) Append(b []byte) []byte {
	b = le.AppendUint16(b, h.ID)
	b = le.AppendUint16(b, uint16(h.Command))
	b = le.AppendUint32(b, h.Size)
	b = le.AppendUint32(b, h.Flags)
	return le.AppendUint32(b, h.Error)
}

// ParseHeader decodes a header and checks what can be checked without the payload.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, malformed("header", "%d bytes, want %d", len(b), HeaderSize)
	}
	h := Header{ID: le.Uint16(b), Command: Command(le.Uint16(b[2:])), Size: le.Uint32(b[4:]), Flags: le.Uint32(b[8:]), Error: le.Uint32(b[12:])}
	if h.Size < HeaderSize || h.Size > MaxMessage {
		return h, malformed("header", "message size %d outside [%d, %d]", h.Size, HeaderSize, MaxMessage)
	}
	if h.Flags&^knownFlags != 0 {
		return h, malformed("header", "unknown flags %#x", h.Flags)
	}
	if t := h.Flags & TypeMask; t != TypeCommand && t != TypeReply {
		return h, malformed("header", "message type %d", t)
	}
	if h.IsReply() && h.Flags&FlagNoReply != 0 {
		return h, malformed("header", "a reply with NO_REPLY set")
	}
	if !h.IsReply() && h.Flags&FlagError != 0 {
		return h, malformed("header", "a command with the error flag set")
	}
	return h, nil
}

// Message is one message: its header, the payload after it and the descriptors that came
// with it (owned by whoever holds the Message: close them or hand them on).
type Message struct {
	Header
	Payload []byte
	Fds     []int
}

// --- VERSION ---

// Version is the VERSION message, in both directions.
type Version struct {
	Major, Minor uint16
	Caps         Capabilities
}

// Append appends the payload: the version, then the capabilities as JSON with a NUL.
func (v Version) Append(b []byte) []byte {
	b = le.AppendUint16(b, v.Major)
	b = le.AppendUint16(b, v.Minor)
	b = append(b, v.Caps.json()...)
	return append(b, 0)
}

// DecodeVersion decodes a VERSION payload. The JSON is optional.
func DecodeVersion(b []byte) (Version, error) {
	if len(b) < 4 {
		return Version{}, malformed("VERSION", "%d bytes, want at least 4", len(b))
	}
	v := Version{Major: le.Uint16(b), Minor: le.Uint16(b[2:])}
	data := b[4:]
	if len(data) > MaxVersionData {
		return v, malformed("VERSION", "%d bytes of capabilities, more than %d", len(data), MaxVersionData)
	}
	caps, err := parseCapabilities(data)
	if err != nil {
		return v, err
	}
	v.Caps = caps
	return v, nil
}

// --- DMA_MAP / DMA_UNMAP ---

// DMA region flags of DMA_MAP. libvfio-user's client also sets bits 2 and 3 (its MMAP and
// FILE_IO hints), which carry nothing a server needs.
const (
	DMAReadable    = vfio.DMAMapFlagRead
	DMAWriteable   = vfio.DMAMapFlagWrite
	dmaMapKnown    = DMAReadable | DMAWriteable | 1<<2 | 1<<3
	DMAUnmapAll    = 1 << 1
	DMAMapSize     = 32
	DMAUnmapSize   = 24
	dmaUnmapKnown  = DMAUnmapAll
	dirtyBitmapBit = 1 << 0
)

// DMAMap is the DMA_MAP request: a window of client memory at a DMA address. With a
// descriptor (passed with the message) the server maps Size bytes from Offset of it.
type DMAMap struct {
	Flags   uint32
	Offset  uint64
	Address uint64
	Size    uint64
}

// Append appends the payload.
func (m DMAMap) Append(b []byte) []byte {
	b = le.AppendUint32(b, DMAMapSize)
	b = le.AppendUint32(b, m.Flags)
	b = le.AppendUint64(b, m.Offset)
	b = le.AppendUint64(b, m.Address)
	return le.AppendUint64(b, m.Size)
}

// DecodeDMAMap decodes a DMA_MAP request.
func DecodeDMAMap(b []byte) (DMAMap, error) {
	if len(b) != DMAMapSize {
		return DMAMap{}, malformed("DMA_MAP", "%d bytes, want %d", len(b), DMAMapSize)
	}
	if a := le.Uint32(b); a != DMAMapSize {
		return DMAMap{}, malformed("DMA_MAP", "argsz %d, want %d", a, DMAMapSize)
	}
	m := DMAMap{Flags: le.Uint32(b[4:]), Offset: le.Uint64(b[8:]), Address: le.Uint64(b[16:]), Size: le.Uint64(b[24:])}
	if m.Flags&^dmaMapKnown != 0 {
		return m, malformed("DMA_MAP", "unknown flags %#x", m.Flags)
	}
	if m.Size == 0 || m.Address+m.Size < m.Address || m.Offset+m.Size < m.Offset {
		return m, malformed("DMA_MAP", "window of %d bytes at %#x (file offset %#x) is empty or wraps", m.Size, m.Address, m.Offset)
	}
	return m, nil
}

// DMAUnmap is the DMA_UNMAP request, and its reply (the same entry).
type DMAUnmap struct {
	Flags   uint32
	Address uint64
	Size    uint64
}

// Append appends the payload.
func (m DMAUnmap) Append(b []byte) []byte {
	b = le.AppendUint32(b, DMAUnmapSize)
	b = le.AppendUint32(b, m.Flags)
	b = le.AppendUint64(b, m.Address)
	return le.AppendUint64(b, m.Size)
}

// DecodeDMAUnmap decodes a DMA_UNMAP request or reply. The dirty-page bitmap (migration)
// is not supported.
func DecodeDMAUnmap(b []byte) (DMAUnmap, error) {
	if len(b) != DMAUnmapSize {
		return DMAUnmap{}, malformed("DMA_UNMAP", "%d bytes, want %d", len(b), DMAUnmapSize)
	}
	if a := le.Uint32(b); a < DMAUnmapSize {
		return DMAUnmap{}, malformed("DMA_UNMAP", "argsz %d, less than %d", a, DMAUnmapSize)
	}
	m := DMAUnmap{Flags: le.Uint32(b[4:]), Address: le.Uint64(b[8:]), Size: le.Uint64(b[16:])}
	if m.Flags&dirtyBitmapBit != 0 {
		return m, malformed("DMA_UNMAP", "dirty-page bitmaps are not supported")
	}
	if m.Flags&^dmaUnmapKnown != 0 {
		return m, malformed("DMA_UNMAP", "unknown flags %#x", m.Flags)
	}
	if m.Flags&DMAUnmapAll == 0 && m.Address+m.Size < m.Address {
		return m, malformed("DMA_UNMAP", "window of %d bytes at %#x wraps", m.Size, m.Address)
	}
	return m, nil
}

// --- DEVICE_GET_INFO ---

// DeviceInfoRequest is the DEVICE_GET_INFO request (argsz: the largest reply wanted).
func DeviceInfoRequest() []byte {
	return vfio.Encode(nil, &vfio.DeviceInfo{Argsz: uint32(vfio.DeviceInfoSize)})
}

// DecodeDeviceInfoRequest checks a DEVICE_GET_INFO request.
func DecodeDeviceInfoRequest(b []byte) error {
	if len(b) != vfio.DeviceInfoSize {
		return malformed("DEVICE_GET_INFO", "%d bytes, want %d", len(b), vfio.DeviceInfoSize)
	}
	if a := le.Uint32(b); a < uint32(vfio.DeviceInfoSize) {
		return malformed("DEVICE_GET_INFO", "argsz %d, less than %d", a, vfio.DeviceInfoSize)
	}
	return nil
}

// DecodeDeviceInfo decodes a DEVICE_GET_INFO reply.
func DecodeDeviceInfo(b []byte) (vfio.DeviceInfo, error) {
	var d vfio.DeviceInfo
	if len(b) != vfio.DeviceInfoSize {
		return d, malformed("DEVICE_GET_INFO reply", "%d bytes, want %d", len(b), vfio.DeviceInfoSize)
	}
	vfio.Decode(b, &d)
	if d.Argsz != uint32(vfio.DeviceInfoSize) {
		return d, malformed("DEVICE_GET_INFO reply", "argsz %d, want %d", d.Argsz, vfio.DeviceInfoSize)
	}
	if d.NumRegions > 64 || d.NumIRQs > 64 {
		return d, malformed("DEVICE_GET_INFO reply", "%d regions and %d interrupt types", d.NumRegions, d.NumIRQs)
	}
	return d, nil
}

// --- DEVICE_GET_REGION_INFO ---

// MaxRegionInfo bounds a region info reply (the structure and its capabilities).
const MaxRegionInfo = 4096

// RegionInfoRequest is the DEVICE_GET_REGION_INFO request for a region, asking for at most
// argsz bytes of reply.
func RegionInfoRequest(index, argsz uint32) []byte {
	return vfio.Encode(nil, &vfio.RegionInfo{Argsz: argsz, Index: index})
}

// DecodeRegionInfoRequest decodes a DEVICE_GET_REGION_INFO request: the region and the
// reply size the client can take.
// A client may send as many bytes as its argsz (libvfio-user's does): what follows the
// structure is ignored.
func DecodeRegionInfoRequest(b []byte) (index, argsz uint32, err error) {
	if len(b) < vfio.RegionInfoSize || len(b) > MaxRegionInfo {
		return 0, 0, malformed("DEVICE_GET_REGION_INFO", "%d bytes, want %d to %d", len(b), vfio.RegionInfoSize, MaxRegionInfo)
	}
	var r vfio.RegionInfo
	vfio.Decode(b, &r)
	if r.Argsz < uint32(vfio.RegionInfoSize) {
		return 0, 0, malformed("DEVICE_GET_REGION_INFO", "argsz %d, less than %d", r.Argsz, vfio.RegionInfoSize)
	}
	return r.Index, r.Argsz, nil
}

// RegionInfo is a region's description: the VFIO structure and its sparse mmap areas.
type RegionInfo struct {
	vfio.RegionInfo
	Sparse []vfio.SparseMmapArea // nil: no sparse mmap capability
}

// Append appends the reply payload for a client that takes at most argsz bytes: the whole
// structure with its capabilities if it fits, else the structure alone with argsz saying
// how much is needed (VFIO's rule).
func (r RegionInfo) Append(b []byte, argsz uint32) []byte {
	ri := r.RegionInfo
	var caps []byte
	if r.Sparse != nil {
		caps = vfio.Encode(caps, &vfio.RegionInfoCapSparseMmap{
			Header:  vfio.InfoCapHeader{ID: vfio.RegionInfoCapSparseMmapID, Version: 1},
			NrAreas: uint32(len(r.Sparse))})
		for i := range r.Sparse {
			caps = vfio.Encode(caps, &r.Sparse[i])
		}
	}
	ri.Argsz = uint32(vfio.RegionInfoSize + len(caps))
	ri.Flags &^= vfio.RegionInfoFlagCaps
	ri.CapOffset = 0
	if len(caps) > 0 {
		ri.Flags |= vfio.RegionInfoFlagCaps
		if ri.Argsz <= argsz {
			ri.CapOffset = uint32(vfio.RegionInfoSize)
		}
	}
	b = vfio.Encode(b, &ri)
	if ri.CapOffset != 0 {
		b = append(b, caps...)
	}
	return b
}

// DecodeRegionInfo decodes a DEVICE_GET_REGION_INFO reply to a request for region index.
func DecodeRegionInfo(b []byte, index uint32) (RegionInfo, error) {
	const what = "DEVICE_GET_REGION_INFO reply"
	var r RegionInfo
	if len(b) < vfio.RegionInfoSize || len(b) > MaxRegionInfo {
		return r, malformed(what, "%d bytes, want %d to %d", len(b), vfio.RegionInfoSize, MaxRegionInfo)
	}
	vfio.Decode(b, &r.RegionInfo)
	if r.Index != index {
		return r, malformed(what, "for region %d, asked for %d", r.Index, index)
	}
	if r.Argsz < uint32(vfio.RegionInfoSize) || r.Argsz > MaxRegionInfo {
		return r, malformed(what, "argsz %d", r.Argsz)
	}
	if r.Flags&^(vfio.RegionInfoFlagRead|vfio.RegionInfoFlagWrite|vfio.RegionInfoFlagMmap|vfio.RegionInfoFlagCaps) != 0 {
		return r, malformed(what, "unknown flags %#x", r.Flags)
	}
	if r.Offset+r.Size < r.Offset {
		return r, malformed(what, "region of %d bytes at file offset %#x wraps", r.Size, r.Offset)
	}
	if r.Flags&vfio.RegionInfoFlagCaps == 0 || r.CapOffset == 0 {
		// No capabilities, or they did not fit what the client can take (argsz says how
		// much they need).
		if len(b) != vfio.RegionInfoSize {
			return r, malformed(what, "%d bytes after the structure and no capability", len(b)-vfio.RegionInfoSize)
		}
		return r, nil
	}
	if r.Argsz != uint32(len(b)) {
		return r, malformed(what, "argsz %d but %d bytes", r.Argsz, len(b))
	}
	// Walk the capability chain: each header inside the message, offsets strictly
	// increasing (so the walk ends), unknown capabilities skipped.
	off, seen := r.CapOffset, 0
	for off != 0 {
		if off < uint32(vfio.RegionInfoSize) || off%4 != 0 || uint64(off)+uint64(vfio.InfoCapHeaderSize) > uint64(len(b)) {
			return r, malformed(what, "capability at offset %d outside the %d-byte reply", off, len(b))
		}
		var h vfio.InfoCapHeader
		vfio.Decode(b[off:], &h)
		if h.ID == vfio.RegionInfoCapSparseMmapID {
			if r.Sparse != nil {
				return r, malformed(what, "two sparse mmap capabilities")
			}
			if uint64(off)+uint64(vfio.RegionInfoCapSparseMmapSize) > uint64(len(b)) {
				return r, malformed(what, "sparse mmap capability at %d cut short", off)
			}
			var c vfio.RegionInfoCapSparseMmap
			vfio.Decode(b[off:], &c)
			start := uint64(off) + uint64(vfio.RegionInfoCapSparseMmapSize)
			if uint64(c.NrAreas) > (uint64(len(b))-start)/uint64(vfio.SparseMmapAreaSize) {
				return r, malformed(what, "%d sparse mmap areas do not fit the reply", c.NrAreas)
			}
			r.Sparse = make([]vfio.SparseMmapArea, c.NrAreas)
			for i := range r.Sparse {
				vfio.Decode(b[start+uint64(i)*uint64(vfio.SparseMmapAreaSize):], &r.Sparse[i])
				a := r.Sparse[i]
				if a.Offset+a.Size < a.Offset || a.Offset+a.Size > r.Size {
					return r, malformed(what, "sparse mmap area %d (%d bytes at %#x) outside the %d-byte region", i, a.Size, a.Offset, r.Size)
				}
			}
		}
		if h.Next != 0 && h.Next <= off {
			return r, malformed(what, "capability chain goes back from %d to %d", off, h.Next)
		}
		off = h.Next
		if seen++; seen > 64 {
			return r, malformed(what, "more than 64 capabilities")
		}
	}
	return r, nil
}

// --- DEVICE_GET_IRQ_INFO and DEVICE_SET_IRQS ---

// IRQInfoRequest is the DEVICE_GET_IRQ_INFO request.
func IRQInfoRequest(index uint32) []byte {
	return vfio.Encode(nil, &vfio.IRQInfo{Argsz: uint32(vfio.IRQInfoSize), Index: index})
}

// DecodeIRQInfoRequest decodes a DEVICE_GET_IRQ_INFO request.
func DecodeIRQInfoRequest(b []byte) (index uint32, err error) {
	if len(b) != vfio.IRQInfoSize {
		return 0, malformed("DEVICE_GET_IRQ_INFO", "%d bytes, want %d", len(b), vfio.IRQInfoSize)
	}
	var r vfio.IRQInfo
	vfio.Decode(b, &r)
	if r.Argsz < uint32(vfio.IRQInfoSize) {
		return 0, malformed("DEVICE_GET_IRQ_INFO", "argsz %d, less than %d", r.Argsz, vfio.IRQInfoSize)
	}
	return r.Index, nil
}

// DecodeIRQInfo decodes a DEVICE_GET_IRQ_INFO reply to a request for index.
func DecodeIRQInfo(b []byte, index uint32) (vfio.IRQInfo, error) {
	var r vfio.IRQInfo
	if len(b) != vfio.IRQInfoSize {
		return r, malformed("DEVICE_GET_IRQ_INFO reply", "%d bytes, want %d", len(b), vfio.IRQInfoSize)
	}
	vfio.Decode(b, &r)
	if r.Index != index {
		return r, malformed("DEVICE_GET_IRQ_INFO reply", "for interrupt type %d, asked for %d", r.Index, index)
	}
	if r.Count > 2048 {
		return r, malformed("DEVICE_GET_IRQ_INFO reply", "%d interrupts", r.Count)
	}
	return r, nil
}

// IRQSet is the DEVICE_SET_IRQS request. With IRQSetDataEventfd the descriptors travel with
// the message (none: unset the interrupts); with IRQSetDataBool, Bools holds Count flags.
type IRQSet struct {
	Flags, Index, Start, Count uint32
	Bools                      []byte
}

// Append appends the payload.
func (s IRQSet) Append(b []byte) []byte {
	n := vfio.IRQSetSize + len(s.Bools)
	b = vfio.Encode(b, &vfio.IRQSet{Argsz: uint32(n), Flags: s.Flags, Index: s.Index, Start: s.Start, Count: s.Count})
	return append(b, s.Bools...)
}

// DecodeIRQSet decodes a DEVICE_SET_IRQS request that came with nfds descriptors.
func DecodeIRQSet(b []byte, nfds int) (IRQSet, error) {
	const what = "DEVICE_SET_IRQS"
	if len(b) < vfio.IRQSetSize {
		return IRQSet{}, malformed(what, "%d bytes, want at least %d", len(b), vfio.IRQSetSize)
	}
	var r vfio.IRQSet
	vfio.Decode(b, &r)
	s := IRQSet{Flags: r.Flags, Index: r.Index, Start: r.Start, Count: r.Count}
	if r.Argsz != uint32(len(b)) {
		return s, malformed(what, "argsz %d, the payload is %d bytes", r.Argsz, len(b))
	}
	data, action := r.Flags&vfio.IRQSetDataTypeMask, r.Flags&vfio.IRQSetActionTypeMask
	if r.Flags&^(vfio.IRQSetDataTypeMask|vfio.IRQSetActionTypeMask) != 0 || data&(data-1) != 0 || action&(action-1) != 0 || data == 0 || action == 0 {
		return s, malformed(what, "flags %#x are not one data type and one action", r.Flags)
	}
	if r.Start+r.Count < r.Start || r.Count > 2048 {
		return s, malformed(what, "interrupts %d+%d", r.Start, r.Count)
	}
	tail := b[vfio.IRQSetSize:]
	switch data {
	case vfio.IRQSetDataBool:
		if len(tail) != int(r.Count) {
			return s, malformed(what, "%d flags for %d interrupts", len(tail), r.Count)
		}
		s.Bools = tail
	case vfio.IRQSetDataEventfd:
		if len(tail) != 0 {
			return s, malformed(what, "%d bytes of data with eventfds", len(tail))
		}
		if nfds != 0 && nfds != int(r.Count) {
			return s, malformed(what, "%d eventfds for %d interrupts", nfds, r.Count)
		}
	default:
		if len(tail) != 0 {
			return s, malformed(what, "%d bytes of data with DATA_NONE", len(tail))
		}
	}
	if data != vfio.IRQSetDataEventfd && nfds != 0 {
		return s, malformed(what, "%d descriptors without DATA_EVENTFD", nfds)
	}
	return s, nil
}

// --- REGION_READ / REGION_WRITE ---

// RegionAccessSize is the fixed part of a region access.
const RegionAccessSize = 16

// RegionAccess is a REGION_READ or REGION_WRITE request or reply; Data is the bytes written
// (a write request) or read (a read reply).
type RegionAccess struct {
	Offset uint64
	Region uint32
	Count  uint32
	Data   []byte
}

// Append appends the payload.
func (a RegionAccess) Append(b []byte) []byte {
	b = le.AppendUint64(b, a.Offset)
	b = le.AppendUint32(b, a.Region)
	b = le.AppendUint32(b, a.Count)
	return append(b, a.Data...)
}

// DecodeRegionAccess decodes a region access whose data is withData bytes of Count (a write
// request, a read reply) or none (a read request, a write reply).
func DecodeRegionAccess(b []byte, what string, withData bool, maxCount uint32) (RegionAccess, error) {
	if len(b) < RegionAccessSize {
		return RegionAccess{}, malformed(what, "%d bytes, want at least %d", len(b), RegionAccessSize)
	}
	a := RegionAccess{Offset: le.Uint64(b), Region: le.Uint32(b[8:]), Count: le.Uint32(b[12:])}
	if a.Count == 0 || a.Count > maxCount {
		return a, malformed(what, "count %d outside [1, %d]", a.Count, maxCount)
	}
	if a.Offset+uint64(a.Count) < a.Offset {
		return a, malformed(what, "%d bytes at %#x wrap", a.Count, a.Offset)
	}
	want := RegionAccessSize
	if withData {
		want += int(a.Count)
	}
	if len(b) != want {
		return a, malformed(what, "%d bytes for a count of %d, want %d", len(b), a.Count, want)
	}
	if withData {
		a.Data = b[RegionAccessSize:]
	}
	return a, nil
}

// --- DMA_READ / DMA_WRITE (server to client) ---

// DMAAccessSize is the fixed part of a DMA access.
const DMAAccessSize = 16

// DMAAccess is a DMA_READ or DMA_WRITE request or reply.
type DMAAccess struct {
	Address uint64
	Count   uint64
	Data    []byte
}

// Append appends the payload.
func (a DMAAccess) Append(b []byte) []byte {
	b = le.AppendUint64(b, a.Address)
	b = le.AppendUint64(b, a.Count)
	return append(b, a.Data...)
}

// DecodeDMAAccess decodes a DMA access; withData as for DecodeRegionAccess. A DMA_WRITE
// reply may carry a 4-byte count (as the spec's table has it) or an 8-byte one.
func DecodeDMAAccess(b []byte, what string, withData bool, maxCount uint64) (DMAAccess, error) {
	if !withData && len(b) == 12 {
		a := DMAAccess{Address: le.Uint64(b), Count: uint64(le.Uint32(b[8:]))}
		if a.Count == 0 || a.Count > maxCount {
			return a, malformed(what, "count %d outside [1, %d]", a.Count, maxCount)
		}
		return a, nil
	}
	if len(b) < DMAAccessSize {
		return DMAAccess{}, malformed(what, "%d bytes, want at least %d", len(b), DMAAccessSize)
	}
	a := DMAAccess{Address: le.Uint64(b), Count: le.Uint64(b[8:])}
	if a.Count == 0 || a.Count > maxCount {
		return a, malformed(what, "count %d outside [1, %d]", a.Count, maxCount)
	}
	if a.Address+a.Count < a.Address {
		return a, malformed(what, "%d bytes at %#x wrap", a.Count, a.Address)
	}
	want := uint64(DMAAccessSize)
	if withData {
		want += a.Count
	}
	if uint64(len(b)) != want {
		return a, malformed(what, "%d bytes for a count of %d, want %d", len(b), a.Count, want)
	}
	if withData {
		a.Data = b[DMAAccessSize:]
	}
	return a, nil
}
