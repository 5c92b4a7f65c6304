package ftdi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/driver/fwupdate"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/bundle"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// fwupdate.Recover through the adapter: the MPSSE master over the emulated FT2232H, in front
// of the emulated board's flash and FPGA.

type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(b []byte) (int, error) { return s.r.Read(b) }

func testKey(t testing.TB, seed byte) ([]fwupdate.Key, ed25519.PrivateKey) {
	pub, priv, err := bundle.GenerateKey(seeded{rand.NewChaCha8([32]byte{seed})})
	require.NoError(t, err)
	return []fwupdate.Key{{Key: pub, Path: "test.pub"}}, priv
}

// makeBundle builds a bundle of about n bytes for board kind, signed with priv (nil:
// unsigned).
func makeBundle(t testing.TB, kind regmap.BoardKind, proto regmap.Version, v regmap.FWVersion, n int, priv ed25519.PrivateKey) []byte {
	bs := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(v), 3))
	for i := range bs {
		bs[i] = byte(r.Uint32())
	}
	b := &bundle.Bundle{Header: bundle.Header{Board: kind, Protocol: proto, Version: v, BuildID: "recovery " + v.String(), Created: time.Unix(1700000000, 0)},
		Bitstream: bs, Softcore: []byte("soft core")}
	if priv != nil {
		require.NoError(t, b.Sign(priv))
	}
	data, err := b.MarshalBinary()
	require.NoError(t, err)
	return data
}

// slotsOf reads the flash's slot table behind the chip's back.
func slotsOf(t testing.TB, fl *board.Flash) *flash.Slots {
	s, err := flash.NewSlots(fl, flash.Opts{SlotSize: fl.SlotSize()})
	require.NoError(t, err)
	return s
}

// TestRecoverBlankBoard writes a board whose flash holds nothing (a blank FPGA: CDONE low):
// slot A gets the bundle, the FPGA configures from it.
func TestRecoverBlankBoard(t *testing.T) {
	fl, err := board.NewFlash(0)
	require.NoError(t, err)
	r := newRig(t, fl, usbdev.FTDIOpts{}, nil)
	require.False(t, r.chip.FPGA().Configured, "blank")
	keys, priv := testKey(t, 1)
	v := regmap.MakeFWVersion(2, 1, 0)
	data := makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 40000, priv)
	var stages []string
	res, err := fwupdate.Recover(context.Background(), r.a, data, fwupdate.RecoverOpts{Keys: keys, Progress: func(stage string, done, total int) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
		assert.LessOrEqual(t, done, total)
		assert.Equal(t, len(data), total)
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"write", "verify"}, stages)
	assert.Equal(t, "A", res.Slot)
	assert.Equal(t, "A", res.Boots)
	assert.True(t, res.Configured)
	assert.True(t, res.Signed)
	assert.Equal(t, v, res.Version)
	assert.Equal(t, regmap.BoardEmulator, res.Board)
	assert.Contains(t, res.Flash, regmap.FlashParts[regmap.EmulatedFlash].Name)
	fp := r.chip.FPGA()
	assert.True(t, fp.Configured)
	assert.False(t, fp.Held)
	assert.Equal(t, flash.A, fp.Booted.Slot)
	assert.Equal(t, v, fp.Booted.Header.Version)
	got := make([]byte, len(data))
	require.NoError(t, slotsOf(t, fl).ReadFirmware(flash.A, got))
	assert.Equal(t, data, got, "the slot holds the bundle")
	assert.Zero(t, r.chip.MPSSE().LowDir, "every pin let go")
}

// TestRecoverWritesTheSpare: the slot table's newest valid firmware survives a recovery,
// which goes into the other A/B slot; --slot picks one.
func TestRecoverWritesTheSpare(t *testing.T) {
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	fl := b.Flash()
	b.Close()
	_, err = slotsOf(t, fl).Write(flash.A, regmap.MakeFWVersion(2, 0, 0), []byte("firmware two"))
	require.NoError(t, err)
	r := newRig(t, fl, usbdev.FTDIOpts{}, nil)
	keys, priv := testKey(t, 1)
	for i, want := range []string{"B", "A", "A"} {
		o := fwupdate.RecoverOpts{Keys: keys}
		if i == 2 {
			o.Slot = flash.A
		}
		v := regmap.MakeFWVersion(3, uint8(i), 0)
		res, err := fwupdate.Recover(context.Background(), r.a, makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 5000, priv), o)
		require.NoError(t, err, "recovery %d", i)
		assert.Equal(t, want, res.Slot, "recovery %d", i)
		assert.Equal(t, want, r.chip.FPGA().Booted.Slot.String())
		assert.Equal(t, v, r.chip.FPGA().Booted.Header.Version)
	}
	assert.True(t, slotsOf(t, fl).Table()[flash.Golden].Valid(), "golden untouched")
}

// TestRecoverRefuses: every bad bundle or request is refused before anything on the flash
// changes, and the FPGA runs as before (released, configured).
func TestRecoverRefuses(t *testing.T) {
	keys, priv := testKey(t, 1)
	_, other := testKey(t, 2)
	v := regmap.MakeFWVersion(2, 0, 0)
	good := makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 3000, priv)
	corrupt := bytes.Clone(good)
	corrupt[bundle.HeaderSize+10] ^= 1
	for _, tc := range []struct {
		name   string
		data   []byte
		o      fwupdate.RecoverOpts
		chip   usbdev.FTDIOpts
		id     *Identity
		held   bool // refused after the FPGA was held (the flash's size): still nothing erased
		substr string
	}{
		{name: "unsigned", data: makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 3000, nil), o: fwupdate.RecoverOpts{Keys: keys}, substr: "not signed"},
		{name: "untrusted key", data: makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 3000, other), o: fwupdate.RecoverOpts{Keys: keys}, substr: "untrusted"},
		{name: "corrupt", data: corrupt, o: fwupdate.RecoverOpts{Keys: keys}, substr: "SHA-256"},
		{name: "truncated", data: good[:len(good)-100], o: fwupdate.RecoverOpts{Keys: keys}},
		{name: "another board", data: makeBundle(t, regmap.BoardUSB, regmap.ProtocolVersion, v, 3000, priv), o: fwupdate.RecoverOpts{Keys: keys}, substr: "usb-board"},
		{name: "another protocol", data: makeBundle(t, regmap.BoardEmulator, regmap.MakeVersion(regmap.ProtocolVersion.Major()+1, 0), v, 3000, priv), o: fwupdate.RecoverOpts{Keys: keys}, substr: "protocol"},
		{name: "golden", data: good, o: fwupdate.RecoverOpts{Keys: keys, Slot: flash.Slot(7)}, substr: "only A or B"},
		{name: "not a board's FTDI", data: good, o: fwupdate.RecoverOpts{Keys: keys}, id: &Identity{Manufacturer: "FTDI", Product: "Dual RS232-HS"}, substr: "name the board"},
		{name: "says another board", data: good, o: fwupdate.RecoverOpts{Keys: keys, Board: regmap.BoardUSB}, substr: "not a usb-board"},
		{name: "too big", data: makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 70000, priv), o: fwupdate.RecoverOpts{Keys: keys, SlotSize: 64 << 10}, held: true, substr: "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := board.New(board.Opts{})
			require.NoError(t, err)
			fl := b.Flash()
			b.Close()
			r := newRig(t, fl, tc.chip, nil)
			if tc.id != nil {
				r.a.id = *tc.id
			}
			before, ops, boots := fl.Bytes(), fl.Operations(), r.chip.FPGA().Boots
			_, err = fwupdate.Recover(context.Background(), r.a, tc.data, tc.o)
			require.ErrorIs(t, err, fwupdate.ErrRefused)
			assert.Contains(t, err.Error(), tc.substr)
			assert.Equal(t, ops, fl.Operations(), "nothing erased or programmed")
			assert.True(t, bytes.Equal(before, fl.Bytes()))
			fp := r.chip.FPGA()
			assert.False(t, fp.Held)
			assert.True(t, fp.Configured)
			if tc.held {
				assert.Equal(t, boots+1, fp.Boots, "held and released once")
			} else {
				assert.Equal(t, boots, fp.Boots, "the FPGA was not touched")
			}
		})
	}

	// A board whose FTDI says nothing can be named, and then recovers.
	fl, err := board.NewFlash(0)
	require.NoError(t, err)
	r := newRig(t, fl, usbdev.FTDIOpts{}, nil)
	r.a.id = Identity{Manufacturer: "FTDI", Product: "Dual RS232-HS"}
	res, err := fwupdate.Recover(context.Background(), r.a, good, fwupdate.RecoverOpts{Keys: keys, Board: regmap.BoardEmulator})
	require.NoError(t, err)
	assert.True(t, res.Configured)

	// --allow-unsigned says so loudly.
	var warn bytes.Buffer
	res, err = fwupdate.Recover(context.Background(), r.a, makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 3000, nil),
		fwupdate.RecoverOpts{AllowUnsigned: true, Board: regmap.BoardEmulator, Warn: &warn})
	require.NoError(t, err)
	assert.False(t, res.Signed)
	assert.Contains(t, warn.String(), "UNSIGNED")
}

// TestRecoverFlashFails: a flash whose WIP never clears fails the recovery, which releases
// the FPGA; it still boots what it booted.
func TestRecoverFlashFails(t *testing.T) {
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	fl := b.Flash()
	b.Close()
	r := newRig(t, fl, usbdev.FTDIOpts{}, nil)
	keys, priv := testKey(t, 1)
	data := makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, regmap.MakeFWVersion(2, 0, 0), 3000, priv)
	fl.SetStuck(true)
	_, err = fwupdate.Recover(context.Background(), r.a, data, fwupdate.RecoverOpts{Keys: keys, Flash: spinor.Opts{EraseTimeout: 20 * time.Millisecond}})
	require.Error(t, err)
	assert.ErrorIs(t, err, spinor.ErrWriteEnable)
	fl.SetStuck(false)
	fp := r.chip.FPGA()
	assert.False(t, fp.Held)
	assert.True(t, fp.Configured)
	assert.Equal(t, flash.Golden, fp.Booted.Slot)

	// A context that ends stops it between pieces; the slot stays invalid.
	ctx, cancel := context.WithCancel(context.Background())
	_, err = fwupdate.Recover(ctx, r.a, makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, regmap.MakeFWVersion(2, 0, 0), 40000, priv),
		fwupdate.RecoverOpts{Keys: keys, Progress: func(stage string, done, total int) { cancel() }})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, flash.Golden, r.chip.FPGA().Booted.Slot)
	assert.False(t, slotsOf(t, fl).Table()[flash.A].Valid())
}

// TestPowerCutDuringRecover cuts the board's power after every erase and page program of a
// whole recovery (k = 0, 1, ... until it completes uncut; with -short a dense sample of them),
// cleanly and torn, on a board with
// small slots (64 KiB: 16 sector erases, the bundle's pages, the header) whose FT2232H runs
// from the board's supply, so that it drops off the bus at the cut (the recovery fails at
// once). Power comes back, the chip re-enumerates: the FPGA must configure from a valid slot
// (the previous firmware in A, or the new one in B once its header is in), golden must be
// untouched, and a second recovery must succeed. One more cut with a chip on the cable's
// power shows the other failure: the SPI NOR driver times out on a dead flash.
func TestPowerCutDuringRecover(t *testing.T) {
	ctx := context.Background()
	keys, priv := testKey(t, 1)
	v2, v3 := regmap.MakeFWVersion(2, 0, 0), regmap.MakeFWVersion(3, 0, 0)
	const slot = 64 << 10
	proto, err := board.NewFlash(slot)
	require.NoError(t, err)
	s := slotsOf(t, proto)
	require.NoError(t, flash.WriteGolden(s, regmap.MakeFWVersion(1, 0, 0), []byte("golden firmware")))
	_, err = s.Write(flash.A, v2, makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v2, 9000, priv))
	require.NoError(t, err)
	snapshot := proto.Bytes()[:regmap.NumSlots*slot] // the rest is erased
	// One flash for every cut, its slots put back before each (cheaper than a new part).
	fl := proto
	clone := func() *board.Flash {
		fl.PowerOn()
		require.NoError(t, fl.Erase(0, len(snapshot)))
		require.NoError(t, fl.Program(0, snapshot))
		return fl
	}
	update := makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v3, 12000, priv)
	// The cuts fail the recovery at once (the chip goes); no wait of a healthy part may time
	// out on a loaded machine.
	o := fwupdate.RecoverOpts{Keys: keys, SlotSize: slot, Flash: spinor.Opts{EraseTimeout: time.Minute, ProgramTimeout: time.Minute}}
	serial := 0
	plug := func(f *board.Flash, onBoard bool) *rig {
		serial++
		return newRig(t, f, usbdev.FTDIOpts{PoweredByBoard: onBoard, Serial: fmt.Sprintf("CUT%d", serial)}, nil)
	}

	f := clone()
	r := plug(f, true)
	n0 := f.Operations()
	res, err := fwupdate.Recover(ctx, r.a, update, o)
	require.NoError(t, err)
	require.Equal(t, "B", res.Slot)
	total := f.Operations() - n0
	require.Greater(t, total, 16+len(update)/256, "every sector erase and page program counts")

	cuts := 0
	for _, torn := range []bool{false, true} {
		for k := 0; k < total; k++ {
			// -short (the race detector's pass) takes a dense sample: every fourth operation and
			// the last four (the last pages and the header); the plain pass takes them all.
			if testing.Short() && k%4 != 0 && k < total-4 {
				continue
			}
			name := fmt.Sprintf("cut after %d of %d operations, torn %v", k, total, torn)
			f := clone()
			r := plug(f, true)
			f.CutPowerAfter(k, torn)
			_, err := fwupdate.Recover(ctx, r.a, update, o)
			require.ErrorIs(t, err, ErrGone, name)
			require.True(t, f.PoweredOff(), name)
			cuts++

			f.PowerOn()
			r = plug(f, true)
			fp := r.chip.FPGA()
			require.True(t, fp.Configured, "%s: a valid slot configures", name)
			switch fp.Booted.Slot {
			case flash.A:
				require.Equal(t, v2, fp.Booted.Header.Version, "%s: the previous firmware", name)
			case flash.B:
				require.Equal(t, v3, fp.Booted.Header.Version, "%s: the new firmware, whole", name)
			default:
				t.Fatalf("%s: configured from %v", name, fp.Booted.Slot)
			}
			require.Equal(t, snapshot[:slot], f.Bytes()[:slot], "%s: golden is never written", name)
			res, err := fwupdate.Recover(ctx, r.a, update, o)
			require.NoError(t, err, "%s: the second try", name)
			require.True(t, res.Configured, name)
			require.Equal(t, v3, r.chip.FPGA().Booted.Header.Version, name)
		}
	}
	t.Logf("%d cut points (%d operations, clean and torn)", cuts, total)

	// On the cable's power the chip stays; the dead flash reads all ones and the driver times
	// out on it (the first erase, the header's: the only wait, so a short timeout is safe).
	f = clone()
	r = plug(f, false)
	f.CutPowerAfter(0, false)
	short := o
	short.Flash = spinor.Opts{EraseTimeout: 50 * time.Millisecond}
	_, err = fwupdate.Recover(ctx, r.a, update, short)
	require.ErrorIs(t, err, spinor.ErrTimeout)
	assert.False(t, r.chip.FPGA().Held, "released")
	assert.False(t, r.chip.FPGA().Configured, "no power, no configuration")
	f.PowerOn()
	r = plug(f, false)
	require.True(t, r.chip.FPGA().Configured)
	assert.Equal(t, flash.A, r.chip.FPGA().Booted.Slot)
}
