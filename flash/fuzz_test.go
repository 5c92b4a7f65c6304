package flash_test

import (
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/flash/flashtest"
)

// FuzzInfo puts arbitrary bytes at the start of slot A (its header, and the firmware
// after it) and reads the slot table: no panic, no allocation beyond the slot, and a slot
// called valid really checks.
func FuzzInfo(f *testing.F) {
	fw := []byte("firmware")
	hdr := make([]byte, regmap.SlotHeaderSize)
	regmap.SlotHeader{Slot: 1, Version: 2, Seq: 1, Size: uint32(len(fw)), CRC32: crc32.ChecksumIEEE(fw)}.Put(hdr)
	valid := append(append(hdr, make([]byte, regmap.SlotDataOffset-len(hdr))...), fw...)
	f.Add(valid)
	f.Add(hdr)
	f.Add([]byte{})
	f.Add([]byte{0x4c, 0x52, 0x46, 0x57, 1, 0, 1, 0})
	big := append([]byte(nil), hdr...)
	big[16], big[17], big[18], big[19] = 0xff, 0xff, 0xff, 0x7f // size 2 GiB
	f.Add(big)
	f.Fuzz(func(t *testing.T, content []byte) {
		m, err := flashtest.NewMem(regmap.NumSlots*slotSize, sector)
		require.NoError(t, err)
		s, err := flash.NewSlots(m, flash.Opts{})
		require.NoError(t, err)
		if len(content) > slotSize {
			content = content[:slotSize]
		}
		require.NoError(t, m.Program(slotSize, content))
		tab := s.Table()
		require.False(t, tab[flash.Golden].Valid() || tab[flash.B].Valid(), "nothing was written there")
		st, ok := tab.Boot()
		if !tab[flash.A].Valid() {
			require.False(t, ok)
			require.Error(t, tab[flash.A].Err)
			return
		}
		require.True(t, ok)
		require.Equal(t, flash.A, st.Slot)
		h := st.Header
		require.Equal(t, uint16(flash.A), h.Slot)
		require.LessOrEqual(t, int(h.Size), s.MaxFirmware())
		b := m.Bytes()[slotSize+regmap.SlotDataOffset:][:h.Size]
		require.Equal(t, h.CRC32, crc32.ChecksumIEEE(b))
	})
}
