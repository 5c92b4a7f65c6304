package board

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// DefaultSlotSize is the size of a flash slot when FlashOpts.SlotSize is 0: 1 MiB (a real
// board's slots hold a bitstream and are larger; the emulator's firmware is small). It is
// regmap's, so that a host that reaches the flash without the board (lrctl fw recover) lays
// the slots out the same way.
const DefaultSlotSize = regmap.EmulatorSlotSize

// ErrPowerCut is returned by the flash's operations once its power was cut (CutPowerAfter):
// the board it is on is off until PowerOn and a new board.New.
var ErrPowerCut = errors.New("board: flash power cut")

// Flash is the model of the board's SPI NOR flash (one of regmap.FlashParts, big enough for
// regmap.NumSlots slots of SlotSize bytes) at the level of its SPI transactions: chip select,
// then an opcode, an address and data, acted on when chip select rises. It answers the JEDEC
// id, SFDP where the part has it, the status register (WIP set for a few polls after each
// program or erase, WEL after WRITE ENABLE), READ, FAST READ, PAGE PROGRAM (only clears
// bits, wraps within its 256-byte page), 4 KiB SECTOR ERASE (sets 0xFF), 4-byte addressing
// and reset; a busy part ignores everything but status reads, a part without WEL ignores
// program and erase. Both the board's firmware (through the SPI NOR driver of
// devices/spinor) and the host (SPI_XFER) reach it only that way.
//
// Its power can be cut after any program or erase (CutPowerAfter), as flashtest.Mem's: the
// operation at the cut applies not at all or, torn, half; then nothing answers until
// PowerOn. A Flash may outlive a Board: pass it to the next New to model a reboot that keeps
// the flash. It also is a flash.Device itself (the programmer's back door: the same
// operations without the bus). It is safe for concurrent use.
type Flash struct {
	mu       sync.Mutex
	data     []byte
	slotSize int
	part     regmap.FlashPart
	sfdp     []byte

	// The transaction under way.
	selected bool
	txn      []byte // bytes clocked in since chip select (the opcode, address, data), bounded
	txnLen   int    // bytes clocked, all of them
	wel      bool
	addr4    bool
	busy     int // status polls left with WIP set
	resetEn  bool

	stuck    bool // WIP never clears (a failed part)
	ops      int  // programs and erases applied since PowerOn
	cut      int  // apply at most this many; -1 no limit
	torn     bool
	off      bool
	programs int // programs and erases ever applied, for tests
}

// Busy polls after an operation: how many status reads see WIP.
const (
	programPolls = 1
	erasePolls   = 3
)

// NewFlash returns an erased flash with slots of slotSize bytes (0: DefaultSlotSize), a
// multiple of the 4 KiB sector and at least two sectors: the smallest part of
// regmap.FlashParts that holds the slots.
func NewFlash(slotSize int) (*Flash, error) {
	if slotSize == 0 {
		slotSize = DefaultSlotSize
	}
	if slotSize < 2*sector || slotSize%sector != 0 || slotSize > 64<<20 {
		return nil, fmt.Errorf("board: flash slot size %d is not a multiple of %d from %d to 64 MiB", slotSize, sector, 2*sector)
	}
	need := regmap.NumSlots * slotSize
	part, ok := regmap.FlashParts[regmap.EmulatedFlash], false
	for _, p := range regmap.FlashParts {
		if p.Size >= need && (!ok || p.Size < part.Size) && p.SFDP {
			part, ok = p, true
		}
	}
	if !ok {
		return nil, fmt.Errorf("board: no flash part holds %d slots of %d bytes", regmap.NumSlots, slotSize)
	}
	f := &Flash{data: make([]byte, part.Size), slotSize: slotSize, part: part, cut: -1}
	if part.SFDP {
		f.sfdp = spinor.BasicTable(part.Size, part.FourByte)
	}
	for i := range f.data {
		f.data[i] = 0xff
	}
	return f, nil
}

const sector = 4096

// SlotSize returns the size of a slot in bytes.
func (f *Flash) SlotSize() int { return f.slotSize }

// Part returns the part modelled.
func (f *Flash) Part() regmap.FlashPart { return f.part }

// String names the part.
func (f *Flash) String() string {
	return fmt.Sprintf("emulated %s, %d MiB, slots of %d KiB", f.part.Name, f.part.Size>>20, f.slotSize>>10)
}

// CutPowerAfter lets k more programs or erases apply and cuts the power at the next one
// (with torn, after applying half of it). The board on it stops after the command that
// reached the cut: its host sees it go.
func (f *Flash) CutPowerAfter(k int, torn bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut, f.torn, f.ops = k, torn, 0
}

// PowerOn restores the power (the part resets: 3-byte mode, no WEL, not busy) and lifts any
// cut.
func (f *Flash) PowerOn() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.off, f.cut, f.ops = false, -1, 0
	f.reset()
}

// PoweredOff reports whether the power was cut.
func (f *Flash) PoweredOff() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.off
}

// Operations returns how many programs and erases applied since the flash was made.
func (f *Flash) Operations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.programs
}

// SetStuck makes WIP never clear (true), as a failed part's, or work again (false).
func (f *Flash) SetStuck(stuck bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stuck = stuck
}

func (f *Flash) reset() {
	f.selected, f.txn, f.txnLen, f.wel, f.addr4, f.busy, f.resetEn = false, f.txn[:0], 0, false, false, 0, false
}

// Bytes returns a copy of the content.
func (f *Flash) Bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.data...)
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

// --- operations, by the bus or the back door; called with mu held ---

// operate accounts for one program or erase of n bytes: it returns how many to apply and
// whether the power goes.
func (f *Flash) operate(n int) (int, bool) {
	if f.cut >= 0 && f.ops >= f.cut {
		f.off = true
		if f.torn {
			return n / 2, true
		}
		return 0, true
	}
	f.ops++
	f.programs++
	return n, false
}

func (f *Flash) program(off int, b []byte) error {
	k, cut := f.operate(len(b))
	for i, v := range b[:k] {
		f.data[off+i] &= v // NOR: programming only clears bits
	}
	if cut {
		return fmt.Errorf("board: flash program at %d: %w", off, ErrPowerCut)
	}
	return nil
}

func (f *Flash) erase(off, n int) error {
	k, cut := f.operate(n)
	k = k / sector * sector
	for i := off; i < off+k; i++ {
		f.data[i] = 0xff
	}
	if cut {
		return fmt.Errorf("board: flash erase at %d: %w", off, ErrPowerCut)
	}
	return nil
}

// --- the back door: flash.Device ---

// Geometry implements flash.Device.
func (f *Flash) Geometry() flash.Geometry {
	return flash.Geometry{Size: len(f.data), SectorSize: sector}
}

func (f *Flash) check(off, n int) error {
	if f.off {
		return fmt.Errorf("board: flash access at %d: %w", off, ErrPowerCut)
	}
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
	return f.erase(off, n)
}

// Program writes b at off: each byte becomes old AND new.
func (f *Flash) Program(off int, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(off, len(b)); err != nil {
		return err
	}
	return f.program(off, b)
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

// --- the SPI bus ---

// maxTxn bounds the bytes of a transaction kept (an opcode, an address and a page).
const maxTxn = 5 + regmap.SPINorPageSize

// Transfer clocks len(tx) bytes (and as many into rx, if it is not nil) with chip select
// asserted, then releases chip select unless keepCS: one SPI transfer, as the controller
// does it. A part whose power is off answers 0xFF (MISO pulled up) and does nothing.
func (f *Flash) Transfer(tx, rx []byte, keepCS bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.selected {
		f.selected, f.txn, f.txnLen = true, f.txn[:0], 0
	}
	for i, b := range tx {
		o := f.clock(b)
		if i < len(rx) {
			rx[i] = o
		}
	}
	if !keepCS {
		f.deselect()
	}
}

// Selected reports whether chip select is held (a transaction is open).
func (f *Flash) Selected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.selected
}

func (f *Flash) addrLen(op byte) int {
	switch op {
	case regmap.SPINorRead4B, regmap.SPINorPP4B, regmap.SPINorSE4B:
		return 4
	case regmap.SPINorReadSFDP:
		return 3
	}
	if f.addr4 {
		return 4
	}
	return 3
}

func addrOf(b []byte) int {
	a := 0
	for _, x := range b {
		a = a<<8 | int(x)
	}
	return a
}

// clock takes one byte from MOSI and returns the byte on MISO.
func (f *Flash) clock(in byte) byte {
	if f.off {
		return 0xff
	}
	pos := f.txnLen
	f.txnLen++
	if len(f.txn) < maxTxn {
		f.txn = append(f.txn, in)
	}
	if pos == 0 {
		return 0xff
	}
	op := f.txn[0]
	if f.busy > 0 && op != regmap.SPINorRDSR {
		return 0xff // a busy part answers nothing but its status
	}
	switch op {
	case regmap.SPINorReadID:
		if pos <= 3 {
			return f.part.JEDEC[pos-1]
		}
	case regmap.SPINorRDSR:
		var s byte
		if f.busy > 0 || f.stuck {
			s |= regmap.SPINorStatusWIP
			if f.busy > 0 && !f.stuck {
				f.busy--
			}
		}
		if f.wel {
			s |= regmap.SPINorStatusWEL
		}
		return s
	case regmap.SPINorRead, regmap.SPINorRead4B, regmap.SPINorFastRead, regmap.SPINorReadSFDP:
		n := f.addrLen(op)
		dummy := 0
		if op == regmap.SPINorFastRead || op == regmap.SPINorReadSFDP {
			dummy = 1
		}
		if pos <= n+dummy {
			return 0xff
		}
		a := addrOf(f.txn[1 : 1+n])
		k := pos - 1 - n - dummy
		if op == regmap.SPINorReadSFDP {
			if a+k < len(f.sfdp) {
				return f.sfdp[a+k]
			}
			return 0xff
		}
		return f.data[(a+k)%len(f.data)]
	}
	return 0xff
}

// deselect ends the transaction: writes act now.
func (f *Flash) deselect() {
	f.selected = false
	txn, n := f.txn, f.txnLen
	f.txn, f.txnLen = f.txn[:0], 0
	if f.off || n == 0 || f.busy > 0 || f.stuck && txn[0] != regmap.SPINorRDSR {
		return
	}
	op := txn[0]
	if op != regmap.SPINorReset {
		f.resetEn = false
	}
	switch op {
	case regmap.SPINorWREN:
		f.wel = true
	case regmap.SPINorWRDI:
		f.wel = false
	case regmap.SPINorEN4B:
		f.addr4 = f.part.FourByte
	case regmap.SPINorEX4B:
		f.addr4 = false
	case regmap.SPINorResetEn:
		f.resetEn = true
	case regmap.SPINorReset:
		if f.resetEn {
			f.reset()
		}
	case regmap.SPINorPP, regmap.SPINorPP4B:
		al := f.addrLen(op)
		if !f.wel || n <= 1+al {
			return
		}
		f.wel = false
		a := addrOf(txn[1:1+al]) % len(f.data)
		data := txn[1+al:]
		if n-1-al > regmap.SPINorPageSize { // only the last 256 bytes count, as on the part
			data = data[len(data)-min(len(data), regmap.SPINorPageSize):]
		}
		page := a &^ (regmap.SPINorPageSize - 1)
		buf := make([]byte, regmap.SPINorPageSize)
		for i := range buf {
			buf[i] = 0xff
		}
		for i, v := range data {
			buf[(a-page+i)%regmap.SPINorPageSize] &= v
		}
		f.program(page, buf) // a power cut shows in PoweredOff
		f.busy = programPolls
	case regmap.SPINorSE, regmap.SPINorSE4B:
		al := f.addrLen(op)
		if !f.wel || n != 1+al {
			return
		}
		f.wel = false
		a := addrOf(txn[1:1+al]) % len(f.data)
		f.erase(a&^(sector-1), sector)
		f.busy = erasePolls
	}
}

// flashConn is the board's SPI controller as its firmware sees it: a periph spi.Conn to the
// flash.
type flashConn struct{ f *Flash }

func (c flashConn) String() string      { return "board SPI0 (" + c.f.part.Name + ")" }
func (c flashConn) Duplex() conn.Duplex { return conn.Full }
func (c flashConn) Tx(w, r []byte) error {
	if len(r) > len(w) {
		w = append(w, make([]byte, len(r)-len(w))...)
	}
	if c.f.PoweredOff() {
		return fmt.Errorf("board: SPI: %w", ErrPowerCut)
	}
	c.f.Transfer(w, r, false)
	return nil
}
func (c flashConn) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		w := pk.W
		if len(pk.R) > len(w) {
			w = append(w, make([]byte, len(pk.R)-len(w))...)
		}
		c.f.Transfer(w, pk.R, pk.KeepCS)
	}
	return nil
}
