// Package flash is the board's configuration flash as firmware updates see it: a Device
// that erases, programs and reads (the emulated board's flash model, or a host-side SPI NOR
// driver), and on it the firmware slots of firmware/regmap — golden, A and B — with the
// rules that keep a board bootable whatever happens during an update.
//
// The flash holds regmap.NumSlots slots of equal size from offset 0. Each starts with a
// regmap.SlotHeader in its first erase sector; the firmware follows at
// regmap.SlotDataOffset. A slot is valid when its header checks (magic, layout version,
// header CRC, its own slot number, a size that fits) and its firmware's CRC-32 matches the
// header's.
//
// Writing a slot (Slots.Begin, Writer.WriteAt, Writer.Commit, or Slots.Write for all three)
// erases the header's sector first, so the slot is invalid before any of its firmware
// changes; then the rest of the slot; programs the firmware; reads it back and checks its
// CRC; and programs the header last, with a sequence number one past the highest valid
// one. A power cut at any point therefore leaves either the slot's previous content (cut
// before the first erase), an invalid slot, or the new, complete firmware; never a slot
// that checks but holds something else. Golden is never written by Slots: WriteGolden, for
// manufacture, is the only way.
//
// Boot (Table.Boot) picks the valid A/B slot with the highest sequence number and falls
// back to golden when neither is valid.
package flash
