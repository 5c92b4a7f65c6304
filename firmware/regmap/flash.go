package regmap

import "hash/crc32"

// The SPI flash holds NumSlots slots of equal size: slot 0, the golden image written at
// manufacture and never overwritten, then slots A and B. Each slot starts with a SlotHeader
// in its first erase sector; the firmware follows at SlotDataOffset. A slot is valid when its
// header is intact (magic, version, header CRC) and the firmware's CRC matches; boot picks the
// valid A/B slot with the highest sequence number and falls back to golden.
const (
	SlotMagic         uint32 = 0x5746524C // "LRFW"
	SlotHeaderVersion uint16 = 1
	SlotHeaderSize           = 32
	SlotDataOffset           = 4096 // one erase sector for the header
	FlashSectorSize          = 4096
)

// SlotHeaderLayout documents the header at the start of every slot.
var SlotHeaderLayout = Layout{Name: "slot_header", Doc: "header at the start of a flash slot", Size: SlotHeaderSize, Fields: []LField{
	{"magic", 0, "u32", `0x5746524C, "LRFW"`},
	{"version", 4, "u16", "header layout version, 1"},
	{"slot", 6, "u16", "the slot this header belongs to"},
	{"fw_version", 8, "u32", "firmware version (FW_VERSION format)"},
	{"seq", 12, "u32", "write sequence number; boot picks the highest valid"},
	{"size", 16, "u32", "bytes of firmware at SLOT_DATA_OFFSET"},
	{"crc32", 20, "u32", "IEEE CRC-32 of the firmware"},
	{"reserved", 24, "u32", "0"},
	{"header_crc32", 28, "u32", "IEEE CRC-32 of bytes 0..27"},
}}

// SlotHeader is the decoded header of a flash slot.
type SlotHeader struct {
	Slot    uint16
	Version FWVersion
	Seq     uint32
	Size    uint32
	CRC32   uint32
}

// Put writes the header into b (SlotHeaderSize bytes).
func (h SlotHeader) Put(b []byte) {
	le.PutUint32(b[0:], SlotMagic)
	le.PutUint16(b[4:], SlotHeaderVersion)
	le.PutUint16(b[6:], h.Slot)
	le.PutUint32(b[8:], uint32(h.Version))
	le.PutUint32(b[12:], h.Seq)
	le.PutUint32(b[16:], h.Size)
	le.PutUint32(b[20:], h.CRC32)
	le.PutUint32(b[24:], 0)
	le.PutUint32(b[28:], crc32.ChecksumIEEE(b[:28]))
}

// DecodeSlotHeader decodes and checks a slot header read from flash: magic, layout version,
// header CRC, reserved word, and that slot and size fit a slot of slotSize bytes.
func DecodeSlotHeader(b []byte, slot int, slotSize int) (SlotHeader, error) {
	if err := needAtLeast("slot header", b, SlotHeaderSize); err != nil {
		return SlotHeader{}, err
	}
	if m := le.Uint32(b); m != SlotMagic {
		return SlotHeader{}, malformed("slot header", "slot %d: magic %#x, want %#x", slot, m, SlotMagic)
	}
	if v := le.Uint16(b[4:]); v != SlotHeaderVersion {
		return SlotHeader{}, malformed("slot header", "slot %d: header version %d, want %d", slot, v, SlotHeaderVersion)
	}
	if c, want := le.Uint32(b[28:]), crc32.ChecksumIEEE(b[:28]); c != want {
		return SlotHeader{}, malformed("slot header", "slot %d: header CRC %#x, computed %#x", slot, c, want)
	}
	h := SlotHeader{Slot: le.Uint16(b[6:]), Version: FWVersion(le.Uint32(b[8:])), Seq: le.Uint32(b[12:]), Size: le.Uint32(b[16:]), CRC32: le.Uint32(b[20:])}
	if int(h.Slot) != slot {
		return h, malformed("slot header", "slot %d holds the header of slot %d", slot, h.Slot)
	}
	if r := le.Uint32(b[24:]); r != 0 {
		return h, malformed("slot header", "slot %d: reserved word %#x", slot, r)
	}
	if uint64(h.Size) > uint64(max(0, slotSize-SlotDataOffset)) {
		return h, malformed("slot header", "slot %d: firmware of %d bytes does not fit a %d-byte slot", slot, h.Size, slotSize)
	}
	return h, nil
}
