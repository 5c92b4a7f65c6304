package vfiouser

import (
	"testing"

	"github.com/lrchip/lrchip/internal/vfio"
)

// decodeRequest runs the decoder a server runs on a command's payload.
func decodeRequest(cmd Command, b []byte, nfds int) {
	switch cmd {
	case CmdVersion:
		DecodeVersion(b)
	case CmdDMAMap:
		DecodeDMAMap(b)
	case CmdDMAUnmap:
		DecodeDMAUnmap(b)
	case CmdDeviceGetInfo:
		DecodeDeviceInfoRequest(b)
	case CmdDeviceGetRegionInfo:
		DecodeRegionInfoRequest(b)
	case CmdDeviceGetIRQInfo:
		DecodeIRQInfoRequest(b)
	case CmdDeviceSetIRQs:
		DecodeIRQSet(b, nfds)
	case CmdRegionRead:
		DecodeRegionAccess(b, "REGION_READ", false, DefaultMaxDataXfer)
	case CmdRegionWrite:
		DecodeRegionAccess(b, "REGION_WRITE", true, DefaultMaxDataXfer)
	}
}

// decodeReply runs the decoder a client runs on a reply's payload.
func decodeReply(cmd Command, b []byte) {
	switch cmd {
	case CmdVersion:
		DecodeVersion(b)
	case CmdDMAUnmap:
		DecodeDMAUnmap(b)
	case CmdDeviceGetInfo:
		DecodeDeviceInfo(b)
	case CmdDeviceGetRegionInfo:
		if r, err := DecodeRegionInfo(b, 0); err == nil {
			for _, a := range r.Sparse {
				if a.Offset+a.Size > r.Size {
					panic("sparse area outside the region accepted")
				}
			}
		}
	case CmdDeviceGetIRQInfo:
		DecodeIRQInfo(b, 2)
	case CmdRegionRead:
		if a, err := DecodeRegionAccess(b, "REGION_READ reply", true, DefaultMaxDataXfer); err == nil && len(a.Data) != int(a.Count) {
			panic("data and count disagree")
		}
	case CmdRegionWrite:
		DecodeRegionAccess(b, "REGION_WRITE reply", false, DefaultMaxDataXfer)
	case CmdDMARead: // the server's request, which the client decodes
		DecodeDMAAccess(b, "DMA_READ", false, DefaultMaxDataXfer)
	case CmdDMAWrite:
		DecodeDMAAccess(b, "DMA_WRITE", true, DefaultMaxDataXfer)
	}
}

func seeds(f *testing.F) {
	f.Add(uint16(CmdVersion), Version{Minor: 1, Caps: Capabilities{MaxMsgFds: 8}}.Append(nil), 0)
	f.Add(uint16(CmdDMAMap), DMAMap{Flags: 3, Address: 1 << 32, Size: 4096}.Append(nil), 1)
	f.Add(uint16(CmdDMAUnmap), DMAUnmap{Address: 1 << 32, Size: 4096}.Append(nil), 0)
	f.Add(uint16(CmdDeviceGetInfo), vfio.Encode(nil, &vfio.DeviceInfo{Argsz: 16, Flags: 3, NumRegions: 9, NumIRQs: 5}), 0)
	f.Add(uint16(CmdDeviceGetRegionInfo), RegionInfo{RegionInfo: vfio.RegionInfo{Flags: 7, Size: 4096}, Sparse: []vfio.SparseMmapArea{{Size: 4096}}}.Append(nil, 4096), 0)
	f.Add(uint16(CmdDeviceGetIRQInfo), vfio.Encode(nil, &vfio.IRQInfo{Argsz: 16, Flags: 1, Index: 2, Count: 2}), 0)
	f.Add(uint16(CmdDeviceSetIRQs), IRQSet{Flags: vfio.IRQSetDataEventfd | vfio.IRQSetActionTrigger, Index: 2, Count: 2}.Append(nil), 2)
	f.Add(uint16(CmdRegionRead), RegionAccess{Offset: 0x40, Count: 4, Data: []byte{1, 2, 3, 4}}.Append(nil), 0)
	f.Add(uint16(CmdRegionWrite), RegionAccess{Offset: 0x58, Count: 4, Data: []byte{1, 0, 0, 0}}.Append(nil), 0)
	f.Add(uint16(CmdDMAWrite), DMAAccess{Address: 1, Count: 2, Data: []byte{1, 2}}.Append(nil), 0)
}

// FuzzServerDecode feeds arbitrary payloads to the decoders of a server (commands from a
// client): they must return, never panic.
func FuzzServerDecode(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, cmd uint16, b []byte, nfds int) {
		decodeRequest(Command(cmd%20), b, nfds%(MaxFds+1))
	})
}

// FuzzClientDecode feeds arbitrary payloads to the decoders of a client (replies and the
// server's DMA requests).
func FuzzClientDecode(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, cmd uint16, b []byte, _ int) {
		decodeReply(Command(cmd%20), b)
	})
}

// FuzzReceive feeds arbitrary bytes to the framing.
func FuzzReceive(f *testing.F) {
	f.Add(Header{ID: 1, Command: CmdVersion, Size: 20}.Append(nil))
	f.Add(append(Header{ID: 1, Command: CmdRegionRead, Size: 32, Flags: TypeReply}.Append(nil), make([]byte, 16)...))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 1<<16 {
			return
		}
		a, b := socketpair(t)
		go func() {
			a.UnixConn().Write(raw)
			a.UnixConn().CloseWrite()
		}()
		for {
			m, err := b.Receive()
			if err != nil {
				return
			}
			if int(m.Size) != HeaderSize+len(m.Payload) {
				t.Fatalf("size %d, payload %d", m.Size, len(m.Payload))
			}
		}
	})
}
