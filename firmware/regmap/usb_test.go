package regmap

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUSBDescriptors(t *testing.T) {
	for _, tc := range []struct {
		speed               USBSpeed
		bcd                 uint16
		ep0, mps, conf, bos int
	}{
		{USBHighSpeed, 0x0210, 64, 512, 32, 12},
		{USBSuperSpeed, 0x0320, 9, 1024, 44, 22},
	} {
		t.Run(tc.speed.String(), func(t *testing.T) {
			d := USBDeviceDescriptorBytes(tc.speed)
			require.Len(t, d, 18)
			assert.Equal(t, byte(18), d[0])
			assert.Equal(t, byte(USBDescDevice), d[1])
			assert.Equal(t, tc.bcd, le.Uint16(d[2:]))
			assert.Equal(t, byte(tc.ep0), d[7])
			assert.Equal(t, USBVendorID, le.Uint16(d[8:]))
			assert.Equal(t, USBProductID, le.Uint16(d[10:]))
			assert.Equal(t, byte(USBStrSerial), d[16])
			assert.Equal(t, byte(1), d[17])

			c := USBConfigDescriptorBytes(tc.speed)
			require.Len(t, c, tc.conf)
			assert.Equal(t, uint16(tc.conf), le.Uint16(c[2:]), "wTotalLength")
			assert.Equal(t, byte(USBConfigValue), c[5])
			// Walk the descriptors: every bLength adds up, both bulk endpoints are there with
			// the speed's max packet size.
			eps := map[byte]uint16{}
			for i := 0; i < len(c); i += int(c[i]) {
				require.NotZero(t, c[i], "zero bLength at %d", i)
				require.LessOrEqual(t, i+int(c[i]), len(c))
				if c[i+1] == USBDescEndpoint {
					assert.Equal(t, byte(2), c[i+3], "bulk")
					eps[c[i+2]] = le.Uint16(c[i+4:])
				}
				if c[i+1] == USBDescSSEPComp {
					assert.Equal(t, USBSuperSpeed, tc.speed, "companions only at super speed")
				}
			}
			assert.Equal(t, map[byte]uint16{USBEndpointOut: uint16(tc.mps), USBEndpointIn: uint16(tc.mps)}, eps)
			assert.Equal(t, tc.mps, tc.speed.MaxPacket())

			b := USBBOSDescriptorBytes(tc.speed)
			require.Len(t, b, tc.bos)
			assert.Equal(t, uint16(tc.bos), le.Uint16(b[2:]))
		})
	}
	assert.Zero(t, USBHostTransfer%USBMaxPacketSS)
	assert.Zero(t, USBHostTransfer%USBMaxPacketHS)
}

func TestUSBStrings(t *testing.T) {
	assert.Equal(t, []byte{4, 3, 0x09, 0x04}, USBLanguages())
	assert.Equal(t, []byte{6, 3, 'a', 0, 0xe9, 0}, USBStringDescriptor("aé"))
	assert.Len(t, USBStringDescriptor(string(make([]rune, 300))), 2+2*126)
	assert.Equal(t, "42", USBSerialString(42))
}

func TestUSBIdentityAndAttach(t *testing.T) {
	id := USBIdentity{Version: ProtocolVersion, BoardID: BoardUSB, FWVersion: MakeFWVersion(1, 2, 3), Serial: 1 << 40,
		Cores: 8, Neurons: 1024, Attached: true, HolderPID: 77, HolderComm: "lrctl", MaxFrame: 1 << 18}
	b := id.Append(nil)
	require.Len(t, b, USBIdentitySize)
	l := &USBIdentityLayout
	assert.Equal(t, uint64(Magic), field(t, l, "magic", b))
	assert.Equal(t, uint64(BoardUSB), field(t, l, "board_id", b))
	assert.Equal(t, uint64(1<<40), field(t, l, "serial", b))
	assert.Equal(t, uint64(1024), field(t, l, "neurons", b))
	assert.Equal(t, uint64(77), field(t, l, "holder_pid", b))
	assert.Equal(t, uint64(1<<18), field(t, l, "max_frame", b))
	got, err := DecodeUSBIdentity(b)
	require.NoError(t, err)
	assert.Equal(t, id, got)

	a := USBAttach{Version: ProtocolVersion, PID: 9, Comm: "a-very-long-command-name", RingCap: [NumRings]uint32{0, 4096, 1 << 20, 0}}
	b = a.Append(nil)
	require.Len(t, b, USBAttachSize)
	assert.Equal(t, uint64(9), field(t, &USBAttachLayout, "pid", b))
	ga, err := DecodeUSBAttach(b)
	require.NoError(t, err)
	a.Comm = a.Comm[:15] // NUL-terminated in 16 bytes
	assert.Equal(t, a, ga)

	bad := []struct {
		name string
		b    []byte
		dec  func([]byte) error
	}{
		{"identity short", b[:10], func(b []byte) error { _, err := DecodeUSBIdentity(b); return err }},
		{"identity magic", append([]byte{1}, id.Append(nil)[1:]...), func(b []byte) error { _, err := DecodeUSBIdentity(b); return err }},
		{"identity attached", func() []byte { x := id.Append(nil); x[32] = 2; return x }(), func(b []byte) error { _, err := DecodeUSBIdentity(b); return err }},
		{"identity reserved", func() []byte { x := id.Append(nil); x[63] = 1; return x }(), func(b []byte) error { _, err := DecodeUSBIdentity(b); return err }},
		{"attach long", append(a.Append(nil), 0), func(b []byte) error { _, err := DecodeUSBAttach(b); return err }},
		{"attach ring", USBAttach{RingCap: [NumRings]uint32{3000}}.Append(nil), func(b []byte) error { _, err := DecodeUSBAttach(b); return err }},
		{"attach huge ring", USBAttach{RingCap: [NumRings]uint32{0, 0, 0, 1 << 29}}.Append(nil), func(b []byte) error { _, err := DecodeUSBAttach(b); return err }},
	}
	for _, tc := range bad {
		assert.ErrorIs(t, tc.dec(tc.b), ErrMalformed, tc.name)
	}
}

func TestCheckRegRequest(t *testing.T) {
	for _, tc := range []struct {
		off uint32
		n   int
		ok  bool
	}{
		{0, 4, true}, {0, 256, true}, {0xFFC, 4, true}, {0x040, 8, true},
		{2, 4, false}, {0x1000, 4, false}, {0, 0, false}, {0, 6, false}, {0, 260, false}, {0xF80, 256, false},
	} {
		err := CheckRegRequest(tc.off, tc.n)
		if tc.ok {
			assert.NoError(t, err, "%#x+%d", tc.off, tc.n)
		} else {
			assert.ErrorIs(t, err, ErrMalformed, "%#x+%d", tc.off, tc.n)
		}
	}
}

type frame struct {
	h FrameHeader
	p []byte
}

func inDecoder() *FrameDecoder {
	return &FrameDecoder{Name: "bulk IN", Rings: 1<<RingCpl | 1<<RingOut, Max: [NumRings]int{0, 1000, 0, 100000}}
}

func collect(d *FrameDecoder, chunks ...[]byte) ([]frame, error) {
	var out []frame
	for _, c := range chunks {
		if _, err := d.Feed(c, func(h FrameHeader, p []byte) error {
			out = append(out, frame{h, append([]byte(nil), p...)})
			return nil
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestFramesSurviveAnySplit(t *testing.T) {
	var stream []byte
	var want []frame
	for i, n := range []int{0, 1, 7, 8, 9, 16, 999, 5000} {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		r := RingCpl
		if n > 1000 {
			r = RingOut
		}
		stream = AppendFrame(stream, r, TypeEvent, p)
		want = append(want, frame{FrameHeader{uint32(n), TypeEvent, r}, p})
	}
	assert.Zero(t, len(stream)%FrameAlign)
	for _, cut := range []int{1, 3, 8, 13, 512, 1024, len(stream)} {
		d := inDecoder()
		var chunks [][]byte
		for i := 0; i < len(stream); i += cut {
			chunks = append(chunks, stream[i:min(i+cut, len(stream))])
		}
		got, err := collect(d, chunks...)
		require.NoError(t, err, "pieces of %d", cut)
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, want[i].h, got[i].h)
			assert.True(t, bytes.Equal(want[i].p, got[i].p), "frame %d", i)
		}
		assert.False(t, d.Partial())
		assert.NoError(t, d.EndBurst())
	}
}

func TestFrameErrors(t *testing.T) {
	good := AppendFrame(nil, RingCpl, TypeCompletion, []byte{1, 2, 3})
	mod := func(i int, v byte) []byte { b := append([]byte(nil), good...); b[i] = v; return b }
	for _, tc := range []struct {
		name  string
		b     []byte
		burst bool // the error shows at the end of the burst
		msg   string
	}{
		{"sync", mod(7, 0), false, "sync byte"},
		{"ring", mod(6, byte(RingCmd)), false, "ring 0 does not travel"},
		{"ring range", mod(6, 9), false, "ring 9"},
		{"pad type", mod(4, 0), false, "reserved"},
		{"reserved type", mod(5, 0xff), false, "reserved"},
		{"too long", AppendFrame(nil, RingCpl, TypeEvent, make([]byte, 1001)), false, "at most 1000"},
		{"padding", mod(13, 1), false, "padding"},
		{"short header", good[:5], true, "into a frame header"},
		{"short payload", good[:10], true, "into a 3-byte ring CPL record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []int{1, len(tc.b)} {
				d := inDecoder()
				var chunks [][]byte
				for i := 0; i < len(tc.b); i += split {
					chunks = append(chunks, tc.b[i:min(i+split, len(tc.b))])
				}
				_, err := collect(d, chunks...)
				if tc.burst {
					require.NoError(t, err)
					err = d.EndBurst()
				}
				require.ErrorIs(t, err, ErrMalformed)
				assert.Contains(t, err.Error(), tc.msg)
				assert.Contains(t, err.Error(), "bulk IN")
				// Sticky until Reset.
				_, err2 := d.Feed(good, func(FrameHeader, []byte) error { return nil })
				assert.ErrorIs(t, err2, ErrMalformed)
				d.Reset()
				got, err := collect(d, good)
				require.NoError(t, err)
				assert.Len(t, got, 1)
			}
		})
	}
	// An error from emit stops Feed without sticking, and the frame is offered again.
	stop := errors.New("stop")
	refuse := func(FrameHeader, []byte) error { return stop }
	d := inDecoder()
	n, err := d.Feed(append(good, good...), refuse)
	assert.Equal(t, 0, n, "a whole frame in the input: not consumed")
	assert.Same(t, stop, err)
	assert.NoError(t, d.Err())
	got, err := collect(d, append(good, good...))
	require.NoError(t, err)
	assert.Len(t, got, 2)

	d = inDecoder()
	_, err = d.Feed(good[:10], refuse)
	require.NoError(t, err)
	n, err = d.Feed(good[10:], refuse)
	assert.Equal(t, len(good)-10, n, "a buffered frame: its bytes are consumed")
	assert.Same(t, stop, err)
	assert.False(t, d.Partial())
	assert.NoError(t, d.EndBurst())
	got, err = collect(d, nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []byte{1, 2, 3}, got[0].p)
}

func TestFrameHeaderLayout(t *testing.T) {
	b := make([]byte, FrameHeaderSize)
	PutFrameHeader(b, FrameHeader{Length: 0x01020304, Type: TypeProbe, Ring: RingOut})
	assert.Equal(t, uint64(0x01020304), field(t, &FrameLayout, "length", b))
	assert.Equal(t, uint64(TypeProbe), field(t, &FrameLayout, "type", b))
	assert.Equal(t, byte(RingOut), b[6])
	assert.Equal(t, byte(FrameSync), b[7])
	assert.Equal(t, 8, FrameSize(0))
	assert.Equal(t, 16, FrameSize(1))
	assert.Equal(t, 16, FrameSize(8))
}

// FuzzFrameDecoder feeds arbitrary bytes, split at an arbitrary point, and checks that the
// decoder never panics and that the frames it accepts encode back to the bytes it consumed.
func FuzzFrameDecoder(f *testing.F) {
	s := AppendFrame(nil, RingCpl, TypeCompletion, []byte("hello"))
	s = AppendFrame(s, RingOut, TypeSpikes, make([]byte, 24))
	f.Add(s, uint16(3))
	f.Add(s[:13], uint16(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 1, FrameSync}, uint16(8))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		d := inDecoder()
		k := min(int(cut), len(b))
		var re []byte
		emit := func(h FrameHeader, p []byte) error {
			if len(p) != int(h.Length) {
				t.Fatalf("payload of %d bytes, header says %d", len(p), h.Length)
			}
			re = AppendFrame(re, h.Ring, h.Type, p)
			return nil
		}
		n1, err := d.Feed(b[:k], emit)
		if err != nil {
			return
		}
		n2, err := d.Feed(b[k:], emit)
		if err != nil {
			return
		}
		if n1+n2 != len(b) {
			t.Fatalf("consumed %d of %d bytes without an error", n1+n2, len(b))
		}
		if d.EndBurst() == nil && !bytes.Equal(re, b) {
			t.Fatalf("round trip: %x != %x", re, b)
		}
	})
}

func FuzzDecodeUSBIdentity(f *testing.F) {
	f.Add(USBIdentity{Version: ProtocolVersion, Serial: 3, HolderComm: "x"}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := DecodeUSBIdentity(b)
		if err != nil {
			return
		}
		if !bytes.Equal(id.Append(nil)[:40], b[:40]) {
			t.Fatalf("round trip of the fixed fields")
		}
	})
}

func FuzzDecodeUSBAttach(f *testing.F) {
	f.Add(USBAttach{Version: ProtocolVersion, PID: 1, Comm: "lrctl"}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeUSBAttach(b)
		if err != nil {
			return
		}
		out := a.Append(nil)
		if !bytes.Equal(out[:8], b[:8]) || !bytes.Equal(out[24:], b[24:]) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}
