package pcie

import (
	"testing"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/internal/vfio"
	"github.com/lrchip/lrchip/internal/vfiouser"
)

// FuzzSessionHandle feeds arbitrary commands to a session, as a hostile client would send
// them (without descriptors): the server answers each with a reply or an errno and never
// panics, whatever the offsets, sizes and flags say.
func FuzzSessionHandle(f *testing.F) {
	for _, s := range []struct {
		cmd     vfiouser.Command
		payload []byte
	}{
		{vfiouser.CmdDeviceGetInfo, vfiouser.DeviceInfoRequest()},
		{vfiouser.CmdDeviceGetRegionInfo, vfiouser.RegionInfoRequest(0, 32)},
		{vfiouser.CmdDeviceGetIRQInfo, vfiouser.IRQInfoRequest(2)},
		{vfiouser.CmdDeviceSetIRQs, vfiouser.IRQSet{Flags: vfio.IRQSetDataNone | vfio.IRQSetActionTrigger, Index: 2, Count: 1}.Append(nil)},
		{vfiouser.CmdRegionRead, vfiouser.RegionAccess{Offset: 0x40, Count: 4}.Append(nil)},
		{vfiouser.CmdRegionWrite, vfiouser.RegionAccess{Offset: 0x44, Count: 4, Data: []byte{0x10, 0, 0, 0}}.Append(nil)},
		{vfiouser.CmdRegionWrite, vfiouser.RegionAccess{Region: 7, Offset: 0x10, Count: 4, Data: []byte{0xff, 0xff, 0xff, 0xff}}.Append(nil)},
		{vfiouser.CmdDMAUnmap, vfiouser.DMAUnmap{Flags: vfiouser.DMAUnmapAll}.Append(nil)},
		{vfiouser.CmdDeviceReset, nil},
	} {
		f.Add(uint16(s.cmd), s.payload)
	}
	b, err := board.New(board.Opts{Size: chip.Size{Cores: 1, NeuronsPerCore: 16}})
	if err != nil {
		f.Fatal(err)
	}
	defer b.Close()
	srv := New(b, Opts{})
	f.Fuzz(func(t *testing.T, cmd uint16, payload []byte) {
		ss, err := newSession(srv, nil, board.Host{})
		if err != nil {
			t.Fatal(err)
		}
		defer ss.close()
		reply, fds, _ := ss.handle(vfiouser.Message{Header: vfiouser.Header{Command: vfiouser.Command(cmd % 20)}, Payload: payload})
		closeFds(fds)
		if len(reply) > vfiouser.MaxMessage {
			t.Fatalf("a %d-byte reply", len(reply))
		}
	})
}
