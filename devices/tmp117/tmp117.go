// Package tmp117 drives TI's TMP117 digital temperature sensor (±0.1 °C, 7.8125 m°C per count)
// on a periph.io i2c.Bus: identity, averaging and conversion cycle, the temperature, and the
// high and low alert limits, in the style of periph's device drivers.
package tmp117

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Registers.
const (
	RegTemp     = 0x00 // signed, 7.8125 m°C
	RegConfig   = 0x01
	RegHigh     = 0x02
	RegLow      = 0x03
	RegDeviceID = 0x0F // bits 11..0: 0x117

	DeviceID = 0x117
	// Invalid is what the temperature register holds before the first conversion.
	Invalid = 0x8000

	ConfigHighAlert = 1 << 15
	ConfigLowAlert  = 1 << 14
	ConfigReady     = 1 << 13
)

// LSB is one count of the temperature registers: 7.8125 m°C.
const LSB = 7812500 * physic.NanoKelvin

// The part's operating range; a reading outside it is refused.
var (
	MinTemp = physic.ZeroCelsius - 55*physic.Celsius
	MaxTemp = physic.ZeroCelsius + 150*physic.Celsius
)

// Sentinel errors; errors read "tmp117: ..." and wrap one of them or the bus's error.
var (
	ErrNotTMP117 = errors.New("tmp117: not a TMP117")
	ErrConfig    = errors.New("tmp117: bad configuration")
	ErrNotReady  = errors.New("tmp117: no conversion yet")
	ErrRange     = errors.New("tmp117: reading out of range")
)

// Averages the part offers (AVG field).
var Averages = []int{1, 8, 32, 64}

// Opts configures New.
type Opts struct {
	Addr    uint16 // 7-bit address, default 0x48
	Average int    // samples averaged per conversion, one of Averages; default 8 (the part's)
	// Cycle is the conversion cycle field (CONV, 0..7: 15.5 ms to 16 s at 1×); default 4 (1 s).
	Cycle int
}

// Dev is one TMP117.
type Dev struct {
	d    i2c.Dev
	opts Opts
}

// New checks the device id and configures continuous conversion.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := Opts{Average: 8, Cycle: 4}
	if opts != nil {
		o = *opts
	}
	if o.Addr == 0 {
		o.Addr = 0x48
	}
	if o.Average == 0 {
		o.Average = 8
	}
	avg := -1
	for i, a := range Averages {
		if a == o.Average {
			avg = i
		}
	}
	if avg < 0 || o.Cycle < 0 || o.Cycle > 7 {
		return nil, fmt.Errorf("tmp117: averaging %d, cycle %d: %w", o.Average, o.Cycle, ErrConfig)
	}
	d := &Dev{d: i2c.Dev{Bus: bus, Addr: o.Addr}, opts: o}
	id, err := d.read(RegDeviceID)
	if err != nil {
		return nil, err
	}
	if id&0x0fff != DeviceID {
		return nil, fmt.Errorf("tmp117: %s: device id %#04x: %w", d.d.String(), id, ErrNotTMP117)
	}
	if err := d.write(RegConfig, uint16(o.Cycle)<<7|uint16(avg)<<5); err != nil {
		return nil, err
	}
	return d, nil
}

// String names the part and its address.
func (d *Dev) String() string { return "TMP117 at " + d.d.String() }

// Halt does nothing (conn.Resource).
func (d *Dev) Halt() error { return nil }

func (d *Dev) read(reg byte) (uint16, error) {
	var r [2]byte
	if err := d.d.Tx([]byte{reg}, r[:]); err != nil {
		return 0, fmt.Errorf("tmp117: %s: read register %#02x: %w", d.d.String(), reg, err)
	}
	return uint16(r[0])<<8 | uint16(r[1]), nil
}

func (d *Dev) write(reg byte, v uint16) error {
	if err := d.d.Tx([]byte{reg, byte(v >> 8), byte(v)}, nil); err != nil {
		return fmt.Errorf("tmp117: %s: write register %#02x: %w", d.d.String(), reg, err)
	}
	return nil
}

// ToTemperature converts a register value.
func ToTemperature(raw uint16) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(int16(raw))*LSB
}

// FromTemperature converts a temperature to a register value (rounded toward zero), and
// false when it does not fit.
func FromTemperature(t physic.Temperature) (uint16, bool) {
	c := (t - physic.ZeroCelsius) / LSB
	if c < -32768 || c > 32767 {
		return 0, false
	}
	return uint16(int16(c)), true
}

// Sense reads the temperature.
func (d *Dev) Sense() (physic.Temperature, error) {
	raw, err := d.read(RegTemp)
	if err != nil {
		return 0, err
	}
	if raw == Invalid {
		return 0, fmt.Errorf("tmp117: %s: %w", d.d.String(), ErrNotReady)
	}
	t := ToTemperature(raw)
	if t < MinTemp || t > MaxTemp {
		return t, fmt.Errorf("tmp117: %s: %v outside %v..%v: %w", d.d.String(), t, MinTemp, MaxTemp, ErrRange)
	}
	return t, nil
}

// SetLimits sets the low and high alert limits.
func (d *Dev) SetLimits(low, high physic.Temperature) error {
	l, ok1 := FromTemperature(low)
	h, ok2 := FromTemperature(high)
	if !ok1 || !ok2 || low > high {
		return fmt.Errorf("tmp117: %s: limits %v..%v: %w", d.d.String(), low, high, ErrConfig)
	}
	if err := d.write(RegLow, l); err != nil {
		return err
	}
	return d.write(RegHigh, h)
}

// Alerts reads the high and low alert flags (reading clears them, as on the part).
func (d *Dev) Alerts() (high, low bool, err error) {
	c, err := d.read(RegConfig)
	if err != nil {
		return false, false, err
	}
	return c&ConfigHighAlert != 0, c&ConfigLowAlert != 0, nil
}
