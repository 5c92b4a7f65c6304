package board

import (
	"errors"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The bus commands: the host's raw transactions on the flash's SPI controller and the sensor
// I²C bus, STATS, and SENSORS as the firmware reads it through its drivers.

func (e *engine) busCmd(c regmap.Command) {
	b := e.b
	switch c.Op {
	case regmap.OpSPIXfer:
		a, err := regmap.DecodeSPIXferArgs(c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
		case a.Bus != regmap.SPIBusFlash:
			e.fail(c, regmap.ResultRange, "SPI_XFER: no SPI bus %d (0 is the flash's)", a.Bus)
		case b.fl.active:
			e.fail(c, regmap.ResultBadState, "SPI_XFER inside FLASH_BEGIN…FLASH_END")
		case a.Flags&regmap.SPIFlagRead != 0 && int(a.Length) > e.l.Payload-regmap.CompletionHeaderSize:
			e.fail(c, regmap.ResultRange, "SPI_XFER: a %d-byte read does not fit a completion (CAP_PAYLOAD %d)", a.Length, e.l.Payload)
		default:
			tx := make([]byte, a.Length)
			copy(tx, a.Tx)
			var rx []byte
			if a.Flags&regmap.SPIFlagRead != 0 {
				rx = make([]byte, a.Length)
			}
			keep := a.Flags&regmap.SPIFlagKeepCS != 0
			b.flash.Transfer(tx, rx, keep)
			b.hostCS = keep
			e.complete(c, regmap.ResultOK, rx)
		}
	case regmap.OpI2CXfer:
		a, err := regmap.DecodeI2CXferArgs(c.Args)
		switch {
		case err != nil:
			e.fail(c, regmap.ResultBadArgs, "%v", err)
		case a.Bus != regmap.I2CBusSense:
			e.fail(c, regmap.ResultRange, "I2C_XFER: no I²C bus %d (0 is the sensors')", a.Bus)
		default:
			r := make([]byte, a.Read)
			if err := b.i2c.Tx(a.Addr, a.Write, r); err != nil {
				if errors.Is(err, ErrNack) {
					e.fail(c, regmap.ResultNack, "I2C_XFER: %v", err)
				} else {
					e.fail(c, regmap.ResultInternal, "I2C_XFER: %v", err)
				}
				return
			}
			e.complete(c, regmap.ResultOK, r)
		}
	case regmap.OpStats:
		if len(c.Args) != 0 {
			e.fail(c, regmap.ResultBadArgs, "STATS takes no arguments, got %d bytes", len(c.Args))
			return
		}
		st := b.sens.total
		st.Reboots = b.reboots
		for i, f := range []interface{ Fill() (int, int) }{e.l.Cmd, e.l.Cpl, e.l.SpkIn, e.l.Out} {
			u, n := f.Fill()
			st.RingUsed[i], st.RingSize[i] = uint32(u), uint32(n)
		}
		e.complete(c, regmap.ResultOK, st.Append(nil))
	}
}

func (e *engine) sensorsCmd(c regmap.Command) {
	s, err := e.b.sens.read(e.b.mons, e.b.temp)
	if err != nil {
		e.fail(c, regmap.ResultInternal, "SENSORS: %v", err)
		return
	}
	e.complete(c, regmap.ResultOK, s.Append(nil))
}

// FaultSensor makes the part at an address on the sensor bus misbehave (tests).
func (b *Board) FaultSensor(addr uint16, f SensorFault) { b.i2c.fault(addr, f) }
