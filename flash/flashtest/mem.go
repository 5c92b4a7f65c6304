// Package flashtest helps test code that uses a flash.Device: Mem, a NOR flash in memory
// whose power can be cut after any operation, and TestDevice, which checks that a Device
// has NOR semantics.
package flashtest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/lrchip/lrchip/flash"
)

// ErrPowerCut is returned by every operation of a Mem after its power was cut.
var ErrPowerCut = errors.New("flashtest: power cut")

// Mem is a NOR flash in memory: erase sets sectors to 0xFF, program clears bits (old AND
// new). CutPowerAfter makes it stop applying operations after the k-th, as a board that
// loses power would; PowerOn is the next boot. It is safe for concurrent use.
type Mem struct {
	mu     sync.Mutex
	data   []byte
	sector int
	ops    int  // operations applied since PowerOn
	cut    int  // apply at most this many operations; -1: no limit
	torn   bool // the operation at the cut applies to the first half of its range
	off    bool // the power is off
}

// NewMem returns an erased flash of size bytes in sectors of sector bytes (a power of
// two that divides size).
func NewMem(size, sector int) (*Mem, error) {
	if sector <= 0 || sector&(sector-1) != 0 || size <= 0 || size%sector != 0 || size > 1<<30 {
		return nil, fmt.Errorf("flashtest: %d bytes in sectors of %d: not a whole number of power-of-two sectors up to 1 GiB", size, sector)
	}
	m := &Mem{data: make([]byte, size), sector: sector, cut: -1}
	for i := range m.data {
		m.data[i] = 0xff
	}
	return m, nil
}

// Geometry implements flash.Device.
func (m *Mem) Geometry() flash.Geometry {
	return flash.Geometry{Size: len(m.data), SectorSize: m.sector}
}

// CutPowerAfter lets k more operations (erases, programs and reads) apply and cuts the
// power at the next one. With torn, that next operation still applies to the first half
// of its range (rounded down to whole sectors for an erase) before the power goes, as a
// cut in the middle of a page program or a block erase would leave it.
func (m *Mem) CutPowerAfter(k int, torn bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cut, m.torn, m.ops = k, torn, 0
}

// PowerOn restores the power, keeping the content, and lifts any cut: the board reboots.
func (m *Mem) PowerOn() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.off, m.cut, m.ops = false, -1, 0
}

// Ops returns how many operations applied since the last PowerOn or CutPowerAfter.
func (m *Mem) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// PoweredOff reports whether the power was cut.
func (m *Mem) PoweredOff() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.off
}

// Bytes returns a copy of the content.
func (m *Mem) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data...)
}

// op accounts for one operation on [off, off+n): it returns how many bytes of the range
// to apply (n, or fewer at a torn cut) and the error to return. Called with mu held.
func (m *Mem) op(what string, off, n int) (int, error) {
	if m.off {
		return 0, fmt.Errorf("flashtest: %s at %d: %w", what, off, ErrPowerCut)
	}
	if off < 0 || n < 0 || off > len(m.data) || n > len(m.data)-off {
		return 0, fmt.Errorf("flashtest: %s [%d, %d) outside the %d-byte flash", what, off, off+n, len(m.data))
	}
	if m.cut >= 0 && m.ops >= m.cut {
		m.off = true
		if m.torn {
			return n / 2, fmt.Errorf("flashtest: %s [%d, %d) torn: %w", what, off, off+n, ErrPowerCut)
		}
		return 0, fmt.Errorf("flashtest: %s at %d: %w", what, off, ErrPowerCut)
	}
	m.ops++
	return n, nil
}

// Erase implements flash.Device.
func (m *Mem) Erase(off, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off%m.sector != 0 || n%m.sector != 0 {
		return fmt.Errorf("flashtest: erase [%d, %d) is not aligned to the %d-byte sector", off, off+n, m.sector)
	}
	k, err := m.op("erase", off, n)
	k = k / m.sector * m.sector
	for i := off; i < off+k; i++ {
		m.data[i] = 0xff
	}
	return err
}

// Program implements flash.Device: each byte becomes old AND new.
func (m *Mem) Program(off int, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.op("program", off, len(b))
	for i, v := range b[:k] {
		m.data[off+i] &= v
	}
	return err
}

// Read implements flash.Device.
func (m *Mem) Read(off int, b []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.op("read", off, len(b))
	if err != nil {
		return err // a torn read returns nothing
	}
	copy(b, m.data[off:off+k])
	return nil
}

// Corrupt flips the lowest bit of the byte at off, as a failing cell would (a power cut
// is not needed, and none is counted).
func (m *Mem) Corrupt(off int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off >= 0 && off < len(m.data) {
		m.data[off] ^= 1
	}
}

// String describes the flash.
func (m *Mem) String() string {
	return fmt.Sprintf("in-memory NOR flash, %d bytes in %d-byte sectors", len(m.data), m.sector)
}
