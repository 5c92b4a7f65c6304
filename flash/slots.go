package flash

import (
	"fmt"
	"hash/crc32"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Slot is a firmware slot: Golden, A or B.
type Slot int

// The slots, numbered as in regmap (FW_SLOT, FLASH_BEGIN).
const (
	Golden Slot = regmap.SlotGolden
	A      Slot = regmap.SlotA
	B      Slot = regmap.SlotB
)

// String returns "golden", "A", "B", or the number of a slot that does not exist.
func (s Slot) String() string {
	switch s {
	case Golden:
		return "golden"
	case A:
		return "A"
	case B:
		return "B"
	}
	return fmt.Sprintf("%d", int(s))
}

// Opts configures NewSlots.
type Opts struct {
	// SlotSize is the size of each slot in bytes, header included: a multiple of the
	// sector size with room for the header's sector and at least one more, and
	// regmap.NumSlots of them must fit the device. Default: the device's size divided by
	// regmap.NumSlots, rounded down to a sector.
	SlotSize int
}

// Slots is the slot logic over a Device. It keeps no state of its own beyond the layout:
// every answer comes from the flash. It is as safe for concurrent use as its Device, but a
// write and anything else on the same slot must not overlap.
type Slots struct {
	dev      Device
	slotSize int
	sector   int
}

// NewSlots lays the slots over dev.
func NewSlots(dev Device, opts Opts) (*Slots, error) {
	g := dev.Geometry()
	bad := func(format string, args ...any) (*Slots, error) {
		return nil, &Error{Op: "new", Kind: ErrRange, Detail: fmt.Sprintf(format, args...)}
	}
	if g.SectorSize <= 0 || g.SectorSize&(g.SectorSize-1) != 0 || regmap.SlotDataOffset%g.SectorSize != 0 {
		return bad("sector size %d is not a power of two that divides the header's %d bytes", g.SectorSize, regmap.SlotDataOffset)
	}
	size := opts.SlotSize
	if size == 0 {
		size = g.Size / regmap.NumSlots / g.SectorSize * g.SectorSize
	}
	if size%g.SectorSize != 0 || size < regmap.SlotDataOffset+g.SectorSize || size > g.Size/regmap.NumSlots {
		return bad("slot size %d is not a multiple of the %d-byte sector from %d to a third of the %d-byte device",
			size, g.SectorSize, regmap.SlotDataOffset+g.SectorSize, g.Size)
	}
	return &Slots{dev: dev, slotSize: size, sector: g.SectorSize}, nil
}

// SlotSize returns the size of a slot in bytes, header included.
func (s *Slots) SlotSize() int { return s.slotSize }

// MaxFirmware returns the largest firmware a slot holds, in bytes.
func (s *Slots) MaxFirmware() int { return s.slotSize - regmap.SlotDataOffset }

// String describes the layout.
func (s *Slots) String() string {
	return fmt.Sprintf("%d flash slots of %d bytes", regmap.NumSlots, s.slotSize)
}

func (s *Slots) base(slot Slot) int { return int(slot) * s.slotSize }

func exists(slot Slot) bool { return slot >= 0 && slot < regmap.NumSlots }

// Info reads and checks a slot: its header, then its firmware's CRC. The header is
// returned whenever it decoded, even when the slot is not valid (then the error wraps
// ErrInvalid, or the Device's error).
func (s *Slots) Info(slot Slot) (regmap.SlotHeader, error) {
	if !exists(slot) {
		return regmap.SlotHeader{}, slotErr("info", slot, ErrRange, "no flash slot %d (A is 1, B is 2)", int(slot))
	}
	hb := make([]byte, regmap.SlotHeaderSize)
	base := s.base(slot)
	if err := s.dev.Read(base, hb); err != nil {
		return regmap.SlotHeader{}, devErr("info", slot, err)
	}
	h, err := regmap.DecodeSlotHeader(hb, int(slot), s.slotSize)
	if err != nil {
		return h, &Error{Op: "info", Slot: slot, Kind: fmt.Errorf("%w: %w", ErrInvalid, err), Detail: err.Error()}
	}
	fw := make([]byte, h.Size) // bounded: DecodeSlotHeader checked that it fits the slot
	if err := s.dev.Read(base+regmap.SlotDataOffset, fw); err != nil {
		return h, devErr("info", slot, err)
	}
	if c := crc32.ChecksumIEEE(fw); c != h.CRC32 {
		return h, slotErr("info", slot, ErrInvalid, "firmware CRC %#x, header says %#x", c, h.CRC32)
	}
	return h, nil
}

// State is what a slot holds.
type State struct {
	Slot   Slot
	Header regmap.SlotHeader // as decoded; meaningful when Err is nil
	Err    error             // why the slot is not valid; nil when it is
}

// Valid reports whether the slot holds valid firmware.
func (st State) Valid() bool { return st.Err == nil }

// Table is every slot, indexed by Slot.
type Table [regmap.NumSlots]State

// Table reads every slot.
func (s *Slots) Table() Table {
	var t Table
	for i := range t {
		h, err := s.Info(Slot(i))
		t[i] = State{Slot: Slot(i), Header: h, Err: err}
	}
	return t
}

// Boot returns the slot to boot: the valid A/B slot with the highest sequence number (A on
// a tie), else golden. ok is false when not even golden is valid (the returned State then
// says why).
func (t Table) Boot() (st State, ok bool) {
	best := -1
	for _, s := range []Slot{A, B} {
		if t[s].Valid() && (best < 0 || t[s].Header.Seq > t[best].Header.Seq) {
			best = int(s)
		}
	}
	if best >= 0 {
		return t[best], true
	}
	return t[Golden], t[Golden].Valid()
}

// Spare returns the A/B slot to write new firmware into, given the slot the firmware
// runs from, so that the running firmware and the newest valid slot both survive the
// write: the other of A and B when running is one of them, else the one Boot would not
// pick.
func (t Table) Spare(running Slot) Slot {
	switch running {
	case A:
		return B
	case B:
		return A
	}
	if st, _ := t.Boot(); st.Slot == A {
		return B
	}
	return A
}

// nextSeq returns one past the highest sequence number of a valid A/B slot.
func (t Table) nextSeq() (uint32, bool) {
	var seq uint32
	for _, s := range []Slot{A, B} {
		if t[s].Valid() {
			seq = max(seq, t[s].Header.Seq)
		}
	}
	return seq + 1, seq < ^uint32(0)
}

// Boot reads the table and returns the slot to boot (see Table.Boot).
func (s *Slots) Boot() (State, bool) { return s.Table().Boot() }

// ReadFirmware reads the first len(b) bytes of a slot's firmware (no check: Info checks).
func (s *Slots) ReadFirmware(slot Slot, b []byte) error {
	if !exists(slot) || len(b) > s.MaxFirmware() {
		return slotErr("read", slot, ErrRange, "%d bytes of slot %d", len(b), int(slot))
	}
	if err := s.dev.Read(s.base(slot)+regmap.SlotDataOffset, b); err != nil {
		return devErr("read", slot, err)
	}
	return nil
}
