package board

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The board as a PCIe function (docs/regmap.md §10), for a transport that traps the host's
// register accesses instead of sharing the register file (emu/vfiouser serves the board over
// vfio-user): register reads and writes with their access semantics, the register file as a
// descriptor the host may map read-only, the refusal of CONTROL.ATTACH, and the
// function-level reset. The transport attaches the host's rings with Serve.

// ReadReg reads the register at off, a 4-byte aligned offset in the register file; ok is
// false for an offset outside it or unaligned. Offsets without a register read 0.
func (b *Board) ReadReg(off uint32) (v uint32, ok bool) {
	if off%4 != 0 || off >= regmap.BARSize {
		return 0, false
	}
	return b.regs.load(off), true
}

// Effect is what a register write asks of the transport besides the store.
type Effect uint8

// Effects of WriteReg.
const (
	// EffectWake: the firmware must be woken (a DOORBELL or CONTROL write).
	EffectWake Effect = 1 << iota
	// EffectInterrupt: the write armed IRQ_MASK with a cause already pending in IRQ_STATUS;
	// the mask is disarmed again and the host must be interrupted now (one-shot), so that a
	// posted write of the mask racing the board's check loses no interrupt.
	EffectInterrupt
)

// WriteReg writes the register at off as an MMIO write does: RW registers store v, W1C
// registers clear the bits set in v, W1S registers (DOORBELL, CONTROL) set them for the
// firmware to act on, RO registers and offsets without a register ignore it. ok is false
// for an offset outside the register file or unaligned. CONTROL.ATTACH is the transport's to
// act on (it knows the host's DMA windows): pass CONTROL writes without it.
func (b *Board) WriteReg(off, v uint32) (e Effect, ok bool) {
	if off%4 != 0 || off >= regmap.BARSize {
		return 0, false
	}
	switch regmap.AccessOf(off) {
	case regmap.RW:
		b.regs.store(off, v)
		if off == regmap.RegIRQMask && v != 0 && b.regs.load(regmap.RegIRQStatus)&v != 0 {
			// The firmware's interrupt() disarms with a compare-and-swap too: one of the two
			// wins, and the host is interrupted once.
			if atomic.CompareAndSwapUint32(b.regs.word(regmap.RegIRQMask), v, 0) {
				return EffectInterrupt, true
			}
		}
	case regmap.W1C:
		b.regs.andNot(off, v)
	case regmap.W1S:
		if v != 0 {
			b.regs.or(off, v)
			return EffectWake, true
		}
	}
	return 0, true
}

// RegisterFile returns the register file as a read-only descriptor of its memory (a new
// open file description of the memfd: the host can map it to read the registers, not to
// write them behind the firmware's back). The caller closes it.
func (b *Board) RegisterFile() (*os.File, error) {
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(b.regs.fd), os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("board: register file: %w", err)
	}
	return f, nil
}

// RefuseAttach records why the board did not take the rings of CONTROL.ATTACH: STATUS.ERROR
// with ERROR_CODE code, as for a fatal error (a function-level reset clears it).
func (b *Board) RefuseAttach(code regmap.Result) {
	b.fatal(code)
}

// ResetFunction is the function-level reset: the soft reset of CONTROL.RESET, and every
// register the host writes back to its power-on value (the ring and bulk registers,
// IRQ_MASK, IRQ_STATUS, HOST_VERSION, SCRATCH), STATUS down to what the firmware's boot
// left (READY, GOLDEN, THROTTLED). The firmware is not rebooted. It must not run while the
// board serves a host (Serve): the transport stops that first.
func (b *Board) ResetFunction() {
	b.softReset()
	for _, r := range regmap.Registers {
		if r.Access != regmap.RO {
			b.regs.store(r.Offset, 0)
		}
	}
	const keep = regmap.StatusReady | regmap.StatusGolden | regmap.StatusThrottled
	st := b.regs.load(regmap.RegStatus)
	b.regs.store(regmap.RegStatus, st&keep)
	b.regs.store(regmap.RegCapPayload, uint32(b.opts.RingCapacity/4))
}
