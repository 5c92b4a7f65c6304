package flash

import (
	"errors"
	"hash/crc32"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Firmware describes the firmware a Writer is to hold: what goes into the slot's header.
type Firmware struct {
	Version regmap.FWVersion
	Size    int    // bytes
	CRC32   uint32 // IEEE CRC-32 of the bytes
}

// Writer writes one slot: Begin has erased it; WriteAt programs the firmware's bytes (in
// any order, each byte once); Commit checks them and makes the slot valid. A slot whose
// Commit did not succeed stays invalid. A Writer is not safe for concurrent use.
type Writer struct {
	s    *Slots
	slot Slot
	fw   Firmware
	done bool
}

// Begin checks that slot is A or B and that firmware of fw.Size bytes fits it, then erases
// the slot: its header's sector first, so that it is invalid before anything else changes.
// The slot is invalid from then until Commit succeeds.
func (s *Slots) Begin(slot Slot, fw Firmware) (*Writer, error) {
	switch {
	case slot == Golden:
		return nil, slotErr("begin", slot, ErrProtected, "the golden slot is write-protected")
	case slot != A && slot != B:
		return nil, slotErr("begin", slot, ErrRange, "no flash slot %d (A is 1, B is 2)", int(slot))
	case fw.Size < 0 || fw.Size > s.MaxFirmware():
		return nil, slotErr("begin", slot, ErrRange, "firmware of %d bytes does not fit a slot (%d)", fw.Size, s.MaxFirmware())
	}
	if err := s.erase(slot); err != nil {
		return nil, devErr("begin", slot, err)
	}
	return &Writer{s: s, slot: slot, fw: fw}, nil
}

// erase erases a slot, header sector first.
func (s *Slots) erase(slot Slot) error {
	base := s.base(slot)
	if err := s.dev.Erase(base, regmap.SlotDataOffset); err != nil {
		return err
	}
	return s.dev.Erase(base+regmap.SlotDataOffset, s.slotSize-regmap.SlotDataOffset)
}

// Slot returns the slot being written.
func (w *Writer) Slot() Slot { return w.slot }

// WriteAt programs p at byte off of the firmware. Bytes outside the firmware's size are
// refused (ErrRange) and nothing is written.
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	if w.done {
		return 0, slotErr("write", w.slot, ErrFinished, "after its commit")
	}
	if off < 0 || off > int64(w.fw.Size) || int64(len(p)) > int64(w.fw.Size)-off {
		return 0, slotErr("write", w.slot, ErrRange, "[%d, %d) outside the %d-byte firmware", off, off+int64(len(p)), w.fw.Size)
	}
	if err := w.s.dev.Program(w.s.base(w.slot)+regmap.SlotDataOffset+int(off), p); err != nil {
		return 0, devErr("write", w.slot, err)
	}
	return len(p), nil
}

// Commit reads the firmware back and checks its CRC against the one Begin was given
// (ErrVerify), programs the header with the next sequence number, and reads the slot
// again to check it (ErrVerify). It returns the header written. A Writer is done after
// Commit, whether it succeeded or not.
func (w *Writer) Commit() (regmap.SlotHeader, error) {
	if w.done {
		return regmap.SlotHeader{}, slotErr("commit", w.slot, ErrFinished, "twice")
	}
	w.done = true
	s, base := w.s, w.s.base(w.slot)
	fw := make([]byte, w.fw.Size) // bounded by Begin
	if err := s.dev.Read(base+regmap.SlotDataOffset, fw); err != nil {
		return regmap.SlotHeader{}, devErr("commit", w.slot, err)
	}
	if got := crc32.ChecksumIEEE(fw); got != w.fw.CRC32 {
		return regmap.SlotHeader{}, slotErr("commit", w.slot, ErrVerify, "slot %d reads back with CRC-32 %#08x, the firmware's is %#08x", int(w.slot), got, w.fw.CRC32)
	}
	seq, ok := s.Table().nextSeq()
	if !ok {
		return regmap.SlotHeader{}, slotErr("commit", w.slot, ErrRange, "the sequence numbers are used up")
	}
	h := regmap.SlotHeader{Slot: uint16(w.slot), Version: w.fw.Version, Seq: seq, Size: uint32(w.fw.Size), CRC32: w.fw.CRC32}
	if err := s.programHeader(w.slot, h); err != nil {
		return h, devErr("commit", w.slot, err)
	}
	if _, err := s.Info(w.slot); err != nil {
		if fe := (*Error)(nil); errors.As(err, &fe) && !errors.Is(err, ErrInvalid) {
			return h, devErr("commit", w.slot, fe.Kind) // the device failed, not the slot
		}
		return h, slotErr("commit", w.slot, ErrVerify, "slot %d does not verify after writing its header: %v", int(w.slot), err)
	}
	return h, nil
}

func (s *Slots) programHeader(slot Slot, h regmap.SlotHeader) error {
	hdr := make([]byte, regmap.SlotHeaderSize)
	h.Put(hdr)
	return s.dev.Program(s.base(slot), hdr)
}

// Write writes fw into slot A or B in one go (Begin, WriteAt, Commit) and returns the
// header written.
func (s *Slots) Write(slot Slot, v regmap.FWVersion, fw []byte) (regmap.SlotHeader, error) {
	w, err := s.Begin(slot, Firmware{Version: v, Size: len(fw), CRC32: crc32.ChecksumIEEE(fw)})
	if err != nil {
		return regmap.SlotHeader{}, err
	}
	if _, err := w.WriteAt(fw, 0); err != nil {
		return regmap.SlotHeader{}, err
	}
	return w.Commit()
}

// WriteGolden writes the golden slot, with sequence number 0, as the factory does (and the
// emulator, which builds its boards): the one way to write golden, which Slots refuses. It
// does not read the firmware back; Info does.
func WriteGolden(s *Slots, v regmap.FWVersion, fw []byte) error {
	if len(fw) > s.MaxFirmware() {
		return slotErr("write", Golden, ErrRange, "firmware of %d bytes does not fit a slot (%d)", len(fw), s.MaxFirmware())
	}
	if err := s.erase(Golden); err != nil {
		return devErr("write", Golden, err)
	}
	if err := s.dev.Program(s.base(Golden)+regmap.SlotDataOffset, fw); err != nil {
		return devErr("write", Golden, err)
	}
	h := regmap.SlotHeader{Slot: uint16(Golden), Version: v, Size: uint32(len(fw)), CRC32: crc32.ChecksumIEEE(fw)}
	if err := s.programHeader(Golden, h); err != nil {
		return devErr("write", Golden, err)
	}
	return nil
}
