package flash_test

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/flash/flashtest"
)

const (
	sector   = 4096
	slotSize = 4 * sector // header sector + 12 KiB of firmware
)

// newFlash returns an in-memory flash of three slots with golden firmware of version 1.
func newFlash(t *testing.T) (*flashtest.Mem, *flash.Slots) {
	t.Helper()
	m, err := flashtest.NewMem(regmap.NumSlots*slotSize, sector)
	require.NoError(t, err)
	s, err := flash.NewSlots(m, flash.Opts{})
	require.NoError(t, err)
	require.Equal(t, slotSize, s.SlotSize())
	require.NoError(t, flash.WriteGolden(s, 1, firmware(0, 5000)))
	return m, s
}

// firmware returns n bytes that differ with seed.
func firmware(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func TestNewSlots(t *testing.T) {
	for _, tc := range []struct {
		name         string
		size, sector int
		slotSize     int
		want         int
		err          string
	}{
		{"default", 3 * slotSize, sector, 0, slotSize, ""},
		{"default rounds down", 3*slotSize + 5*sector, sector, 0, slotSize + sector, ""},
		{"explicit", 8 * slotSize, sector, slotSize, slotSize, ""},
		{"small sectors", 3 * slotSize, 1024, 0, slotSize, ""},
		{"too small", 3 * sector, sector, 0, 0, "slot size 4096"},
		{"not whole sectors", 3 * slotSize, sector, slotSize + 1, 0, "not a multiple"},
		{"does not fit", 3 * slotSize, sector, slotSize + sector, 0, "a third of"},
		{"sector over the header", 3 * 65536 * 2, 65536, 0, 0, "sector size 65536"},
		{"sector not a power of two", 3 * 6000 * 4, 6000, 0, 0, "sector size 6000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := flash.NewSlots(geometry{tc.size, tc.sector}, flash.Opts{SlotSize: tc.slotSize})
			if tc.err != "" {
				require.ErrorIs(t, err, flash.ErrRange)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.SlotSize())
			assert.Equal(t, tc.want-regmap.SlotDataOffset, s.MaxFirmware())
			assert.Contains(t, s.String(), fmt.Sprint(tc.want))
		})
	}
}

// geometry is a Device that only has a shape, for NewSlots.
type geometry struct{ size, sector int }

func (g geometry) Erase(off, n int) error          { panic("not used") }
func (g geometry) Program(off int, b []byte) error { panic("not used") }
func (g geometry) Read(off int, b []byte) error    { panic("not used") }
func (g geometry) Geometry() flash.Geometry {
	return flash.Geometry{Size: g.size, SectorSize: g.sector}
}

// TestWriteAndBoot: boot picks the valid A/B slot with the highest sequence number, else
// golden; every write numbers its slot one past the highest valid one.
func TestWriteAndBoot(t *testing.T) {
	type write struct {
		slot flash.Slot
		v    regmap.FWVersion
	}
	for _, tc := range []struct {
		name    string
		writes  []write
		corrupt []int // offsets flipped after the writes
		boot    flash.Slot
		version regmap.FWVersion
		seqs    [3]uint32 // of the valid slots; 0 for invalid ones and golden
		valid   [3]bool
	}{
		{"golden only", nil, nil, flash.Golden, 1, [3]uint32{}, [3]bool{true, false, false}},
		{"A", []write{{flash.A, 2}}, nil, flash.A, 2, [3]uint32{0, 1, 0}, [3]bool{true, true, false}},
		{"A then B", []write{{flash.A, 2}, {flash.B, 3}}, nil, flash.B, 3, [3]uint32{0, 1, 2}, [3]bool{true, true, true}},
		{"A, B, A again", []write{{flash.A, 2}, {flash.B, 3}, {flash.A, 4}}, nil, flash.A, 4, [3]uint32{0, 3, 2}, [3]bool{true, true, true}},
		{"B only", []write{{flash.B, 5}}, nil, flash.B, 5, [3]uint32{0, 0, 1}, [3]bool{true, false, true}},
		{"bad cell in B's firmware", []write{{flash.A, 2}, {flash.B, 3}}, []int{2*slotSize + regmap.SlotDataOffset + 100}, flash.A, 2, [3]uint32{0, 1, 0}, [3]bool{true, true, false}},
		{"bad cell in B's header", []write{{flash.A, 2}, {flash.B, 3}}, []int{2*slotSize + 13}, flash.A, 2, [3]uint32{0, 1, 0}, [3]bool{true, true, false}},
		{"bad cells in A and B", []write{{flash.A, 2}, {flash.B, 3}}, []int{slotSize + 7, 2*slotSize + regmap.SlotDataOffset}, flash.Golden, 1, [3]uint32{}, [3]bool{true, false, false}},
		{"bad golden, nothing else", nil, []int{regmap.SlotDataOffset}, flash.Golden, 1, [3]uint32{}, [3]bool{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s := newFlash(t)
			for i, w := range tc.writes {
				h, err := s.Write(w.slot, w.v, firmware(byte(i+1), 3000+1000*i))
				require.NoError(t, err)
				require.Equal(t, uint16(w.slot), h.Slot)
				require.Equal(t, w.v, h.Version)
			}
			for _, off := range tc.corrupt {
				m.Corrupt(off)
			}
			tab := s.Table()
			for i, st := range tab {
				require.Equal(t, flash.Slot(i), st.Slot)
				require.Equal(t, tc.valid[i], st.Valid(), "slot %v: %v", st.Slot, st.Err)
				if st.Valid() {
					require.Equal(t, tc.seqs[i], st.Header.Seq, "slot %v", st.Slot)
				} else {
					require.ErrorIs(t, st.Err, flash.ErrInvalid)
				}
			}
			st, ok := s.Boot()
			require.Equal(t, tc.valid[0] || tc.valid[1] || tc.valid[2], ok)
			require.Equal(t, tc.boot, st.Slot)
			require.Equal(t, tc.version, st.Header.Version)
		})
	}
}

func TestBeginRefuses(t *testing.T) {
	_, s := newFlash(t)
	golden := s.Table()[flash.Golden]
	for _, tc := range []struct {
		name string
		slot flash.Slot
		size int
		kind error
		msg  string
	}{
		{"golden", flash.Golden, 10, flash.ErrProtected, "the golden slot is write-protected"},
		{"slot 3", 3, 10, flash.ErrRange, "no flash slot 3 (A is 1, B is 2)"},
		{"slot -1", -1, 10, flash.ErrRange, "no flash slot -1 (A is 1, B is 2)"},
		{"too big", flash.A, slotSize - regmap.SlotDataOffset + 1, flash.ErrRange, "firmware of 12289 bytes does not fit a slot (12288)"},
		{"negative size", flash.B, -1, flash.ErrRange, "firmware of -1 bytes does not fit a slot (12288)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Begin(tc.slot, flash.Firmware{Version: 9, Size: tc.size})
			require.ErrorIs(t, err, tc.kind)
			var fe *flash.Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.msg, fe.Detail)
			require.Equal(t, "begin", fe.Op)
		})
	}
	_, err := s.Write(flash.Golden, 9, []byte("x"))
	require.ErrorIs(t, err, flash.ErrProtected)
	require.Equal(t, golden, s.Table()[flash.Golden], "golden is untouched")
}

func TestWriter(t *testing.T) {
	fw := firmware(3, 9000)
	info := flash.Firmware{Version: 7, Size: len(fw), CRC32: crc32.ChecksumIEEE(fw)}

	t.Run("pieces in any order", func(t *testing.T) {
		_, s := newFlash(t)
		w, err := s.Begin(flash.B, info)
		require.NoError(t, err)
		require.Equal(t, flash.B, w.Slot())
		_, err = s.Info(flash.B)
		require.ErrorIs(t, err, flash.ErrInvalid, "invalid from Begin on")
		for _, off := range []int{8000, 0, 4000, 2000, 6000} {
			n, err := w.WriteAt(fw[off:min(off+2000, len(fw))], int64(off))
			require.NoError(t, err)
			require.Equal(t, min(2000, len(fw)-off), n)
		}
		h, err := w.Commit()
		require.NoError(t, err)
		require.Equal(t, regmap.SlotHeader{Slot: uint16(flash.B), Version: 7, Seq: 1, Size: 9000, CRC32: info.CRC32}, h)
		got, err := s.Info(flash.B)
		require.NoError(t, err)
		require.Equal(t, h, got)
		_, err = w.WriteAt([]byte{0}, 0)
		require.ErrorIs(t, err, flash.ErrFinished)
		_, err = w.Commit()
		require.ErrorIs(t, err, flash.ErrFinished)
	})
	t.Run("outside the firmware", func(t *testing.T) {
		_, s := newFlash(t)
		w, err := s.Begin(flash.A, info)
		require.NoError(t, err)
		for _, tc := range []struct {
			off int64
			n   int
			msg string
		}{
			{9000, 1, "[9000, 9001) outside the 9000-byte firmware"},
			{8999, 2, "[8999, 9001) outside"},
			{-1, 1, "[-1, 0) outside"},
			{1 << 62, 1, "outside"},
		} {
			_, err := w.WriteAt(make([]byte, tc.n), tc.off)
			require.ErrorIs(t, err, flash.ErrRange)
			require.ErrorContains(t, err, tc.msg)
		}
		n, err := w.WriteAt(nil, 9000)
		require.NoError(t, err, "nothing at the end is fine")
		require.Zero(t, n)
	})
	t.Run("missing bytes fail the read-back", func(t *testing.T) {
		_, s := newFlash(t)
		w, err := s.Begin(flash.A, info)
		require.NoError(t, err)
		_, err = w.WriteAt(fw[:8999], 0)
		require.NoError(t, err)
		_, err = w.Commit()
		require.ErrorIs(t, err, flash.ErrVerify)
		require.ErrorContains(t, err, "slot 1 reads back with CRC-32")
		st, ok := s.Boot()
		require.True(t, ok)
		require.Equal(t, flash.Golden, st.Slot, "a failed write leaves the slot invalid")
	})
	t.Run("writing twice without an erase corrupts; the read-back catches it", func(t *testing.T) {
		_, s := newFlash(t)
		small := []byte{1, 2, 3, 4}
		w, err := s.Begin(flash.B, flash.Firmware{Version: 2, Size: 4, CRC32: crc32.ChecksumIEEE(small)})
		require.NoError(t, err)
		_, err = w.WriteAt([]byte{0xf0, 0xf0, 0xf0, 0xf0}, 0)
		require.NoError(t, err)
		_, err = w.WriteAt(small, 0)
		require.NoError(t, err)
		_, err = w.Commit()
		require.ErrorIs(t, err, flash.ErrVerify)
	})
	t.Run("a device that fails", func(t *testing.T) {
		m, s := newFlash(t)
		m.CutPowerAfter(0, false)
		_, err := s.Begin(flash.A, info)
		require.ErrorIs(t, err, flashtest.ErrPowerCut)
		var fe *flash.Error
		require.ErrorAs(t, err, &fe)
		require.Equal(t, flash.A, fe.Slot)
		_, err = s.Info(flash.Golden)
		require.ErrorIs(t, err, flashtest.ErrPowerCut)
		st, ok := s.Boot()
		require.False(t, ok, "nothing boots from a dead flash")
		require.ErrorIs(t, st.Err, flashtest.ErrPowerCut)
	})
}

func TestInfo(t *testing.T) {
	m, s := newFlash(t)
	_, err := s.Write(flash.A, 2, firmware(1, 100))
	require.NoError(t, err)
	_, err = s.Info(3)
	require.ErrorIs(t, err, flash.ErrRange)

	// A header copied into the wrong slot does not check, nor does one with a size that
	// does not fit, and the header decoded is returned with the error.
	hdr := make([]byte, regmap.SlotHeaderSize)
	require.NoError(t, m.Read(slotSize, hdr))
	require.NoError(t, m.Program(2*slotSize, hdr))
	h, err := s.Info(flash.B)
	require.ErrorIs(t, err, flash.ErrInvalid)
	require.ErrorIs(t, err, regmap.ErrMalformed)
	require.ErrorContains(t, err, "slot 2 holds the header of slot 1")
	require.Equal(t, regmap.FWVersion(2), h.Version)

	// Erased: the magic does not check.
	require.NoError(t, m.Erase(2*slotSize, slotSize))
	_, err = s.Info(flash.B)
	require.ErrorIs(t, err, flash.ErrInvalid)
	require.ErrorContains(t, err, "magic")
}

func TestSpare(t *testing.T) {
	for _, tc := range []struct {
		name    string
		writes  []flash.Slot
		running flash.Slot
		want    flash.Slot
	}{
		{"running A", []flash.Slot{flash.A}, flash.A, flash.B},
		{"running B", []flash.Slot{flash.A, flash.B}, flash.B, flash.A},
		{"running golden, nothing else", nil, flash.Golden, flash.A},
		{"running golden, A newest", []flash.Slot{flash.B, flash.A}, flash.Golden, flash.B},
		{"running golden, B newest", []flash.Slot{flash.A, flash.B}, flash.Golden, flash.A},
		{"running golden, B only", []flash.Slot{flash.B}, flash.Golden, flash.A},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, s := newFlash(t)
			for i, sl := range tc.writes {
				_, err := s.Write(sl, regmap.FWVersion(i+2), firmware(byte(i), 100))
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, s.Table().Spare(tc.running))
		})
	}
}

func TestSlotString(t *testing.T) {
	assert.Equal(t, "golden", flash.Golden.String())
	assert.Equal(t, "A", flash.A.String())
	assert.Equal(t, "B", flash.B.String())
	assert.Equal(t, "7", flash.Slot(7).String())
	err := &flash.Error{Op: "begin", Slot: flash.A, Kind: flash.ErrVerify, Detail: "d"}
	assert.Equal(t, "flash: begin slot A: d", err.Error())
}

func TestWriteGolden(t *testing.T) {
	m, s := newFlash(t)
	before := m.Bytes()
	err := flash.WriteGolden(s, 2, make([]byte, s.MaxFirmware()+1))
	require.ErrorIs(t, err, flash.ErrRange)
	require.Equal(t, before, m.Bytes(), "a refused golden write changes nothing")
	fw := bytes.Repeat([]byte("g"), s.MaxFirmware())
	require.NoError(t, flash.WriteGolden(s, 3, fw))
	h, err := s.Info(flash.Golden)
	require.NoError(t, err)
	require.Equal(t, regmap.SlotHeader{Slot: 0, Version: 3, Seq: 0, Size: uint32(len(fw)), CRC32: crc32.ChecksumIEEE(fw)}, h)
}
