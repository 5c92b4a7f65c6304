package fwupdate

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/bundle"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// SlotStatus is what one slot holds.
type SlotStatus struct {
	Slot    string           `json:"slot"`
	Valid   bool             `json:"valid"`
	Booted  bool             `json:"booted"`
	Next    bool             `json:"next"` // the slot the next boot picks
	Version regmap.FWVersion `json:"version"`
	Seq     uint32           `json:"seq"`
	Size    int              `json:"size"`
	CRC32   uint32           `json:"crc32"`
	Why     string           `json:"why,omitempty"` // why it is not valid
	// Bundle is the header of the bundle the slot holds, when it holds one.
	Bundle *bundle.Header `json:"bundle,omitempty"`
}

// Status is the board's firmware status.
type Status struct {
	Booted   string           `json:"booted"`
	Firmware regmap.FWVersion `json:"firmware"`
	Reason   string           `json:"reason"` // why it booted that slot
	Next     string           `json:"next"`   // what the next boot picks
	Slots    []SlotStatus     `json:"slots"`
}

// ReadStatus reads the slot table as the board sees it (FLASH_INFO) and, through the SPI NOR
// driver, why a slot is not valid and which bundle a valid one holds.
func ReadStatus(ctx context.Context, d *driver.Device) (Status, error) {
	info := d.Info()
	fi, err := d.FlashInfo(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("fwupdate: status: %w", err)
	}
	var host flash.Table
	s, herr := hostSlots(ctx, d, fi.SlotSize)
	if herr == nil {
		host = s.Table()
	}
	st := Status{Booted: flash.Slot(fi.Booted).String(), Firmware: info.Firmware}
	board := tableOf(fi)
	next, _ := board.Boot()
	st.Next = next.Slot.String()
	for _, si := range fi.Slots {
		ss := SlotStatus{Slot: flash.Slot(si.Slot).String(), Valid: si.Valid, Booted: si.Booted, Next: flash.Slot(si.Slot) == next.Slot,
			Version: si.Version, Seq: si.Seq, Size: si.Size, CRC32: si.CRC32}
		if herr == nil && si.Slot >= 0 && si.Slot < regmap.NumSlots {
			hs := host[si.Slot]
			if hs.Err != nil && !si.Valid {
				ss.Why = hs.Err.Error()
			}
			if hs.Valid() {
				if h := readBundleHeader(s, flash.Slot(si.Slot), int(hs.Header.Size)); h != nil {
					ss.Bundle = h
				}
			}
		} else if !si.Valid {
			ss.Why = "not valid"
		}
		st.Slots = append(st.Slots, ss)
	}
	booted := flash.Slot(fi.Booted)
	switch {
	case booted == flash.Golden && next.Slot == flash.Golden:
		st.Reason = "neither A nor B holds valid firmware: the golden image booted"
	case booted == flash.Golden:
		st.Reason = fmt.Sprintf("no valid A/B slot at boot (slot %v was written since: the next boot picks it)", next.Slot)
	case booted == next.Slot:
		st.Reason = fmt.Sprintf("slot %v is the valid A/B slot with the highest sequence number (%d)", booted, next.Header.Seq)
	default:
		st.Reason = fmt.Sprintf("slot %v was the newest valid slot at boot; the flash changed since: the next boot picks %v", booted, next.Slot)
	}
	return st, nil
}

// readBundleHeader decodes the bundle header at the start of a slot's firmware, if it is one.
func readBundleHeader(s *flash.Slots, slot flash.Slot, size int) *bundle.Header {
	if size < bundle.HeaderSize || size > bundle.MaxSize {
		return nil
	}
	fw := make([]byte, size)
	if err := s.ReadFirmware(slot, fw); err != nil {
		return nil
	}
	b, err := bundle.Decode(fw)
	if err != nil {
		return nil
	}
	return &b.Header
}

// Boot makes slot (A or B, valid) the one the next boot picks, through the SPI NOR driver
// (its header is written again with the next sequence number), and reboots into it.
func Boot(ctx context.Context, d *driver.Device, slot flash.Slot) (driver.Info, error) {
	fi, err := d.FlashInfo(ctx)
	if err != nil {
		return driver.Info{}, fmt.Errorf("fwupdate: boot: %w", err)
	}
	s, err := hostSlots(ctx, d, fi.SlotSize)
	if err != nil {
		return driver.Info{}, err
	}
	if _, err := s.Promote(slot); err != nil {
		return driver.Info{}, fmt.Errorf("fwupdate: boot: %w", err)
	}
	info, err := d.Reboot(ctx)
	if err != nil {
		return info, fmt.Errorf("fwupdate: boot: %w", err)
	}
	if flash.Slot(info.FirmwareSlot) != slot {
		return info, fmt.Errorf("fwupdate: boot: the board booted %v, not %v: %w", flash.Slot(info.FirmwareSlot), slot, ErrVerify)
	}
	return info, nil
}

// Rollback boots the other valid A/B slot (the firmware before the running one); with
// toGolden, when there is none, it invalidates the running slot so that golden boots.
func Rollback(ctx context.Context, d *driver.Device, toGolden bool) (driver.Info, error) {
	fi, err := d.FlashInfo(ctx)
	if err != nil {
		return driver.Info{}, fmt.Errorf("fwupdate: rollback: %w", err)
	}
	running := flash.Slot(fi.Booted)
	t := tableOf(fi)
	for _, other := range []flash.Slot{flash.A, flash.B} {
		if other != running && t[other].Valid() {
			return Boot(ctx, d, other)
		}
	}
	if !toGolden || running == flash.Golden {
		return driver.Info{}, fmt.Errorf("fwupdate: rollback: slot %v runs and no other A/B slot is valid (--to-golden boots the golden image): %w", running, ErrNothing)
	}
	s, err := hostSlots(ctx, d, fi.SlotSize)
	if err != nil {
		return driver.Info{}, err
	}
	if err := s.Invalidate(running); err != nil {
		return driver.Info{}, fmt.Errorf("fwupdate: rollback: %w", err)
	}
	return d.Reboot(ctx)
}
