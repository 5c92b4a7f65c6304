package board

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/physic"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// ErrNack is the error of an I²C transaction that a target did not acknowledge.
var ErrNack = errors.New("board: I²C NACK")

// SensorFault makes a part on the sensor bus misbehave, for tests of the host's drivers.
type SensorFault int

// Faults.
const (
	SensorOK       SensorFault = iota
	SensorAbsent               // the part does not acknowledge its address
	SensorBadValue             // an INA226 flags an arithmetic overflow; a TMP117 reads "no conversion" (0x8000)
)

// sensorBus is the board's I²C bus with its parts (regmap.SensorParts): an INA226 per rail,
// whose registers follow the emulated load through the sensor model, and a TMP117 on the die.
// It is a periph i2c.Bus (the board's own firmware reads the sensors through the same drivers
// as the host does) and what I2C_XFER reaches. It is safe for concurrent use.
type sensorBus struct {
	mu     sync.Mutex
	s      *sensors // guarded by the board's engine; read under mu here
	ina    map[uint16]*ina226Model
	tmp    map[uint16]*tmp117Model
	faults map[uint16]SensorFault
}

func newSensorBus(s *sensors) *sensorBus {
	b := &sensorBus{s: s, ina: map[uint16]*ina226Model{}, tmp: map[uint16]*tmp117Model{}, faults: map[uint16]SensorFault{}}
	for _, p := range regmap.SensorParts {
		switch p.Part {
		case "INA226":
			b.ina[p.Addr] = &ina226Model{rail: p.Rail, shuntOhm: p.ShuntMilliohm / 1000, config: 0x4127}
		case "TMP117":
			b.tmp[p.Addr] = &tmp117Model{config: 0x0220, high: 0x6000, low: 0x8000}
		}
	}
	return b
}

func (b *sensorBus) String() string { return "board I2C0" }

// SetSpeed implements i2c.Bus.
func (b *sensorBus) SetSpeed(physic.Frequency) error { return nil }

func (b *sensorBus) fault(addr uint16, f SensorFault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[addr] = f
}

// Tx implements i2c.Bus: a write of a register pointer (and a value), then reads from the
// pointer, as both parts do.
func (b *sensorBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.faults[addr]
	ina, isINA := b.ina[addr]
	tmp, isTMP := b.tmp[addr]
	if (!isINA && !isTMP) || f == SensorAbsent {
		return fmt.Errorf("board: I²C address %#02x: %w", addr, ErrNack)
	}
	var ptr *byte
	var write func(reg byte, v uint16) bool
	var read func(reg byte) (uint16, bool)
	if isINA {
		ptr, write = &ina.ptr, ina.write
		read = func(reg byte) (uint16, bool) { return ina.read(reg, b.s, f) }
	} else {
		ptr, write = &tmp.ptr, tmp.write
		read = func(reg byte) (uint16, bool) { return tmp.read(reg, b.s, f) }
	}
	switch len(w) {
	case 0:
	case 1:
		*ptr = w[0]
	case 3:
		*ptr = w[0]
		if !write(w[0], uint16(w[1])<<8|uint16(w[2])) {
			return fmt.Errorf("board: I²C address %#02x: write to register %#02x: %w", addr, w[0], ErrNack)
		}
	default:
		return fmt.Errorf("board: I²C address %#02x: %d bytes written (a pointer, or a pointer and a 16-bit value): %w", addr, len(w), ErrNack)
	}
	for i := 0; i < len(r); i += 2 {
		v, ok := read(*ptr)
		if !ok {
			return fmt.Errorf("board: I²C address %#02x: read of register %#02x: %w", addr, *ptr, ErrNack)
		}
		r[i] = byte(v >> 8)
		if i+1 < len(r) {
			r[i+1] = byte(v)
		}
	}
	return nil
}

// ina226Model is one INA226: its registers, with the datasheet's integer arithmetic from
// the shunt current and bus voltage the sensor model gives its rail.
type ina226Model struct {
	rail                        regmap.Rail
	shuntOhm                    float64
	ptr                         byte
	config, cal, mask, alertLim uint16
}

func clampI16(x float64) int32 { return int32(max(-32768, min(32767, math.Round(x)))) }

// measure returns the shunt, bus, current and power registers for a current i (A) at bus
// voltage v (V).
func (m *ina226Model) measure(i, v float64) (shunt, bus, current, power int32, ovf bool) {
	shunt = clampI16(i * m.shuntOhm / 2.5e-6)
	bus = int32(max(0, min(32767, math.Round(v/1.25e-3))))
	c := int64(shunt) * int64(m.cal) / 2048
	current = int32(max(-32768, min(32767, c)))
	p := abs64(int64(current)) * int64(bus) / 20000
	power = int32(min(65535, p))
	return shunt, bus, current, power, c != int64(current) || p > 65535
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func (m *ina226Model) read(reg byte, s *sensors, f SensorFault) (uint16, bool) {
	i, v := s.railIV(m.rail)
	shunt, bus, current, power, ovf := m.measure(i, v)
	switch reg {
	case 0x00:
		return m.config, true
	case 0x01:
		return uint16(int16(shunt)), true
	case 0x02:
		return uint16(bus), true
	case 0x03:
		return uint16(power), true
	case 0x04:
		return uint16(int16(current)), true
	case 0x05:
		return m.cal, true
	case 0x06:
		me := m.mask&0xfc00 | 1<<3 // conversion ready
		if ovf || f == SensorBadValue {
			me |= 1 << 2
		}
		lim := int32(m.alertLim)
		alert := m.mask&(1<<15) != 0 && shunt > int32(int16(m.alertLim)) ||
			m.mask&(1<<14) != 0 && shunt < int32(int16(m.alertLim)) ||
			m.mask&(1<<13) != 0 && bus > lim || m.mask&(1<<12) != 0 && bus < lim ||
			m.mask&(1<<11) != 0 && power > lim
		if alert {
			me |= 1 << 4
		}
		return me, true
	case 0x07:
		return m.alertLim, true
	case 0xfe:
		return 0x5449, true
	case 0xff:
		return 0x2260, true
	}
	return 0, false
}

func (m *ina226Model) write(reg byte, v uint16) bool {
	switch reg {
	case 0x00:
		if v&0x8000 != 0 { // reset
			m.config, m.cal, m.mask, m.alertLim = 0x4127, 0, 0, 0
			return true
		}
		m.config = v&0x0fff | 0x4000
	case 0x05:
		m.cal = v & 0x7fff
	case 0x06:
		m.mask = v
	case 0x07:
		m.alertLim = v
	default:
		return false
	}
	return true
}

// tmp117Model is a TMP117: 7.8125 m°C per count of the die temperature the thermal model
// gives.
type tmp117Model struct {
	ptr                    byte
	config, high, low, off uint16
}

// tmp117Raw is what the TMP117 reads at tempC.
func tmp117Raw(tempC float64) int16 {
	return int16(max(-32768, min(32767, math.Round(tempC/0.0078125))))
}

// tmp117MilliC converts a reading to m°C.
func tmp117MilliC(raw int16) int32 { return int32(raw) * 78125 / 10000 }

func (m *tmp117Model) read(reg byte, s *sensors, f SensorFault) (uint16, bool) {
	raw := tmp117Raw(s.tempC)
	switch reg {
	case 0x00:
		if f == SensorBadValue {
			return 0x8000, true
		}
		return uint16(raw), true
	case 0x01:
		c := m.config | 1<<13 // data ready
		if raw > int16(m.high) {
			c |= 1 << 15
		}
		if raw < int16(m.low) {
			c |= 1 << 14
		}
		return c, true
	case 0x02:
		return m.high, true
	case 0x03:
		return m.low, true
	case 0x07:
		return m.off, true
	case 0x0f:
		return 0x0117, true
	}
	return 0, false
}

func (m *tmp117Model) write(reg byte, v uint16) bool {
	switch reg {
	case 0x01:
		m.config = v & 0x0ffc
	case 0x02:
		m.high = v
	case 0x03:
		m.low = v
	case 0x07:
		m.off = v
	default:
		return false
	}
	return true
}
