package flash

import "github.com/lrchip/lrchip/firmware/regmap"

// Promote makes a valid A/B slot the one Boot picks: its header is written again with a
// sequence number one past the highest, the firmware untouched. The header's sector is
// erased first, so a power cut leaves the slot invalid (the other slot, or golden, boots) or
// promoted, never a slot that checks but is wrong.
func (s *Slots) Promote(slot Slot) (regmap.SlotHeader, error) {
	if slot != A && slot != B {
		return regmap.SlotHeader{}, slotErr("promote", slot, ErrRange, "only A or B is promoted (golden boots when neither is valid)")
	}
	t := s.Table()
	if !t[slot].Valid() {
		return regmap.SlotHeader{}, &Error{Op: "promote", Slot: slot, Kind: ErrInvalid, Detail: "the slot holds no valid firmware: " + t[slot].Err.Error()}
	}
	seq, ok := t.nextSeq()
	if !ok {
		return regmap.SlotHeader{}, slotErr("promote", slot, ErrRange, "the sequence numbers are used up")
	}
	h := t[slot].Header
	h.Seq = seq
	if err := s.dev.Erase(s.base(slot), regmap.SlotDataOffset); err != nil {
		return h, devErr("promote", slot, err)
	}
	if err := s.programHeader(slot, h); err != nil {
		return h, devErr("promote", slot, err)
	}
	if _, err := s.Info(slot); err != nil {
		return h, slotErr("promote", slot, ErrVerify, "slot %d does not verify after its new header: %v", int(slot), err)
	}
	return h, nil
}

// Invalidate erases an A/B slot's header sector: the slot no longer boots.
func (s *Slots) Invalidate(slot Slot) error {
	if slot != A && slot != B {
		return slotErr("invalidate", slot, ErrProtected, "only A or B is invalidated")
	}
	if err := s.dev.Erase(s.base(slot), regmap.SlotDataOffset); err != nil {
		return devErr("invalidate", slot, err)
	}
	return nil
}
