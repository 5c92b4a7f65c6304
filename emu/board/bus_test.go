package board

import (
	"testing"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/ina226"
	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/devices/tmp117"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/flash/flashtest"
)

// The SPI NOR driver over the flash model's bus is a NOR flash as package flash expects,
// and the model answers with its part's id and SFDP.
func TestFlashModelOverSPI(t *testing.T) {
	flashtest.TestDevice(t, func(t *testing.T) flash.Device {
		f, err := NewFlash(8192)
		require.NoError(t, err)
		d, err := spinor.New(flashConn{f}, nil)
		require.NoError(t, err)
		require.True(t, d.HasSFDP())
		require.Equal(t, spinor.JEDECID(regmap.FlashParts[regmap.EmulatedFlash].JEDEC), d.ID())
		return d
	})
	// A 32 MiB part answers 4-byte opcodes; what the driver writes above 16 MiB lands there.
	f, err := NewFlash(8 << 20)
	require.NoError(t, err)
	require.Equal(t, 32<<20, f.Part().Size)
	d, err := spinor.New(flashConn{f}, nil)
	require.NoError(t, err)
	require.NoError(t, d.Erase(20<<20, 4096))
	require.NoError(t, d.Program(20<<20+250, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))
	require.Equal(t, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, f.Bytes()[20<<20+250:][:10])
	b := make([]byte, 10)
	require.NoError(t, d.Read(20<<20+250, b))
	require.Equal(t, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, b)
}

func TestFlashModelProtocol(t *testing.T) {
	f, err := NewFlash(8192)
	require.NoError(t, err)
	c := flashConn{f}
	status := func() byte {
		r := make([]byte, 2)
		require.NoError(t, c.Tx([]byte{regmap.SPINorRDSR, 0}, r))
		return r[1]
	}
	// Program without WREN is ignored.
	require.NoError(t, c.Tx([]byte{regmap.SPINorPP, 0, 0, 0, 0x00}, nil))
	require.Equal(t, byte(0xff), f.Bytes()[0])
	// WREN sets WEL; a page program wraps within its page; WIP is seen, then clears.
	require.NoError(t, c.Tx([]byte{regmap.SPINorWREN}, nil))
	require.Equal(t, byte(regmap.SPINorStatusWEL), status())
	require.NoError(t, c.Tx([]byte{regmap.SPINorPP, 0, 0, 0xff, 0x11, 0x22}, nil))
	require.Equal(t, byte(regmap.SPINorStatusWIP), status(), "busy, and WEL cleared")
	require.Zero(t, status())
	require.Equal(t, []byte{0x22}, f.Bytes()[0:1], "the second byte wrapped to the page's start")
	require.Equal(t, byte(0x11), f.Bytes()[0xff])
	// A read across a transfer split with KEEP_CS is one transaction.
	r1, r2 := make([]byte, 4), make([]byte, 1)
	require.NoError(t, c.TxPackets([]spi.Packet{{W: []byte{regmap.SPINorRead, 0, 0, 0}, R: r1, KeepCS: true}, {W: []byte{0}, R: r2}}))
	require.Equal(t, byte(0x22), r2[0])
	require.False(t, f.Selected())
	// Reset: 4-byte mode and WEL go.
	require.NoError(t, c.Tx([]byte{regmap.SPINorWREN}, nil))
	require.NoError(t, c.Tx([]byte{regmap.SPINorResetEn}, nil))
	require.NoError(t, c.Tx([]byte{regmap.SPINorReset}, nil))
	require.Zero(t, status())
	// A stuck part never clears WIP: the driver times out.
	d, err := spinor.New(c, &spinor.Opts{EraseTimeout: 1})
	require.NoError(t, err)
	f.SetStuck(true)
	require.ErrorIs(t, d.Erase(0, 4096), spinor.ErrWriteEnable, "WIP set: write enable is refused")
	f.SetStuck(false)
	// Power cut: the operation at the cut does not apply; then the part is gone.
	f.CutPowerAfter(0, false)
	require.Error(t, d.Program(4096, []byte{0}))
	require.True(t, f.PoweredOff())
	require.Equal(t, byte(0xff), f.Bytes()[4096])
	require.ErrorIs(t, c.Tx([]byte{regmap.SPINorRDSR, 0}, make([]byte, 2)), ErrPowerCut)
	f.PowerOn()
	require.NoError(t, d.Program(4096, []byte{0}))
	require.Zero(t, f.Bytes()[4096])
}

// The sensors read through the host's drivers on the board's bus agree with SENSORS, and
// the bus misbehaves as asked.
func TestSensorBus(t *testing.T) {
	b, err := New(Opts{})
	require.NoError(t, err)
	defer b.Close()
	s, err := b.sens.read(b.mons, b.temp)
	require.NoError(t, err)
	require.Len(t, s.Rails, regmap.NumRails)
	for _, p := range regmap.SensorParts {
		if p.Part != "INA226" {
			continue
		}
		m, err := ina226.New(b.i2c, &ina226.Opts{Addr: p.Addr, Shunt: physic.ElectricResistance(p.ShuntNanoOhm()), MaxCurrent: physic.ElectricCurrent(p.MaxCurrentNanoAmp())})
		require.NoError(t, err, p.Name)
		pm, err := m.Sense()
		require.NoError(t, err, p.Name)
		r := s.Rails[p.Rail]
		require.Equal(t, r.BusUV, uint32(pm.Bus/physic.MicroVolt), p.Name)
		require.Equal(t, r.CurrentUA, int32(pm.Current/physic.MicroAmpere), p.Name)
		require.Equal(t, r.PowerUW, uint32(pm.Power/physic.MicroWatt), p.Name)
		require.Positive(t, r.PowerUW, p.Name)
		// The nominal voltage less the load line: 0.85 V on the core rail, 1.8 V on I/O, 1.2 V on DDR.
		require.InDelta(t, b.sens.pm.NominalV[p.Rail], float64(pm.Bus)/1e9, 0.02, p.Name)
	}
	tm, err := tmp117.New(b.i2c, nil)
	require.NoError(t, err)
	temp, err := tm.Sense()
	require.NoError(t, err)
	require.Equal(t, s.TemperatureMC, int32((temp-physic.ZeroCelsius)/physic.MilliCelsius))

	b.FaultSensor(0x48, SensorBadValue)
	_, err = tm.Sense()
	require.ErrorIs(t, err, tmp117.ErrNotReady)
	b.FaultSensor(0x48, SensorAbsent)
	_, err = tm.Sense()
	require.ErrorIs(t, err, ErrNack)
	require.ErrorIs(t, b.i2c.Tx(0x33, []byte{0}, nil), ErrNack, "no part there")
}
