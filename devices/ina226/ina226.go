// Package ina226 drives TI's INA226 current and power monitor on a periph.io i2c.Bus:
// configuration (averaging, conversion times, mode), calibration from the shunt resistor and
// the largest expected current, bus and shunt voltage, current, power, and the alert limit,
// in the style of periph's ina219 driver.
package ina226

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Registers.
const (
	RegConfig      = 0x00
	RegShunt       = 0x01 // signed, 2.5 µV LSB
	RegBus         = 0x02 // 1.25 mV LSB, bit 15 always 0
	RegPower       = 0x03 // 25 × current LSB
	RegCurrent     = 0x04 // signed, current LSB
	RegCalibration = 0x05
	RegMaskEnable  = 0x06
	RegAlertLimit  = 0x07
	RegManufacture = 0xFE // 0x5449, "TI"
	RegDieID       = 0xFF // 0x2260: device 0x226, revision 0

	ManufacturerTI = 0x5449
	DieID          = 0x226 // bits 15..4 of RegDieID

	ShuntLSB = 2500 * physic.NanoVolt
	BusLSB   = 1250 * physic.MicroVolt
	// MaxBus is the highest bus voltage the part measures within its datasheet (36 V).
	MaxBus = 36 * physic.Volt
)

// Mask/Enable bits.
const (
	MaskShuntOver  = 1 << 15
	MaskShuntUnder = 1 << 14
	MaskBusOver    = 1 << 13
	MaskBusUnder   = 1 << 12
	MaskPowerOver  = 1 << 11
	MaskAlertFlag  = 1 << 4 // AFF: the alert condition occurred
	MaskReady      = 1 << 3 // CVRF: a conversion is ready
	MaskOverflow   = 1 << 2 // OVF: the current or power arithmetic overflowed
)

// Sentinel errors; errors read "ina226: ..." and wrap one of them or the bus's error.
var (
	// ErrNotINA226: the ids at the address are not an INA226's.
	ErrNotINA226 = errors.New("ina226: not an INA226")
	// ErrConfig: options the part cannot take (a calibration out of its 15 bits, an averaging
	// count or conversion time it does not have).
	ErrConfig = errors.New("ina226: bad configuration")
	// ErrRange: a reading the part cannot have given (a bus voltage over 36 V, an arithmetic
	// overflow flagged by the part).
	ErrRange = errors.New("ina226: reading out of range")
)

// Conversion times the part offers.
var ConversionTimes = []time.Duration{140 * time.Microsecond, 204 * time.Microsecond, 332 * time.Microsecond,
	588 * time.Microsecond, 1100 * time.Microsecond, 2116 * time.Microsecond, 4156 * time.Microsecond, 8244 * time.Microsecond}

// Averages the part offers.
var Averages = []int{1, 4, 16, 64, 128, 256, 512, 1024}

// Opts configures New. The zero value of a field means its default.
type Opts struct {
	Addr uint16 // 7-bit address, default 0x40
	// Shunt is the shunt resistor, default 100 mΩ.
	Shunt physic.ElectricResistance
	// MaxCurrent is the largest current expected: the current LSB is MaxCurrent / 2^15.
	// Default 3.2768 A (a 100 µA LSB).
	MaxCurrent physic.ElectricCurrent
	// Average is how many samples the part averages, one of Averages; default 1.
	Average int
	// BusConversion and ShuntConversion are the conversion times, among ConversionTimes;
	// default 1.1 ms.
	BusConversion, ShuntConversion time.Duration
}

// Dev is one INA226.
type Dev struct {
	d          i2c.Dev
	opts       Opts
	currentLSB physic.ElectricCurrent
	cal        uint16
	config     uint16
}

func index[T comparable](list []T, v T) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

// New checks the part's ids, then configures it (continuous shunt and bus conversions) and
// writes the calibration.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := Opts{}
	if opts != nil {
		o = *opts
	}
	if o.Addr == 0 {
		o.Addr = 0x40
	}
	if o.Shunt == 0 {
		o.Shunt = 100 * physic.MilliOhm
	}
	if o.MaxCurrent == 0 {
		o.MaxCurrent = 3276800 * physic.MicroAmpere
	}
	if o.Average == 0 {
		o.Average = 1
	}
	if o.BusConversion == 0 {
		o.BusConversion = 1100 * time.Microsecond
	}
	if o.ShuntConversion == 0 {
		o.ShuntConversion = 1100 * time.Microsecond
	}
	avg, bct, sct := index(Averages, o.Average), index(ConversionTimes, o.BusConversion), index(ConversionTimes, o.ShuntConversion)
	if avg < 0 || bct < 0 || sct < 0 {
		return nil, fmt.Errorf("ina226: averaging %d, conversion times %v and %v: %w", o.Average, o.BusConversion, o.ShuntConversion, ErrConfig)
	}
	if o.Shunt <= 0 || o.MaxCurrent <= 0 {
		return nil, fmt.Errorf("ina226: shunt %v, max current %v: %w", o.Shunt, o.MaxCurrent, ErrConfig)
	}
	lsb := o.MaxCurrent / 32768
	// CAL = 0.00512 / (current LSB × shunt), with both in nano units.
	prod := float64(lsb) * float64(o.Shunt)
	cal := int64(5.12e15 / prod)
	if lsb <= 0 || cal < 1 || cal > 0x7fff {
		return nil, fmt.Errorf("ina226: shunt %v with a current LSB of %v needs calibration %d, outside 1..32767: %w", o.Shunt, lsb, cal, ErrConfig)
	}
	d := &Dev{d: i2c.Dev{Bus: bus, Addr: o.Addr}, opts: o, currentLSB: lsb, cal: uint16(cal)}
	m, err := d.read(RegManufacture)
	if err != nil {
		return nil, err
	}
	id, err := d.read(RegDieID)
	if err != nil {
		return nil, err
	}
	if m != ManufacturerTI || id>>4 != DieID {
		return nil, fmt.Errorf("ina226: %s: manufacturer %#04x, die id %#04x: %w", d.d.String(), m, id, ErrNotINA226)
	}
	d.config = 0x4000 | uint16(avg)<<9 | uint16(bct)<<6 | uint16(sct)<<3 | 7
	if err := d.write(RegConfig, d.config); err != nil {
		return nil, err
	}
	if err := d.write(RegCalibration, d.cal); err != nil {
		return nil, err
	}
	return d, nil
}

// String names the part and its address.
func (d *Dev) String() string { return "INA226 at " + d.d.String() }

// Halt does nothing: the part converts continuously (conn.Resource).
func (d *Dev) Halt() error { return nil }

// CurrentLSB returns the current one count stands for.
func (d *Dev) CurrentLSB() physic.ElectricCurrent { return d.currentLSB }

// Calibration returns the calibration register's value.
func (d *Dev) Calibration() uint16 { return d.cal }

func (d *Dev) read(reg byte) (uint16, error) {
	var r [2]byte
	if err := d.d.Tx([]byte{reg}, r[:]); err != nil {
		return 0, fmt.Errorf("ina226: %s: read register %#02x: %w", d.d.String(), reg, err)
	}
	return uint16(r[0])<<8 | uint16(r[1]), nil
}

func (d *Dev) write(reg byte, v uint16) error {
	if err := d.d.Tx([]byte{reg, byte(v >> 8), byte(v)}, nil); err != nil {
		return fmt.Errorf("ina226: %s: write register %#02x: %w", d.d.String(), reg, err)
	}
	return nil
}

// PowerMonitor is one reading.
type PowerMonitor struct {
	Bus     physic.ElectricPotential // bus voltage
	Shunt   physic.ElectricPotential // voltage across the shunt
	Current physic.ElectricCurrent
	Power   physic.Power
}

// Sense reads bus and shunt voltage, current and power.
func (d *Dev) Sense() (PowerMonitor, error) {
	var raw [4]uint16
	for i, reg := range []byte{RegBus, RegShunt, RegCurrent, RegPower} {
		v, err := d.read(reg)
		if err != nil {
			return PowerMonitor{}, err
		}
		raw[i] = v
	}
	me, err := d.read(RegMaskEnable)
	if err != nil {
		return PowerMonitor{}, err
	}
	p := PowerMonitor{
		Bus:     physic.ElectricPotential(raw[0]) * BusLSB,
		Shunt:   physic.ElectricPotential(int16(raw[1])) * ShuntLSB,
		Current: physic.ElectricCurrent(int16(raw[2])) * d.currentLSB,
		Power:   physic.Power(raw[3]) * 25 * physic.Power(d.currentLSB),
	}
	switch {
	case raw[0]&0x8000 != 0 || p.Bus > MaxBus:
		return p, fmt.Errorf("ina226: %s: bus voltage %v (register %#04x) above %v: %w", d.d.String(), p.Bus, raw[0], MaxBus, ErrRange)
	case me&MaskOverflow != 0:
		return p, fmt.Errorf("ina226: %s: current or power overflowed (mask/enable %#04x): %w", d.d.String(), me, ErrRange)
	}
	return p, nil
}

// Alert is the condition the ALERT pin watches; the part watches one at a time.
type Alert uint16

// Alert conditions.
const (
	AlertNone       Alert = 0
	AlertShuntOver  Alert = MaskShuntOver
	AlertShuntUnder Alert = MaskShuntUnder
	AlertBusOver    Alert = MaskBusOver
	AlertBusUnder   Alert = MaskBusUnder
	AlertPowerOver  Alert = MaskPowerOver
)

// SetCurrentLimit alerts when the current goes over limit (a shunt over-voltage limit).
func (d *Dev) SetCurrentLimit(limit physic.ElectricCurrent) error {
	v := int64(limit) * int64(d.opts.Shunt) / int64(physic.Ohm) // nA × nΩ / 1e9 = nV
	return d.setAlert(AlertShuntOver, v/int64(ShuntLSB), "current", limit.String())
}

// SetBusLimit alerts when the bus voltage goes over (AlertBusOver) or under
// (AlertBusUnder) limit.
func (d *Dev) SetBusLimit(kind Alert, limit physic.ElectricPotential) error {
	if kind != AlertBusOver && kind != AlertBusUnder {
		return fmt.Errorf("ina226: %s: bus limit of kind %#04x: %w", d.d.String(), uint16(kind), ErrConfig)
	}
	return d.setAlert(kind, int64(limit/BusLSB), "bus voltage", limit.String())
}

// SetPowerLimit alerts when the power goes over limit.
func (d *Dev) SetPowerLimit(limit physic.Power) error {
	return d.setAlert(AlertPowerOver, int64(limit)/(25*int64(d.currentLSB)), "power", limit.String())
}

// ClearAlert disables the alert.
func (d *Dev) ClearAlert() error { return d.write(RegMaskEnable, 0) }

func (d *Dev) setAlert(kind Alert, counts int64, what, limit string) error {
	if counts < 0 || counts > 0xffff || (kind != AlertPowerOver && kind != AlertBusOver && kind != AlertBusUnder && counts > 0x7fff) {
		return fmt.Errorf("ina226: %s: %s limit %s does not fit the limit register: %w", d.d.String(), what, limit, ErrConfig)
	}
	if err := d.write(RegAlertLimit, uint16(counts)); err != nil {
		return err
	}
	return d.write(RegMaskEnable, uint16(kind))
}

// Alerted reports whether the alert condition occurred since the last look (reading the
// mask/enable register clears the flag, as on the part).
func (d *Dev) Alerted() (bool, error) {
	me, err := d.read(RegMaskEnable)
	if err != nil {
		return false, err
	}
	return me&MaskAlertFlag != 0, nil
}
