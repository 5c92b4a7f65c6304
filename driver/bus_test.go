package driver

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/ina226"
	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/devices/tmp117"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// The host's SPI NOR driver on the board's SPI controller reads the slots the board wrote,
// and writes slots the board boots.
func TestSPIBusRunsTheFlashDriver(t *testing.T) {
	ctx := ctxT(t)
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	defer b.Close()
	d, err := openOn(ctx, b, Opts{})
	require.NoError(t, err)
	defer d.Close()
	nor, err := spinor.New(d.SPI(ctx, regmap.SPIBusFlash), nil)
	require.NoError(t, err)
	require.Equal(t, spinor.JEDECID(b.Flash().Part().JEDEC), nor.ID())
	require.Equal(t, b.Flash().Part().Size, nor.Size())
	slots, err := flash.NewSlots(nor, flash.Opts{SlotSize: b.Flash().SlotSize()})
	require.NoError(t, err)
	st, ok := slots.Boot()
	require.True(t, ok)
	require.Equal(t, flash.Golden, st.Slot)
	require.Equal(t, board.DefaultFirmware, st.Header.Version)

	fw := bytes.Repeat([]byte("host-written "), 3000)
	v := regmap.MakeFWVersion(4, 2, 0)
	_, err = slots.Write(flash.B, v, fw)
	require.NoError(t, err)
	info, err := d.Reboot(ctx)
	require.NoError(t, err)
	require.Equal(t, v, info.Firmware)
	require.Equal(t, regmap.SlotB, info.FirmwareSlot)
	fi, err := d.FlashInfo(ctx)
	require.NoError(t, err)
	require.True(t, fi.Slots[regmap.SlotB].Valid)

	// A transaction held open with KEEP_CS blocks the board's own flash commands.
	c := d.SPI(ctx, regmap.SPIBusFlash)
	r := make([]byte, 4)
	require.NoError(t, c.TxPackets([]spi.Packet{{W: []byte{regmap.SPINorReadID}, R: r[:1], KeepCS: true}}))
	_, err = d.FlashInfo(ctx)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, regmap.ResultBadState, ce.Result)
	require.NoError(t, c.TxPackets([]spi.Packet{{W: []byte{0, 0, 0}, R: r[1:]}}))
	id := b.Flash().Part().JEDEC
	require.Equal(t, id[:], r[1:])
	_, err = d.FlashInfo(ctx)
	require.NoError(t, err)
	require.Error(t, c.Tx(make([]byte, 1<<20), nil), "larger than a command")
}

// The INA226 and TMP117 drivers on the board's I²C bus read what SENSORS reports; a part
// that does not answer is a NACK; a reading out of range is refused.
func TestI2CBusRunsTheSensorDrivers(t *testing.T) {
	ctx := ctxT(t)
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	defer b.Close()
	d, err := openOn(ctx, b, Opts{})
	require.NoError(t, err)
	defer d.Close()
	s, err := d.Sensors(ctx)
	require.NoError(t, err)
	bus := d.I2C(ctx, regmap.I2CBusSense)
	for _, p := range regmap.SensorParts {
		if p.Part != "INA226" {
			continue
		}
		m, err := ina226.New(bus, &ina226.Opts{Addr: p.Addr, Shunt: physic.ElectricResistance(p.ShuntNanoOhm()), MaxCurrent: physic.ElectricCurrent(p.MaxCurrentNanoAmp())})
		require.NoError(t, err)
		pm, err := m.Sense()
		require.NoError(t, err)
		require.Equal(t, s.Rails[p.Rail].Power, Power(pm.Power/physic.MicroWatt), p.Name)
		require.Equal(t, s.Rails[p.Rail].Voltage, Voltage(pm.Bus/physic.MicroVolt), p.Name)
	}
	tm, err := tmp117.New(bus, nil)
	require.NoError(t, err)
	temp, err := tm.Sense()
	require.NoError(t, err)
	require.Equal(t, s.Temperature, Temperature((temp-physic.ZeroCelsius)/physic.MilliCelsius))

	b.FaultSensor(0x41, board.SensorAbsent)
	_, err = ina226.New(bus, &ina226.Opts{Addr: 0x41})
	require.ErrorIs(t, err, ErrNack)
	require.ErrorIs(t, err, ErrDevice)
	b.FaultSensor(0x48, board.SensorBadValue)
	_, err = tm.Sense()
	require.ErrorIs(t, err, tmp117.ErrNotReady)
	require.Error(t, bus.Tx(0x80, []byte{0}, nil), "not a 7-bit address")
	_, err = d.Sensors(ctx)
	require.Error(t, err, "the board's own reading fails too")
	require.True(t, errors.Is(err, ErrDevice))

	st, err := d.Stats(ctx)
	require.NoError(t, err)
	require.Len(t, st.Rings, regmap.NumRings)
	require.Equal(t, uint32(1), st.Reboots)
	require.Positive(t, st.Rings[regmap.RingCmd].Capacity)
}
