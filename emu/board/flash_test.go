package board

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/flash/flashtest"
)

func TestFlashModel(t *testing.T) {
	f, err := NewFlash(8192)
	require.NoError(t, err)
	_, err = NewFlash(5000)
	require.Error(t, err)
	require.Equal(t, flash.Geometry{Size: 4 << 20, SectorSize: 4096}, f.Geometry(), "the smallest part that holds the slots")
	require.NoError(t, f.Program(10, []byte{0x0f}))
	require.NoError(t, f.Program(10, []byte{0xf3})) // NOR: bits only clear
	b := make([]byte, 1)
	require.NoError(t, f.Read(10, b))
	require.Equal(t, byte(0x03), b[0])
	require.Error(t, f.Erase(10, 4096), "unaligned")
	require.NoError(t, f.Erase(0, 4096))
	require.NoError(t, f.Read(10, b))
	require.Equal(t, byte(0xff), b[0])
	require.Error(t, f.Program(4<<20-1, []byte{1, 2}))
	require.Error(t, f.Erase(1<<62, 1<<62), "a range whose end overflows")

	// The model is a NOR flash as package flash expects one.
	flashtest.TestDevice(t, func(t *testing.T) flash.Device {
		f, err := NewFlash(8192)
		require.NoError(t, err)
		return f
	})
}

func TestBootPicksTheSlot(t *testing.T) {
	f, err := NewFlash(0)
	require.NoError(t, err)
	slots, err := flash.NewSlots(f, flash.Opts{SlotSize: f.SlotSize()})
	require.NoError(t, err)

	// A board whose flash has no valid firmware at all boots with STATUS.ERROR.
	b, err := New(Opts{Flash: f})
	require.NoError(t, err)
	defer b.Close()
	require.NotZero(t, b.regs.load(regmap.RegStatus)&regmap.StatusError)
	require.Equal(t, uint32(regmap.ResultVerify), b.regs.load(regmap.RegErrorCode))

	// Boot picks the valid A/B slot with the highest sequence number, else golden.
	require.NoError(t, flash.WriteGolden(slots, 1, []byte("golden")))
	_, err = slots.Write(flash.B, 2, []byte("bee"))
	require.NoError(t, err)
	_, err = slots.Write(flash.A, 3, []byte("ay"))
	require.NoError(t, err)
	f.Corrupt(1*f.SlotSize() + regmap.SlotDataOffset) // A's firmware
	for _, tc := range []struct {
		name    string
		corrupt int
		slot    int
		v       regmap.FWVersion
	}{
		{"A is bad: B", -1, regmap.SlotB, 2},
		{"B is bad too: golden", 2*f.SlotSize() + 3, regmap.SlotGolden, 1},
	} {
		if tc.corrupt >= 0 {
			f.Corrupt(tc.corrupt)
		}
		b, err := New(Opts{Flash: f})
		require.NoError(t, err, tc.name)
		require.Equal(t, uint32(tc.slot), b.regs.load(regmap.RegFWSlot), tc.name)
		require.Equal(t, uint32(tc.v), b.regs.load(regmap.RegFWVersion), tc.name)
		require.Equal(t, tc.slot == regmap.SlotGolden, b.regs.load(regmap.RegStatus)&regmap.StatusGolden != 0, tc.name)
		require.Zero(t, b.regs.load(regmap.RegStatus)&regmap.StatusError, tc.name)
		b.Close()
	}
}
