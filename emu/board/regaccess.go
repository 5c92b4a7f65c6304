package board

import (
	"github.com/lrchip/lrchip/firmware/regmap"
)

// More register access for transports that do not share the register file with the host
// (USB's vendor requests), beside ReadReg and WriteReg (pcie.go).

// ReadReg64 reads the LO/HI pair at off (8-byte aligned in the register file) with one load,
// as the board latches HI when LO is read; ok is false for any other offset.
func (b *Board) ReadReg64(off uint32) (v uint64, ok bool) {
	if off%8 != 0 || off >= regmap.BARSize {
		return 0, false
	}
	return b.regs.load64(off), true
}

// TransportRegs is what the ring and bulk registers say about a transport's rings and bulk
// window (regmap: RING_x_BASE, RING_x_SIZE, BULK_BASE, BULK_SIZE).
type TransportRegs struct {
	RingBase [regmap.NumRings]uint64
	RingSize [regmap.NumRings]uint32
	BulkBase uint64
	BulkSize uint32
}

// SetTransportRegs fills the ring and bulk registers for a host that attaches through a
// transport that sets up the rings itself; it calls it before the host can read them.
func (b *Board) SetTransportRegs(t TransportRegs) {
	for i := regmap.Ring(0); i < regmap.NumRings; i++ {
		b.regs.store64(regmap.RingBaseLo(i), t.RingBase[i])
		b.regs.store(regmap.RingSize(i), t.RingSize[i])
	}
	b.regs.store64(regmap.RegBulkBaseLo, t.BulkBase)
	b.regs.store(regmap.RegBulkSize, t.BulkSize)
}
