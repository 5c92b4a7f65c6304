package regmap

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFTDIDescriptors(t *testing.T) {
	d := FTDIDeviceDescriptorBytes()
	require.Len(t, d, 18)
	assert.Equal(t, FTDIVendorID, le.Uint16(d[8:]))
	assert.Equal(t, FTDIProductID, le.Uint16(d[10:]))
	assert.Equal(t, uint16(FTDIBcdDevice), le.Uint16(d[12:]))

	c := FTDIConfigDescriptorBytes()
	require.Len(t, c, 55, "a configuration, two interfaces, four endpoints")
	assert.Equal(t, uint16(55), le.Uint16(c[2:]), "wTotalLength")
	assert.Equal(t, byte(2), c[4], "bNumInterfaces")
	// Walk it: every bLength adds up; each interface has its channel's two bulk endpoints.
	eps := map[byte][]byte{}
	intf := byte(0xff)
	for i := 0; i < len(c); i += int(c[i]) {
		require.NotZero(t, c[i])
		switch c[i+1] {
		case USBDescInterface:
			intf = c[i+2]
		case USBDescEndpoint:
			assert.Equal(t, byte(2), c[i+3], "bulk")
			assert.Equal(t, uint16(FTDIMaxPacket), le.Uint16(c[i+4:]))
			eps[intf] = append(eps[intf], c[i+2])
		}
	}
	assert.Equal(t, map[byte][]byte{FTDIInterfaceA: {FTDIEndpointAIn, FTDIEndpointAOut}, FTDIInterfaceB: {FTDIEndpointBIn, FTDIEndpointBOut}}, eps)
	for _, n := range []int{FTDIInterfaceA, FTDIInterfaceB} {
		in, out, ok := FTDIEndpointsOf(n)
		require.True(t, ok)
		assert.Equal(t, eps[byte(n)], []byte{in, out})
	}
	_, _, ok := FTDIEndpointsOf(2)
	assert.False(t, ok)
}

func TestFTDIDivisor(t *testing.T) {
	for _, tc := range []struct {
		hz   int64
		div  uint16
		sck  int64
		name string
	}{
		{30_000_000, 0, 30_000_000, "the fastest"},
		{100_000_000, 0, 30_000_000, "above the fastest"},
		{6_000_000, 4, 6_000_000, "exact"},
		{7_000_000, 4, 6_000_000, "never above the asked"},
		{1_000_000, 29, 1_000_000, "1 MHz"},
		{1, 0xFFFF, 457, "below the slowest"},
		{0, 0xFFFF, 457, "none"},
	} {
		div, sck := FTDIDivisor(tc.hz)
		assert.Equal(t, tc.div, div, tc.name)
		assert.Equal(t, tc.sck, sck, tc.name)
		assert.LessOrEqual(t, sck, max(tc.hz, 457), tc.name)
	}
}

func TestFTDIBoards(t *testing.T) {
	for _, b := range FTDIBoards {
		got, ok := FTDIBoardFor(FTDIManufacturer, b.Product)
		require.True(t, ok, b.Product)
		assert.Equal(t, b, got)
		p, err := FTDIProductFor(b.Board)
		require.NoError(t, err)
		assert.Equal(t, b.Product, p)
	}
	_, ok := FTDIBoardFor("FTDI", "Dual RS232-HS")
	assert.False(t, ok, "a plain FT2232H")
	_, ok = FTDIBoardFor("FTDI", FTDIBoards[0].Product)
	assert.False(t, ok, "another manufacturer")
	_, ok = FTDIBoardFor(FTDIManufacturer, "lrchip something else")
	assert.False(t, ok)
	_, err := FTDIProductFor(BoardKind(99))
	assert.Error(t, err)
}

func TestMPSSEOps(t *testing.T) {
	seen := map[byte]bool{}
	for _, o := range MPSSEOps {
		require.False(t, seen[o.Op], "opcode %#02x twice", o.Op)
		seen[o.Op] = true
		got, ok := MPSSEOpFor(o.Op)
		require.True(t, ok)
		assert.Equal(t, o, got)
		if o.Clock {
			assert.Equal(t, 2, o.Args, "%s: a clock command's arguments are its length", o.Name)
		}
		assert.NotEqual(t, byte(MPSSEBadCommand), o.Op)
	}
	_, ok := MPSSEOpFor(0xAA)
	assert.False(t, ok, "the synchronisation opcode is a bad one")
	w, _ := MPSSEOpFor(MPSSEWriteBytes)
	r, _ := MPSSEOpFor(MPSSEReadBytes)
	x, _ := MPSSEOpFor(MPSSEXferBytes)
	assert.True(t, w.Writes && w.Reads == 0 && !r.Writes && r.Reads == 1 && x.Writes && x.Reads == 1)
}
