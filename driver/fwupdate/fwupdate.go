// Package fwupdate is firmware management on an open board: check a bundle against the
// board and the trusted keys before anything is erased, write it into the inactive A/B
// slot (through the board's FLASH_* commands, or from the host through the SPI NOR driver on
// the board's SPI bus), read it back, reboot into it; report what each slot holds and why
// the board booted what it did; make another slot boot (boot, rollback). `lrctl fw` is a thin
// front end over it. Every slot write, on the board or here, is package flash's, over the
// SPI NOR driver of devices/spinor.
package fwupdate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/bundle"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// DefaultKeyDir holds the trusted public keys (*.pub) when no key is named.
const DefaultKeyDir = "/etc/lrchip/keys"

// Sentinel errors; errors read "fwupdate: ..." and wrap one of them, or the driver's,
// bundle's or flash's error.
var (
	// ErrRefused: the bundle was refused before anything was written (unsigned, untrusted,
	// badly signed, for another board or protocol, too big, or for the running slot).
	ErrRefused = errors.New("fwupdate: refused")
	// ErrVerify: the slot read back differs from the bundle, or the board booted something
	// else than what was written.
	ErrVerify = errors.New("fwupdate: verify failed")
	// ErrNoKeys: no trusted key could be read.
	ErrNoKeys = errors.New("fwupdate: no trusted keys")
	// ErrNothing: nothing to roll back to.
	ErrNothing = errors.New("fwupdate: no other valid slot")
)

// Key is a trusted public key and where it came from.
type Key struct {
	Key     ed25519.PublicKey
	Path    string
	Comment string
}

// LoadKeys reads trusted public keys from files and directories (their *.pub files); no
// path means DefaultKeyDir.
func LoadKeys(paths ...string) ([]Key, error) {
	if len(paths) == 0 {
		paths = []string{DefaultKeyDir}
	}
	var keys []Key
	for _, p := range paths {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(p, "*.pub"))
			sort.Strings(m)
			files = m
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("fwupdate: trusted key: %w: %w", err, ErrNoKeys)
			}
			k, c, err := bundle.ParsePublicKey(b)
			if err != nil {
				return nil, fmt.Errorf("fwupdate: trusted key %s: %w", f, err)
			}
			keys = append(keys, Key{Key: k, Path: f, Comment: c})
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("fwupdate: no *.pub in %s: %w", strings.Join(paths, ", "), ErrNoKeys)
	}
	return keys, nil
}

// Check is what a bundle's check found.
type Check struct {
	Bundle   *bundle.Bundle
	Signed   bool
	SignedBy string // the key's file and comment
	Warning  string // said out loud when the bundle is unsigned and AllowUnsigned let it pass
}

// CheckBundle decodes data and checks it against the trusted keys (unless allowUnsigned and
// it is unsigned: a signed bundle is always verified) and, when info is not nil, the board
// and its protocol. Nothing is written.
func CheckBundle(data []byte, keys []Key, allowUnsigned bool, info *driver.Info) (Check, error) {
	b, err := bundle.Decode(data)
	if err != nil {
		return Check{}, fmt.Errorf("fwupdate: %w: %w", err, ErrRefused)
	}
	c := Check{Bundle: b}
	if b.Signature == nil {
		if !allowUnsigned {
			return c, fmt.Errorf("fwupdate: the bundle is not signed (sign it with lrctl fw sign, or pass --allow-unsigned for a lab build): %w: %w", bundle.ErrUnsigned, ErrRefused)
		}
		c.Warning = "WARNING: flashing an UNSIGNED bundle (--allow-unsigned): nothing vouches for this firmware"
	} else {
		pubs := make([]ed25519.PublicKey, len(keys))
		for i, k := range keys {
			pubs[i] = k.Key
		}
		k, err := b.Verify(pubs)
		if err != nil {
			return c, fmt.Errorf("fwupdate: %w: %w", err, ErrRefused)
		}
		c.Signed = true
		for _, t := range keys {
			if t.Key.Equal(k) {
				c.SignedBy = strings.TrimSpace(t.Path + " " + t.Comment)
			}
		}
	}
	if info != nil {
		if err := b.CheckTarget(info.Board, info.Protocol); err != nil {
			return c, fmt.Errorf("fwupdate: %w: %w", err, ErrRefused)
		}
	}
	return c, nil
}

// Via says who writes the slot.
type Via string

// Ways to write a slot.
const (
	ViaBoard Via = "board" // FLASH_BEGIN/DATA/END: the board's firmware writes it
	ViaSPI   Via = "spi"   // the host, through the SPI NOR driver on the board's SPI bus
)

// Opts configures Flash.
type Opts struct {
	Slot          flash.Slot // A or B; 0 (golden, never written): the inactive one
	Keys          []Key
	AllowUnsigned bool
	Via           Via                                 // default ViaBoard
	NoReboot      bool                                // write and verify, but do not reboot
	Progress      func(stage string, done, total int) // "write", "verify"
	Warn          io.Writer                           // where the loud words go (nil: nowhere)
}

// Result says what Flash did.
type Result struct {
	Slot    string           `json:"slot"`
	Version regmap.FWVersion `json:"version"`
	BuildID string           `json:"build_id"`
	Signed  bool             `json:"signed"`
	Booted  string           `json:"booted"` // after the reboot; "" with NoReboot
	Via     Via              `json:"via"`
}

// Flash checks the bundle (refusing before anything is erased), writes it into the
// inactive slot, reads the slot back and compares it, and reboots into it.
func Flash(ctx context.Context, d *driver.Device, data []byte, o Opts) (Result, error) {
	info := d.Info()
	chk, err := CheckBundle(data, o.Keys, o.AllowUnsigned, &info)
	if err != nil {
		return Result{}, err
	}
	if chk.Warning != "" && o.Warn != nil {
		fmt.Fprintln(o.Warn, chk.Warning)
	}
	fi, err := d.FlashInfo(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("fwupdate: %w", err)
	}
	if max := fi.SlotSize - regmap.SlotDataOffset; len(data) > max {
		return Result{}, fmt.Errorf("fwupdate: a %d-byte bundle does not fit a slot (%d bytes): %w", len(data), max, ErrRefused)
	}
	target := o.Slot
	running := flash.Slot(info.FirmwareSlot)
	switch {
	case target == flash.Golden:
		target = tableOf(fi).Spare(running)
	case target != flash.A && target != flash.B:
		return Result{}, fmt.Errorf("fwupdate: slot %v: only A or B is written: %w", target, ErrRefused)
	case target == running:
		return Result{}, fmt.Errorf("fwupdate: slot %v runs the firmware now: write the other one: %w", target, ErrRefused)
	}
	b := chk.Bundle
	progress := func(stage string) func(int, int) {
		if o.Progress == nil {
			return nil
		}
		return func(done, total int) { o.Progress(stage, done, total) }
	}
	via := o.Via
	if via == "" {
		via = ViaBoard
	}
	switch via {
	case ViaBoard:
		err = d.FlashProgress(ctx, int(target), data, b.Version, progress("write"))
	case ViaSPI:
		err = writeSPI(ctx, d, fi.SlotSize, target, b.Version, data, progress("write"))
	default:
		return Result{}, fmt.Errorf("fwupdate: no way %q to write (board or spi): %w", via, ErrRefused)
	}
	if err != nil {
		return Result{}, fmt.Errorf("fwupdate: writing slot %v: %w", target, err)
	}
	if err := verify(ctx, d, fi.SlotSize, target, b.Version, data, progress("verify")); err != nil {
		return Result{}, err
	}
	res := Result{Slot: target.String(), Version: b.Version, BuildID: b.BuildID, Signed: chk.Signed, Via: via}
	if o.NoReboot {
		return res, nil
	}
	ni, err := d.Reboot(ctx)
	if err != nil {
		return res, fmt.Errorf("fwupdate: reboot: %w", err)
	}
	res.Booted = flash.Slot(ni.FirmwareSlot).String()
	if flash.Slot(ni.FirmwareSlot) != target || ni.Firmware != b.Version {
		return res, fmt.Errorf("fwupdate: the board booted slot %s, firmware %s, not slot %v with %s: %w", res.Booted, ni.Firmware, target, b.Version, ErrVerify)
	}
	return res, nil
}

func tableOf(fi driver.FlashInfo) flash.Table {
	var t flash.Table
	for i := range t {
		t[i] = flash.State{Slot: flash.Slot(i), Err: flash.ErrInvalid}
	}
	for _, s := range fi.Slots {
		if s.Slot < 0 || s.Slot >= regmap.NumSlots {
			continue
		}
		st := flash.State{Slot: flash.Slot(s.Slot), Header: regmap.SlotHeader{Slot: uint16(s.Slot), Version: s.Version, Seq: s.Seq, Size: uint32(s.Size), CRC32: s.CRC32}}
		if !s.Valid {
			st.Err = flash.ErrInvalid
		}
		t[s.Slot] = st
	}
	return t
}

// hostSlots returns the slots as the host sees them through the SPI NOR driver on the
// board's SPI bus.
func hostSlots(ctx context.Context, d *driver.Device, slotSize int) (*flash.Slots, error) {
	nor, err := spinor.New(d.SPI(ctx, regmap.SPIBusFlash), nil)
	if err != nil {
		return nil, fmt.Errorf("fwupdate: flash on the board's SPI bus: %w", err)
	}
	return flash.NewSlots(nor, flash.Opts{SlotSize: slotSize})
}

// writeSPI writes the slot from the host: package flash's Writer over the SPI NOR driver.
func writeSPI(ctx context.Context, d *driver.Device, slotSize int, slot flash.Slot, v regmap.FWVersion, data []byte, progress func(int, int)) error {
	s, err := hostSlots(ctx, d, slotSize)
	if err != nil {
		return err
	}
	return writeSlot(ctx, s, slot, v, data, progress)
}

// writeSlot writes data into slot through package flash's Writer, in pieces (progress after
// each), the header last.
func writeSlot(ctx context.Context, s *flash.Slots, slot flash.Slot, v regmap.FWVersion, data []byte, progress func(int, int)) error {
	w, err := s.Begin(slot, flash.Firmware{Version: v, Size: len(data), CRC32: crc32.ChecksumIEEE(data)})
	if err != nil {
		return err
	}
	const piece = 16 << 10
	for off := 0; off < len(data); off += piece {
		end := min(off+piece, len(data))
		if _, err := w.WriteAt(data[off:end], int64(off)); err != nil {
			return err
		}
		if progress != nil {
			progress(end, len(data))
		}
		if err := ctx.Err(); err != nil {
			return err // the slot stays invalid: it never boots half written
		}
	}
	_, err = w.Commit()
	return err
}

// verify reads the slot back through the SPI NOR driver and compares it with data, and
// checks what the board says of the slot.
func verify(ctx context.Context, d *driver.Device, slotSize int, slot flash.Slot, v regmap.FWVersion, data []byte, progress func(int, int)) error {
	fi, err := d.FlashInfo(ctx)
	if err != nil {
		return fmt.Errorf("fwupdate: verify: %w", err)
	}
	si := fi.Slots[slot]
	if !si.Valid || si.Version != v || si.Size != len(data) || si.CRC32 != crc32.ChecksumIEEE(data) {
		return fmt.Errorf("fwupdate: verify: the board says slot %v is valid %v, version %s, %d bytes, CRC %#08x: %w", slot, si.Valid, si.Version, si.Size, si.CRC32, ErrVerify)
	}
	nor, err := spinor.New(d.SPI(ctx, regmap.SPIBusFlash), nil)
	if err != nil {
		return fmt.Errorf("fwupdate: verify: %w", err)
	}
	return readBack(nor, slotSize, slot, data, progress)
}

// readBack reads the slot's firmware back through the SPI NOR driver and compares it with
// data.
func readBack(nor *spinor.Dev, slotSize int, slot flash.Slot, data []byte, progress func(int, int)) error {
	got := make([]byte, len(data))
	base := int(slot)*slotSize + regmap.SlotDataOffset
	const piece = 64 << 10
	for off := 0; off < len(got); off += piece {
		end := min(off+piece, len(got))
		if err := nor.Read(base+off, got[off:end]); err != nil {
			return fmt.Errorf("fwupdate: verify: %w", err)
		}
		if progress != nil {
			progress(end, len(got))
		}
	}
	if i := firstDiff(got, data); i >= 0 {
		return fmt.Errorf("fwupdate: verify: slot %v differs from the bundle at byte %d: %w", slot, i, ErrVerify)
	}
	return nil
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
