package flash_test

import (
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/flash/flashtest"
)

// recorder is a Device that logs the operations it passes on.
type recorder struct {
	flash.Device
	ops []string
}

func (r *recorder) Erase(off, n int) error {
	r.ops = append(r.ops, fmt.Sprintf("erase %d %d", off, n))
	return r.Device.Erase(off, n)
}

func (r *recorder) Program(off int, b []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("program %d %d", off, len(b)))
	return r.Device.Program(off, b)
}

func (r *recorder) Read(off int, b []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("read %d %d", off, len(b)))
	return r.Device.Read(off, b)
}

// TestPowerCutAtEveryStep writes a slot the way FLASH_BEGIN/DATA/END does (Begin, WriteAt
// in 1 KiB pieces, Commit) and cuts the power after each of its operations in turn, both
// cleanly and in the middle of the operation (half of a program's bytes, half of an
// erase's sectors applied). After every cut the board reboots: it must boot a valid slot,
// the one it booted before, or (when the slot written was that one) the best of the rest,
// or the new firmware once its header is wholly programmed; golden must be untouched; and
// a second, uncut write must then succeed and boot.
func TestPowerCutAtEveryStep(t *testing.T) {
	newFW := firmware(0x5a, 10*1024+100)
	const newVersion regmap.FWVersion = 0x0900
	for _, sc := range []struct {
		name   string
		setup  []flash.Slot // slots written before, in order (versions 2, 3, ...)
		target flash.Slot
	}{
		{"into B beside A", []flash.Slot{flash.A}, flash.B},
		{"over the booted A, B older", []flash.Slot{flash.B, flash.A}, flash.A},
		{"over the older B, A booted", []flash.Slot{flash.B, flash.A}, flash.B},
		{"into A on a golden-only flash", nil, flash.A},
		{"over the only A", []flash.Slot{flash.A}, flash.A},
	} {
		t.Run(sc.name, func(t *testing.T) {
			// prepare returns a flash in the scenario's state.
			prepare := func(t *testing.T) (*flashtest.Mem, *flash.Slots) {
				m, s := newFlash(t)
				for i, sl := range sc.setup {
					_, err := s.Write(sl, regmap.FWVersion(i+2), firmware(byte(i+1), 2000+500*i))
					require.NoError(t, err)
				}
				return m, s
			}
			// write writes newFW as FLASH_BEGIN/DATA/END would, through dev.
			write := func(dev flash.Device) error {
				s, err := flash.NewSlots(dev, flash.Opts{})
				if err != nil {
					return err
				}
				w, err := s.Begin(sc.target, flash.Firmware{Version: newVersion, Size: len(newFW), CRC32: crc32.ChecksumIEEE(newFW)})
				if err != nil {
					return err
				}
				for off := 0; off < len(newFW); off += 1024 {
					if _, err := w.WriteAt(newFW[off:min(off+1024, len(newFW))], int64(off)); err != nil {
						return err
					}
				}
				_, err = w.Commit()
				return err
			}

			// The uncut write: its operations, and where the header is programmed.
			m, s := prepare(t)
			before, ok := s.Boot()
			require.True(t, ok)
			rec := &recorder{Device: m}
			require.NoError(t, write(rec))
			base := int(sc.target) * slotSize
			require.Equal(t, fmt.Sprintf("erase %d %d", base, regmap.SlotDataOffset), rec.ops[0], "the header's sector is erased first")
			hdrOp := -1
			for i, op := range rec.ops {
				if op == fmt.Sprintf("program %d %d", base, regmap.SlotHeaderSize) {
					hdrOp = i
				}
			}
			require.Positive(t, hdrOp, "the header is programmed: %v", rec.ops)
			for _, op := range rec.ops[hdrOp+1:] {
				require.Regexp(t, "^read ", op, "only reads follow the header: %v", rec.ops)
			}
			after, ok := s.Boot()
			require.True(t, ok)
			require.Equal(t, sc.target, after.Slot)
			require.Equal(t, newVersion, after.Header.Version)

			// What boots when the slot being written is invalid.
			m, s = prepare(t)
			golden := m.Bytes()[:slotSize]
			fallbackTab := s.Table()
			fallbackTab[sc.target].Err = flash.ErrInvalid
			fallback, ok := fallbackTab.Boot()
			require.True(t, ok)

			for _, torn := range []bool{false, true} {
				for k := 0; k <= len(rec.ops); k++ {
					name := fmt.Sprintf("cut after %d ops, torn %v", k, torn)
					m, s := prepare(t)
					m.CutPowerAfter(k, torn)
					err := write(m)
					if k < len(rec.ops) {
						require.ErrorIs(t, err, flashtest.ErrPowerCut, name)
					} else {
						require.NoError(t, err, name)
					}
					m.PowerOn() // reboot
					got, ok := s.Boot()
					require.True(t, ok, "%s: a valid slot boots", name)
					switch {
					case k > hdrOp:
						require.Equal(t, after.Slot, got.Slot, "%s: the header is in: the new firmware boots", name)
						require.Equal(t, after.Header, got.Header, name)
					case got.Slot == before.Slot && got.Header == before.Header:
						// The slot booted before survives (the cut came before its erase, or
						// another slot was written).
					default:
						require.Equal(t, fallback.Slot, got.Slot, "%s: boots the best of the rest", name)
						require.Equal(t, fallback.Header, got.Header, name)
						require.Equal(t, sc.target, before.Slot, "%s: only a write over the booted slot loses it", name)
					}
					if got.Slot != sc.target {
						st := s.Table()[sc.target]
						if k <= hdrOp && st.Valid() {
							require.Equal(t, k, 0, "%s: the slot written is invalid from its first operation on", name)
						}
					}
					require.Equal(t, golden, m.Bytes()[:slotSize], "%s: golden is never written", name)

					// The next update succeeds.
					require.NoError(t, write(m), name)
					got, ok = s.Boot()
					require.True(t, ok)
					require.Equal(t, sc.target, got.Slot, name)
					require.Equal(t, newVersion, got.Header.Version, name)
				}
			}
		})
	}
}
