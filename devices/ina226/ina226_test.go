package ina226

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

const addr = 0x41

func rd(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{reg}, R: []byte{byte(v >> 8), byte(v)}}
}

func wr(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{reg, byte(v >> 8), byte(v)}}
}

// probe is what New sends to the part at addr for a 10 mΩ shunt and 3.2768 A: ids, config
// (averaging 16, 1.1 ms and 588 µs, continuous), calibration 5120.
func probe() []i2ctest.IO {
	return []i2ctest.IO{rd(RegManufacture, 0x5449), rd(RegDieID, 0x2260),
		wr(RegConfig, 0x4000|2<<9|4<<6|3<<3|7), wr(RegCalibration, 5120)}
}

func open(t *testing.T, ops []i2ctest.IO) (*Dev, *i2ctest.Playback) {
	p := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := New(p, &Opts{Addr: addr, Shunt: 10 * physic.MilliOhm, MaxCurrent: 3276800 * physic.MicroAmpere,
		Average: 16, ShuntConversion: 588 * time.Microsecond})
	require.NoError(t, err)
	return d, p
}

func TestSense(t *testing.T) {
	// 1.8 V bus (1440 counts), 4 mV shunt (1600 counts): 0.4 A, and 0.72 W.
	d, p := open(t, append(probe(),
		rd(RegBus, 1440), rd(RegShunt, 1600), rd(RegCurrent, 4000), rd(RegPower, 288), rd(RegMaskEnable, MaskReady)))
	require.Equal(t, uint16(5120), d.Calibration())
	require.Equal(t, 100*physic.MicroAmpere, d.CurrentLSB())
	pm, err := d.Sense()
	require.NoError(t, err)
	require.Equal(t, PowerMonitor{Bus: 1800 * physic.MilliVolt, Shunt: 4 * physic.MilliVolt, Current: 400 * physic.MilliAmpere, Power: 720 * physic.MilliWatt}, pm)
	require.NoError(t, p.Close())
	require.Contains(t, d.String(), "INA226")
	require.NoError(t, d.Halt())
}

func TestNegativeCurrent(t *testing.T) {
	d, _ := open(t, append(probe(),
		rd(RegBus, 1000), rd(RegShunt, 0xffff-99), rd(RegCurrent, 0xffff-249), rd(RegPower, 31), rd(RegMaskEnable, 0)))
	pm, err := d.Sense()
	require.NoError(t, err)
	require.Equal(t, -250*physic.MicroVolt, pm.Shunt)
	require.Equal(t, -25*physic.MilliAmpere, pm.Current)
}

func TestOutOfRange(t *testing.T) {
	for name, ops := range map[string][]i2ctest.IO{
		"bus bit 15": {rd(RegBus, 0x8001), rd(RegShunt, 0), rd(RegCurrent, 0), rd(RegPower, 0), rd(RegMaskEnable, 0)},
		"bus > 36 V": {rd(RegBus, 0x7fff), rd(RegShunt, 0), rd(RegCurrent, 0), rd(RegPower, 0), rd(RegMaskEnable, 0)},
		"overflow":   {rd(RegBus, 100), rd(RegShunt, 0), rd(RegCurrent, 0), rd(RegPower, 0), rd(RegMaskEnable, MaskOverflow)},
	} {
		d, _ := open(t, append(probe(), ops...))
		_, err := d.Sense()
		require.ErrorIs(t, err, ErrRange, name)
	}
}

func TestAlerts(t *testing.T) {
	d, p := open(t, append(probe(),
		wr(RegAlertLimit, 2000), wr(RegMaskEnable, MaskShuntOver), // 0.5 A × 10 mΩ = 5 mV = 2000 counts
		wr(RegAlertLimit, 960), wr(RegMaskEnable, MaskBusUnder), // 1.2 V
		wr(RegAlertLimit, 400), wr(RegMaskEnable, MaskPowerOver), // 1 W / 2.5 mW
		rd(RegMaskEnable, MaskPowerOver|MaskAlertFlag),
		wr(RegMaskEnable, 0)))
	require.NoError(t, d.SetCurrentLimit(500*physic.MilliAmpere))
	require.NoError(t, d.SetBusLimit(AlertBusUnder, 1200*physic.MilliVolt))
	require.NoError(t, d.SetPowerLimit(physic.Watt))
	a, err := d.Alerted()
	require.NoError(t, err)
	require.True(t, a)
	require.NoError(t, d.ClearAlert())
	require.NoError(t, p.Close())
	require.ErrorIs(t, d.SetBusLimit(AlertPowerOver, physic.Volt), ErrConfig)
	require.ErrorIs(t, d.SetCurrentLimit(100*physic.Ampere), ErrConfig)
}

func TestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		ops  []i2ctest.IO
		opts Opts
		err  error
	}{
		"not an INA226": {[]i2ctest.IO{rd(RegManufacture, 0x5449), rd(RegDieID, 0x2191)}, Opts{Addr: addr}, ErrNotINA226},
		"averaging":     {nil, Opts{Addr: addr, Average: 3}, ErrConfig},
		"conversion":    {nil, Opts{Addr: addr, BusConversion: time.Millisecond}, ErrConfig},
		"calibration":   {nil, Opts{Addr: addr, Shunt: physic.MilliOhm, MaxCurrent: 10 * physic.MilliAmpere}, ErrConfig},
		"negative":      {nil, Opts{Addr: addr, Shunt: -physic.Ohm}, ErrConfig},
	} {
		p := &i2ctest.Playback{Ops: tc.ops, DontPanic: true}
		_, err := New(p, &tc.opts)
		require.ErrorIs(t, err, tc.err, name)
	}
	// A NACK (nothing at the address) is the bus's error, wrapped.
	p := &i2ctest.Playback{DontPanic: true}
	_, err := New(p, &Opts{Addr: addr})
	require.Error(t, err)
	require.Contains(t, err.Error(), "ina226: ")
}
