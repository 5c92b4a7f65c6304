package fwupdate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/register"
	"github.com/lrchip/lrchip/firmware/bundle"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(b []byte) (int, error) { return s.r.Read(b) }

func testKey(t testing.TB) ([]Key, ed25519.PrivateKey) {
	pub, priv, err := bundle.GenerateKey(seeded{rand.NewChaCha8([32]byte{7})})
	require.NoError(t, err)
	return []Key{{Key: pub, Path: "test.pub"}}, priv
}

// makeBundle builds a bundle of about n bytes for the emulator, signed with priv (nil:
// unsigned).
func makeBundle(t testing.TB, v regmap.FWVersion, n int, priv ed25519.PrivateKey) []byte {
	bs := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(v), 1))
	for i := range bs {
		bs[i] = byte(r.Uint32())
	}
	b := &bundle.Bundle{Header: bundle.Header{Board: regmap.BoardEmulator, Protocol: regmap.ProtocolVersion, Version: v, BuildID: "test " + v.String(), Created: time.Unix(1700000000, 0)},
		Bitstream: bs, Softcore: []byte("soft core")}
	if priv != nil {
		require.NoError(t, b.Sign(priv))
	}
	data, err := b.MarshalBinary()
	require.NoError(t, err)
	return data
}

func open(t testing.TB, b *board.Board) *driver.Device {
	ctx := context.Background()
	l, err := register.Attach(ctx, b, driver.Opts{Timeout: 10 * time.Second}, nil)
	require.NoError(t, err)
	d, err := driver.OpenLink(ctx, "emu:", l, driver.Opts{Timeout: 10 * time.Second})
	require.NoError(t, err)
	return d
}

func TestFlashStatusBootRollback(t *testing.T) {
	ctx := context.Background()
	keys, priv := testKey(t)
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	defer b.Close()
	d := open(t, b)
	defer d.Close()

	// Refusals come before anything is written.
	before := b.Flash().Operations()
	for name, tc := range map[string]struct {
		data  []byte
		allow bool
		opts  Opts
	}{
		"unsigned":    {makeBundle(t, 0x02000000, 3000, nil), false, Opts{}},
		"untrusted":   {makeBundle(t, 0x02000000, 3000, ed25519.NewKeyFromSeed(make([]byte, 32))), false, Opts{}},
		"corrupt":     {append(makeBundle(t, 0x02000000, 3000, priv)[:500], 1), false, Opts{}},
		"golden":      {makeBundle(t, 0x02000000, 3000, priv), false, Opts{Slot: 5}},
		"unknown way": {makeBundle(t, 0x02000000, 3000, priv), false, Opts{Via: "carrier pigeon"}},
		"too big":     {makeBundle(t, 0x02000000, 2<<20, priv), false, Opts{}},
	} {
		tc.opts.Keys, tc.opts.AllowUnsigned = keys, tc.allow
		_, err := Flash(ctx, d, tc.data, tc.opts)
		require.ErrorIs(t, err, ErrRefused, name)
	}
	other := &bundle.Bundle{Header: bundle.Header{Board: regmap.BoardUSB, Protocol: regmap.ProtocolVersion, Version: 3}, Bitstream: []byte("x")}
	require.NoError(t, other.Sign(priv))
	raw, _ := other.MarshalBinary()
	_, err = Flash(ctx, d, raw, Opts{Keys: keys})
	require.ErrorIs(t, err, bundle.ErrTarget)
	require.Equal(t, before, b.Flash().Operations(), "nothing was erased or programmed")

	// A signed bundle goes into the inactive slot (A: golden runs), is read back and boots.
	v2 := regmap.MakeFWVersion(2, 0, 0)
	var stages []string
	res, err := Flash(ctx, d, makeBundle(t, v2, 100_000, priv), Opts{Keys: keys, Progress: func(s string, done, total int) {
		if len(stages) == 0 || stages[len(stages)-1] != s {
			stages = append(stages, s)
		}
		require.LessOrEqual(t, done, total)
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"write", "verify"}, stages)
	require.Equal(t, Result{Slot: "A", Version: v2, BuildID: "test 2.0.0", Signed: true, Booted: "A", Via: ViaBoard}, res)

	// The next one goes into B, from the host through the SPI NOR driver; unsigned, allowed, loudly.
	v3 := regmap.MakeFWVersion(3, 0, 0)
	var warn bytes.Buffer
	res, err = Flash(ctx, d, makeBundle(t, v3, 50_000, nil), Opts{Keys: keys, AllowUnsigned: true, Via: ViaSPI, Warn: &warn})
	require.NoError(t, err)
	require.Contains(t, warn.String(), "UNSIGNED")
	require.Equal(t, "B", res.Booted)
	_, err = Flash(ctx, d, makeBundle(t, v3, 50_000, priv), Opts{Keys: keys, Slot: flash.B})
	require.ErrorIs(t, err, ErrRefused, "B runs")

	st, err := ReadStatus(ctx, d)
	require.NoError(t, err)
	require.Equal(t, "B", st.Booted)
	require.Equal(t, "B", st.Next)
	require.Contains(t, st.Reason, "highest sequence number (2)")
	require.Equal(t, v3, st.Slots[flash.B].Version)
	require.NotNil(t, st.Slots[flash.B].Bundle)
	require.Equal(t, "test 3.0.0", st.Slots[flash.B].Bundle.BuildID)
	require.Equal(t, v2, st.Slots[flash.A].Version)

	// Rollback boots A again; boot B brings B back.
	info, err := Rollback(ctx, d, false)
	require.NoError(t, err)
	require.Equal(t, regmap.SlotA, info.FirmwareSlot)
	info, err = Boot(ctx, d, flash.B)
	require.NoError(t, err)
	require.Equal(t, v3, info.Firmware)

	// A bad cell in A: status says why; rollback has nowhere to go but golden.
	b.Flash().Corrupt(b.Flash().SlotSize() + regmap.SlotDataOffset + 10)
	st, err = ReadStatus(ctx, d)
	require.NoError(t, err)
	require.False(t, st.Slots[flash.A].Valid)
	require.Contains(t, st.Slots[flash.A].Why, "CRC")
	_, err = Rollback(ctx, d, false)
	require.ErrorIs(t, err, ErrNothing)
	info, err = Rollback(ctx, d, true)
	require.NoError(t, err)
	require.Equal(t, regmap.SlotGolden, info.FirmwareSlot)
	st, err = ReadStatus(ctx, d)
	require.NoError(t, err)
	require.Contains(t, st.Reason, "golden image booted")
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	keys, _ := testKey(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.pub"), []byte(bundle.FormatPublicKey(keys[0].Key, "lab")), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a key"), 0o644))
	got, err := LoadKeys(dir)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "lab", got[0].Comment)
	_, err = LoadKeys(t.TempDir())
	require.ErrorIs(t, err, ErrNoKeys)
	_, err = LoadKeys(filepath.Join(dir, "notes.txt"))
	require.ErrorIs(t, err, bundle.ErrKey)
	_, err = LoadKeys(filepath.Join(dir, "missing.pub"))
	require.ErrorIs(t, err, ErrNoKeys)
}

// TestPowerCutDuringFlash cuts the flash's power after every erase and page program of a
// whole `fw flash` (k = 0, 1, ... until the flash completes uncut), cleanly and torn (half
// of the operation applied), on a board with small slots so that every step is affordable
// (64 KiB slots: 16 sector erases, then the bundle's pages, then the header). After each
// cut the board reboots on the same flash: it must boot a valid slot, the previous firmware
// or the new one once its header is in; the status must say what the board booted and
// agree with a reading of the flash behind the board's back; golden must be untouched; and
// a second flash must then succeed.
func TestPowerCutDuringFlash(t *testing.T) {
	ctx := context.Background()
	keys, priv := testKey(t)
	v2, v3 := regmap.MakeFWVersion(2, 0, 0), regmap.MakeFWVersion(3, 0, 0)
	first, second := makeBundle(t, v2, 9000, priv), makeBundle(t, v3, 12000, priv)

	// The flash before the update: golden, and A holding v2 (which runs).
	const slot = 64 << 10
	proto, err := board.NewFlash(slot)
	require.NoError(t, err)
	b, err := board.New(board.Opts{Flash: proto})
	require.NoError(t, err)
	d := open(t, b)
	_, err = Flash(ctx, d, first, Opts{Keys: keys})
	require.NoError(t, err)
	d.Close()
	b.Close()
	snapshot := proto.Bytes()
	golden := snapshot[:slot]

	clone := func() *board.Flash {
		f, err := board.NewFlash(slot)
		require.NoError(t, err)
		require.NoError(t, f.Program(0, snapshot))
		return f
	}

	// The uncut update: how many operations it takes.
	f := clone()
	b, err = board.New(board.Opts{Flash: f})
	require.NoError(t, err)
	d = open(t, b)
	n0 := f.Operations()
	_, err = Flash(ctx, d, second, Opts{Keys: keys})
	require.NoError(t, err)
	total := f.Operations() - n0
	d.Close()
	b.Close()
	require.Greater(t, total, 16+len(second)/256, "every sector erase and page program counts")

	cuts := 0
	for _, torn := range []bool{false, true} {
		for k := 0; k < total; k++ {
			name := fmt.Sprintf("cut after %d of %d operations, torn %v", k, total, torn)
			f := clone()
			b, err := board.New(board.Opts{Flash: f})
			require.NoError(t, err, name)
			d := open(t, b)
			f.CutPowerAfter(k, torn)
			_, err = Flash(ctx, d, second, Opts{Keys: keys})
			require.Error(t, err, name)
			require.True(t, f.PoweredOff(), name)
			d.Close()
			b.Close()
			cuts++

			// Power comes back; the board boots from what is on the flash.
			f.PowerOn()
			b, err = board.New(board.Opts{Flash: f})
			require.NoError(t, err, name)
			d = open(t, b)
			info := d.Info()
			st, err := ReadStatus(ctx, d)
			require.NoError(t, err, name)
			require.Equal(t, flash.Slot(info.FirmwareSlot).String(), st.Booted, name)
			require.Equal(t, info.Firmware, st.Firmware, name)
			// Behind the board's back: the table the flash holds.
			back, err := flash.NewSlots(f, flash.Opts{SlotSize: slot})
			require.NoError(t, err)
			want, ok := back.Boot()
			require.True(t, ok, "%s: a valid slot boots", name)
			require.Equal(t, want.Slot.String(), st.Booted, name)
			switch want.Slot {
			case flash.A:
				require.Equal(t, v2, info.Firmware, "%s: the previous firmware", name)
			case flash.B:
				require.Equal(t, v3, info.Firmware, "%s: the new firmware, whole", name)
			default:
				t.Fatalf("%s: booted %v", name, want.Slot)
			}
			for _, s := range st.Slots {
				require.Equal(t, back.Table()[flash.Slot(map[string]int{"golden": 0, "A": 1, "B": 2}[s.Slot])].Valid(), s.Valid, "%s: slot %s", name, s.Slot)
			}
			require.Equal(t, golden, f.Bytes()[:slot], "%s: golden is never written", name)

			// The second try succeeds (into B, or A if B booted).
			res, err := Flash(ctx, d, second, Opts{Keys: keys})
			if want.Slot == flash.B {
				require.NoError(t, err, name)
				require.Equal(t, "A", res.Booted, name)
			} else {
				require.NoError(t, err, name)
				require.Equal(t, "B", res.Booted, name)
			}
			d.Close()
			b.Close()
		}
	}
	t.Logf("%d cut points (%d operations, clean and torn)", cuts, total)
}
