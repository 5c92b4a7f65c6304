package board

import (
	"fmt"
	"sync"

	"github.com/lrchip/lrchip/flash"
)

// DefaultSlotSize is the size of a flash slot when FlashOpts.SlotSize is 0: 1 MiB (a real
// board's slots hold a bitstream and are larger; the emulator's firmware is small).
const DefaultSlotSize = 1 << 20

// Flash is the model of the board's SPI NOR flash: regmap.NumSlots slots of SlotSize bytes,
// a flash.Device on which the board keeps its firmware slots (package flash). As on NOR
// flash, erasing a 4 KiB sector sets it to 0xFF and programming can only clear bits, so
// writing over data that was not erased corrupts it (which the read-back verify catches).
// A Flash may outlive a Board: pass it to the next New to model a reboot that keeps the flash.
// It is safe for concurrent use.
type Flash struct {
	mu       sync.Mutex
	data     []byte
	slotSize int
}

// NewFlash returns an erased flash with slots of slotSize bytes (0: DefaultSlotSize), a
// multiple of the 4 KiB sector and at least two sectors.
func NewFlash(slotSize int) (*Flash, error) {
	if slotSize == 0 {
		slotSize = DefaultSlotSize
	}
	if slotSize < 2*sector || slotSize%sector != 0 || slotSize > 64<<20 {
		return nil, fmt.Errorf("board: flash slot size %d is not a multiple of %d from %d to 64 MiB", slotSize, sector, 2*sector)
	}
	f := &Flash{data: make([]byte, 3*slotSize), slotSize: slotSize}
	for i := range f.data {
		f.data[i] = 0xff
	}
	return f, nil
}

const sector = 4096

// SlotSize returns the size of a slot in bytes.
func (f *Flash) SlotSize() int { return f.slotSize }

// Geometry implements flash.Device.
func (f *Flash) Geometry() flash.Geometry {
	return flash.Geometry{Size: len(f.data), SectorSize: sector}
}

func (f *Flash) check(off, n int) error {
	if off < 0 || n < 0 || off > len(f.data) || n > len(f.data)-off { // no off+n: it could overflow
		return fmt.Errorf("board: flash access [%d, %d) outside the %d-byte flash", off, off+n, len(f.data))
	}
	return nil
}

// Erase erases the sectors of [off, off+n), which must be sector-aligned.
func (f *Flash) Erase(off, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off%sector != 0 || n%sector != 0 {
		return fmt.Errorf("board: flash erase [%d, %d) is not sector-aligned", off, off+n)
	}
	if err := f.check(off, n); err != nil {
		return err
	}
	for i := off; i < off+n; i++ {
		f.data[i] = 0xff
	}
	return nil
}

// Program writes b at off: each byte becomes old AND new.
func (f *Flash) Program(off int, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(off, len(b)); err != nil {
		return err
	}
	for i, v := range b {
		f.data[off+i] &= v // NOR: programming only clears bits
	}
	return nil
}

// Read reads len(b) bytes at off.
func (f *Flash) Read(off int, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(off, len(b)); err != nil {
		return err
	}
	copy(b, f.data[off:])
	return nil
}

// Corrupt flips the lowest bit of the byte at off, as a failing cell would: tests use it to
// check that boot falls back to another slot.
func (f *Flash) Corrupt(off int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= 0 && off < len(f.data) {
		f.data[off] ^= 1
	}
}
