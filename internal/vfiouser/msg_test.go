package vfiouser

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/internal/vfio"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{ID: 7, Command: CmdRegionWrite, Size: 40, Flags: TypeCommand | FlagNoReply}
	got, err := ParseHeader(h.Append(nil))
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.False(t, got.IsReply())
}

func TestHeaderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Header
		want string
	}{
		{"short size", Header{Size: 8}, "message size 8"},
		{"huge size", Header{Size: MaxMessage + 1}, "message size"},
		{"unknown flag", Header{Size: 16, Flags: 1 << 7}, "unknown flags"},
		{"bad type", Header{Size: 16, Flags: 2}, "message type 2"},
		{"reply with no-reply", Header{Size: 16, Flags: TypeReply | FlagNoReply}, "NO_REPLY"},
		{"command with error", Header{Size: 16, Flags: FlagError}, "error flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(tc.h.Append(nil))
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := ParseHeader(make([]byte, 15))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestVersionRoundTrip(t *testing.T) {
	v := Version{Major: 0, Minor: 1, Caps: Capabilities{MaxMsgFds: 8, MaxDataXferSize: 1 << 20, PgSizes: 4096, MaxDMAMaps: 64, WriteMultiple: true}}
	b := v.Append(nil)
	require.Equal(t, byte(0), b[len(b)-1], "the JSON ends with a NUL")
	got, err := DecodeVersion(b)
	require.NoError(t, err)
	require.Equal(t, v, got)

	// Without JSON, the defaults.
	got, err = DecodeVersion([]byte{0, 0, 1, 0})
	require.NoError(t, err)
	require.Equal(t, uint64(1), got.Caps.Fds())
	require.Equal(t, uint64(DefaultMaxDataXfer), got.Caps.Xfer())
	require.Equal(t, uint64(4096), got.Caps.Pages())
	require.Equal(t, uint64(65535), got.Caps.DMAMaps())

	// What libvfio-user sends: unknown members (migration) are ignored.
	lib := append([]byte{0, 0, 1, 0}, `{"capabilities":{"max_msg_fds":8,"max_data_xfer_size":1048576,"migration":{"pgsize":4096,"max_bitmap_size":1048576}}}`...)
	got, err = DecodeVersion(append(lib, 0))
	require.NoError(t, err)
	require.Equal(t, uint64(8), got.Caps.MaxMsgFds)
}

func TestVersionRejects(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"not an object", `[1]`, "not a JSON object"},
		{"caps not an object", `{"capabilities": 3}`, "is not an object"},
		{"negative fds", `{"capabilities": {"max_msg_fds": -1}}`, "max_msg_fds"},
		{"fractional", `{"capabilities": {"max_data_xfer_size": 1.5}}`, "max_data_xfer_size"},
		{"string", `{"capabilities": {"pgsizes": "4096"}}`, "pgsizes"},
		{"bool", `{"capabilities": {"write_multiple": 1}}`, "write_multiple"},
		{"after NUL", "{}\x00junk", "after the NUL"},
		{"garbage", `{"capabilities": {`, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeVersion(append([]byte{0, 0, 1, 0}, tc.json...))
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := DecodeVersion(append([]byte{0, 0, 1, 0}, make([]byte, MaxVersionData+1)...))
	require.ErrorContains(t, err, "more than")
	_, err = Negotiate(Version{Major: 1}, Capabilities{})
	require.Error(t, err)
	v, err := Negotiate(Version{Major: 0, Minor: 9}, Capabilities{MaxMsgFds: 4})
	require.NoError(t, err)
	require.Equal(t, MinorVersion, v.Minor)
}

func TestDMARoundTrip(t *testing.T) {
	m := DMAMap{Flags: DMAReadable | DMAWriteable, Offset: 4096, Address: 1 << 32, Size: 1 << 20}
	got, err := DecodeDMAMap(m.Append(nil))
	require.NoError(t, err)
	require.Equal(t, m, got)
	u := DMAUnmap{Address: 1 << 32, Size: 1 << 20}
	gu, err := DecodeDMAUnmap(u.Append(nil))
	require.NoError(t, err)
	require.Equal(t, u, gu)

	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"map short", m.Append(nil)[:31], "31 bytes"},
		{"map empty", DMAMap{Address: 1}.Append(nil), "empty or wraps"},
		{"map wraps", DMAMap{Address: 1<<64 - 4096, Size: 8192}.Append(nil), "wraps"},
		{"map flags", DMAMap{Flags: 1 << 9, Size: 1}.Append(nil), "unknown flags"},
		{"unmap bitmap", DMAUnmap{Flags: 1, Size: 1}.Append(nil), "dirty-page"},
		{"unmap wraps", DMAUnmap{Address: 1<<64 - 1, Size: 2}.Append(nil), "wraps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if len(tc.b) == DMAUnmapSize {
				_, err = DecodeDMAUnmap(tc.b)
			} else {
				_, err = DecodeDMAMap(tc.b)
			}
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tc.want)
		})
	}
	bad := m.Append(nil)
	bad[0] = 8
	_, err = DecodeDMAMap(bad)
	require.ErrorContains(t, err, "argsz 8")
}

func TestRegionInfoRoundTrip(t *testing.T) {
	r := RegionInfo{RegionInfo: vfio.RegionInfo{Flags: vfio.RegionInfoFlagRead | vfio.RegionInfoFlagWrite | vfio.RegionInfoFlagMmap, Index: 0, Size: 4096}}
	b := r.Append(nil, 32)
	require.Len(t, b, 32)
	got, err := DecodeRegionInfo(b, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(32), got.Argsz)
	require.Nil(t, got.Sparse)

	// With a sparse mmap capability, for a client that takes it ...
	r.Sparse = []vfio.SparseMmapArea{{Offset: 0, Size: 2048}, {Offset: 3072, Size: 1024}}
	b = r.Append(nil, MaxRegionInfo)
	got, err = DecodeRegionInfo(b, 0)
	require.NoError(t, err)
	require.Equal(t, r.Sparse, got.Sparse)
	require.Equal(t, uint32(len(b)), got.Argsz)
	// ... and one that asked for the structure only: argsz says what it would need.
	b = r.Append(nil, 32)
	require.Len(t, b, 32)
	got, err = DecodeRegionInfo(b, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(32+16+32), got.Argsz)
	require.Nil(t, got.Sparse)

	_, err = DecodeRegionInfo(r.Append(nil, MaxRegionInfo), 2)
	require.ErrorContains(t, err, "asked for 2")
}

func TestRegionInfoRejectsBadCapabilities(t *testing.T) {
	base := RegionInfo{RegionInfo: vfio.RegionInfo{Flags: vfio.RegionInfoFlagRead, Index: 0, Size: 4096},
		Sparse: []vfio.SparseMmapArea{{Offset: 0, Size: 4096}}}
	good := base.Append(nil, MaxRegionInfo)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"cap offset outside", mut(func(b []byte) []byte { le.PutUint32(b[12:], 4000); return b }), "outside"},
		{"cap offset inside the structure", mut(func(b []byte) []byte { le.PutUint32(b[12:], 8); return b }), "outside"},
		{"chain loops", mut(func(b []byte) []byte { le.PutUint32(b[36:], 32); return b }), "goes back"},
		{"too many areas", mut(func(b []byte) []byte { le.PutUint32(b[40:], 1000); return b }), "do not fit"},
		{"area outside the region", mut(func(b []byte) []byte { le.PutUint64(b[56:], 8192); return b }), "outside the 4096-byte region"},
		{"argsz disagrees", mut(func(b []byte) []byte { le.PutUint32(b[0:], 40); return b }), "argsz 40"},
		{"trailing bytes", append(RegionInfo{RegionInfo: vfio.RegionInfo{Size: 1}}.Append(nil, 32), 1, 2, 3, 4), "after the structure"},
		{"unknown flag", mut(func(b []byte) []byte { le.PutUint32(b[4:], 1<<9|vfio.RegionInfoFlagCaps); return b }), "unknown flags"},
		{"wraps", mut(func(b []byte) []byte { le.PutUint64(b[24:], 1<<64-1); return b }), "wraps"},
		{"short", good[:20], "20 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRegionInfo(tc.b, 0)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestIRQSet(t *testing.T) {
	s := IRQSet{Flags: vfio.IRQSetDataEventfd | vfio.IRQSetActionTrigger, Index: vfio.PCIMSIXIRQIndex, Start: 0, Count: 2}
	got, err := DecodeIRQSet(s.Append(nil), 2)
	require.NoError(t, err)
	require.Equal(t, s, got)
	_, err = DecodeIRQSet(s.Append(nil), 0) // unset
	require.NoError(t, err)
	b := IRQSet{Flags: vfio.IRQSetDataBool | vfio.IRQSetActionMask, Count: 3, Bools: []byte{1, 0, 1}}
	got, err = DecodeIRQSet(b.Append(nil), 0)
	require.NoError(t, err)
	require.Equal(t, []byte{1, 0, 1}, got.Bools)
	for _, tc := range []struct {
		name string
		b    []byte
		nfds int
		want string
	}{
		{"fd count", s.Append(nil), 1, "1 eventfds for 2"},
		{"two data types", IRQSet{Flags: vfio.IRQSetDataEventfd | vfio.IRQSetDataBool | vfio.IRQSetActionTrigger}.Append(nil), 0, "one data type"},
		{"no action", IRQSet{Flags: vfio.IRQSetDataNone}.Append(nil), 0, "one data type"},
		{"bools short", IRQSet{Flags: vfio.IRQSetDataBool | vfio.IRQSetActionMask, Count: 3, Bools: []byte{1}}.Append(nil), 0, "1 flags for 3"},
		{"fds with none", IRQSet{Flags: vfio.IRQSetDataNone | vfio.IRQSetActionTrigger, Count: 1}.Append(nil), 1, "without DATA_EVENTFD"},
		{"wrap", IRQSet{Flags: vfio.IRQSetDataNone | vfio.IRQSetActionTrigger, Start: 1<<32 - 1, Count: 2}.Append(nil), 0, "interrupts"},
		{"argsz", append(s.Append(nil), 0), 0, "argsz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeIRQSet(tc.b, tc.nfds)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRegionAccess(t *testing.T) {
	w := RegionAccess{Offset: 0x58, Region: 0, Count: 4, Data: []byte{1, 0, 0, 0}}
	got, err := DecodeRegionAccess(w.Append(nil), "REGION_WRITE", true, 1<<20)
	require.NoError(t, err)
	require.Equal(t, w, got)
	r := RegionAccess{Offset: 0x40, Count: 4}
	got, err = DecodeRegionAccess(r.Append(nil), "REGION_READ", false, 1<<20)
	require.NoError(t, err)
	require.Equal(t, r, got)
	for _, tc := range []struct {
		name     string
		b        []byte
		withData bool
		want     string
	}{
		{"data short", RegionAccess{Count: 8, Data: []byte{1}}.Append(nil), true, "for a count of 8"},
		{"zero count", RegionAccess{}.Append(nil), false, "count 0"},
		{"too big", RegionAccess{Count: 1 << 21}.Append(nil), false, "count"},
		{"wraps", RegionAccess{Offset: 1<<64 - 2, Count: 4}.Append(nil), false, "wrap"},
		{"data on a read", RegionAccess{Count: 4, Data: []byte{1, 2, 3, 4}}.Append(nil), false, "want 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRegionAccess(tc.b, "x", tc.withData, 1<<20)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tc.want)
		})
	}
	d := DMAAccess{Address: 1 << 32, Count: 3, Data: []byte{1, 2, 3}}
	gd, err := DecodeDMAAccess(d.Append(nil), "DMA_WRITE", true, 1<<20)
	require.NoError(t, err)
	require.Equal(t, d, gd)
	short := make([]byte, 12)
	le.PutUint64(short, 1<<32)
	le.PutUint32(short[8:], 3)
	gd, err = DecodeDMAAccess(short, "DMA_WRITE reply", false, 1<<20)
	require.NoError(t, err)
	require.Equal(t, uint64(3), gd.Count)
}

func socketpair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	var conns [2]*Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		conns[i] = NewConn(c.(*net.UnixConn))
	}
	return conns[0], conns[1]
}

func TestConnCarriesMessagesAndDescriptors(t *testing.T) {
	a, b := socketpair(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(efd)
	big := make([]byte, DefaultMaxDataXfer) // bigger than a socket buffer: sent in parts
	for i := range big {
		big[i] = byte(i * 7)
	}
	done := make(chan error, 1)
	go func() {
		if err := a.Send(Header{ID: 1, Command: CmdDeviceSetIRQs}, []byte{1, 2, 3}, []int{efd, efd}); err != nil {
			done <- err
			return
		}
		done <- a.Send(Header{ID: 2, Command: CmdRegionWrite}, RegionAccess{Count: uint32(len(big)), Data: big}.Append(nil), nil)
	}()
	m, err := b.Receive()
	require.NoError(t, err)
	require.Equal(t, uint16(1), m.ID)
	require.Equal(t, []byte{1, 2, 3}, m.Payload)
	require.Len(t, m.Fds, 2)
	// The descriptors work: a write through one shows on the original.
	_, err = unix.Write(m.Fds[0], []byte{1, 0, 0, 0, 0, 0, 0, 0})
	require.NoError(t, err)
	var v [8]byte
	_, err = unix.Read(efd, v[:])
	require.NoError(t, err)
	CloseFds(m.Fds)
	m, err = b.Receive()
	require.NoError(t, err)
	require.NoError(t, <-done)
	ra, err := DecodeRegionAccess(m.Payload, "REGION_WRITE", true, DefaultMaxDataXfer)
	require.NoError(t, err)
	require.Equal(t, big, ra.Data)
	a.UnixConn().Close()
	_, err = b.Receive()
	require.ErrorIs(t, err, io.EOF)
}

func TestConnRefusesBadFraming(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		want error
	}{
		{"truncated header", []byte{1, 2, 3}, ErrTruncated},
		{"truncated payload", Header{Size: 64}.Append(nil), ErrTruncated},
		{"oversized", Header{Size: MaxMessage + 1}.Append(nil), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := socketpair(t)
			_, err := a.UnixConn().Write(tc.raw)
			require.NoError(t, err)
			a.UnixConn().CloseWrite()
			_, err = b.Receive()
			require.True(t, errors.Is(err, tc.want), "%v", err)
		})
	}
	// Too many descriptors: the message is refused and none leak.
	a, b := socketpair(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(efd)
	fds := make([]int, MaxFds+4)
	for i := range fds {
		fds[i] = efd
	}
	_, _, err = a.UnixConn().WriteMsgUnix(Header{Size: 16}.Append(nil), unix.UnixRights(fds...), nil)
	require.NoError(t, err)
	_, err = b.Receive()
	require.ErrorIs(t, err, ErrMalformed)
}
