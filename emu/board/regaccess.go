package board

import (
	"errors"
	"fmt"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Register access for transports that do not share the register file with the host (USB:
// vendor control requests): what a host's read or write of a register does, with the
// register's access semantics, as the shared-memory transports get by mapping the page.

// ErrRegister is wrapped by the errors of ReadReg, ReadReg64 and WriteReg: an offset that is
// not a 4-byte aligned offset in the register file.
var ErrRegister = errors.New("board: no such register")

func checkReg(off uint32, align uint32) error {
	if off%align != 0 || off >= regmap.BARSize {
		return fmt.Errorf("board: register offset %#x is not %d-byte aligned below %#x: %w", off, align, regmap.BARSize, ErrRegister)
	}
	return nil
}

// ReadReg reads the 32-bit register at off.
func (b *Board) ReadReg(off uint32) (uint32, error) {
	if err := checkReg(off, 4); err != nil {
		return 0, err
	}
	return b.regs.load(off), nil
}

// ReadReg64 reads the LO/HI pair at off (8-byte aligned) with one load, as the board latches
// HI when LO is read.
func (b *Board) ReadReg64(off uint32) (uint64, error) {
	if err := checkReg(off, 8); err != nil {
		return 0, err
	}
	return b.regs.load64(off), nil
}

// WriteReg writes v to the register at off as a host's write does: RW stores, W1S sets the
// bits set in v (the engine acts on them and clears them), W1C clears them, and a write to a
// read-only register is ignored, as the board ignores it on every transport. Offsets that
// name no register are ignored too. The transport wakes the engine if it sleeps.
func (b *Board) WriteReg(off, v uint32) error {
	if err := checkReg(off, 4); err != nil {
		return err
	}
	r, ok := regmap.RegisterAt(off)
	if !ok {
		return nil
	}
	switch r.Access {
	case regmap.RW:
		b.regs.store(off, v)
	case regmap.W1S:
		b.regs.or(off, v)
	case regmap.W1C:
		b.regs.andNot(off, v)
	}
	return nil
}

// TransportRegs is what the ring and bulk registers say about a transport's rings and bulk
// window (regmap: RING_x_BASE, RING_x_SIZE, BULK_BASE, BULK_SIZE).
type TransportRegs struct {
	RingBase [regmap.NumRings]uint64
	RingSize [regmap.NumRings]uint32
	BulkBase uint64
	BulkSize uint32
}

// SetTransportRegs fills the ring and bulk registers for a host that attaches; a transport
// calls it before the host can read them.
func (b *Board) SetTransportRegs(t TransportRegs) {
	for i := regmap.Ring(0); i < regmap.NumRings; i++ {
		b.regs.store64(regmap.RingBaseLo(i), t.RingBase[i])
		b.regs.store(regmap.RingSize(i), t.RingSize[i])
	}
	b.regs.store64(regmap.RegBulkBaseLo, t.BulkBase)
	b.regs.store(regmap.RegBulkSize, t.BulkSize)
}
