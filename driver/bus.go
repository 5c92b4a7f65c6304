package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The board's buses on periph.io (docs/regmap.md §11): SPI returns a spi.Conn on the flash's
// SPI controller, I2C an i2c.Bus on the sensor bus, each transfer one SPI_XFER or I2C_XFER
// command, so that device drivers (devices/spinor, ina226, tmp117) run here.

// ErrNack is wrapped by an I²C transfer that a target did not acknowledge (the board's NACK
// result); the error is also a *CommandError.
var ErrNack = errors.New("I²C NACK")

// busCtx bounds every bus transfer: each is a command, bounded by Opts.Timeout as well.
func (d *Device) busCtx(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// SPI returns a periph spi.Conn on SPI bus (regmap.SPIBusFlash is the configuration flash's).
// Its transfers go through ctx (nil: none) and Opts.Timeout. It implements conn.Limits: one
// transfer carries at most what a command and its completion hold.
func (d *Device) SPI(ctx context.Context, bus int) spi.Conn {
	return &spiConn{d: d, ctx: d.busCtx(ctx), bus: uint16(bus)}
}

type spiConn struct {
	d   *Device
	ctx context.Context
	bus uint16
}

func (c *spiConn) String() string      { return fmt.Sprintf("%s SPI%d", c.d.uri, c.bus) }
func (c *spiConn) Duplex() conn.Duplex { return conn.Full }

// MaxTxSize implements conn.Limits.
func (c *spiConn) MaxTxSize() int {
	return min(regmap.MaxSPIXfer, c.d.info.MaxPayload-regmap.CompletionHeaderSize-regmap.CommandHeaderSize-8)
}

// Tx implements conn.Conn: one full-duplex transfer of max(len(w), len(r)) bytes.
func (c *spiConn) Tx(w, r []byte) error {
	return c.xfer(w, r, false)
}

// TxPackets implements spi.Conn: a packet with KeepCS leaves chip select asserted for the
// next.
func (c *spiConn) TxPackets(p []spi.Packet) error {
	for i, pk := range p {
		if pk.BitsPerWord != 0 && pk.BitsPerWord != 8 {
			return errorf("%s: packet %d: %d bits per word, the controller does 8", c, i, pk.BitsPerWord)
		}
		if err := c.xfer(pk.W, pk.R, pk.KeepCS); err != nil {
			return err
		}
	}
	return nil
}

func (c *spiConn) xfer(w, r []byte, keep bool) error {
	n := max(len(w), len(r))
	if n > c.MaxTxSize() {
		return errorf("%s: a %d-byte transfer, more than %d", c, n, c.MaxTxSize())
	}
	// Trailing zeros need not travel: the board clocks them out itself.
	k := len(w)
	for k > 0 && w[k-1] == 0 {
		k--
	}
	a := regmap.SPIXferArgs{Bus: c.bus, Length: uint32(n), Tx: w[:k]}
	if keep {
		a.Flags |= regmap.SPIFlagKeepCS
	}
	if len(r) > 0 {
		a.Flags |= regmap.SPIFlagRead
	}
	release, err := c.d.enter()
	if err != nil {
		return err
	}
	defer release()
	cpl, err := c.d.do(c.ctx, regmap.OpSPIXfer, a.Append(nil))
	if err != nil {
		return err
	}
	want := 0
	if len(r) > 0 {
		want = n
	}
	if len(cpl.Data) != want {
		e := c.d.protoErr("SPI_XFER of %d bytes returned %d", want, len(cpl.Data))
		c.d.fail(e)
		return e
	}
	copy(r, cpl.Data)
	return nil
}

// I2C returns a periph i2c.Bus on I²C bus (regmap.I2CBusSense is the sensors'). A target
// that does not acknowledge gives an error wrapping ErrNack.
func (d *Device) I2C(ctx context.Context, bus int) i2c.Bus {
	return &i2cBus{d: d, ctx: d.busCtx(ctx), bus: uint16(bus)}
}

type i2cBus struct {
	d   *Device
	ctx context.Context
	bus uint16
}

func (b *i2cBus) String() string { return fmt.Sprintf("%s I2C%d", b.d.uri, b.bus) }

// SetSpeed implements i2c.Bus; the board's bus runs at its own speed.
func (b *i2cBus) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (b *i2cBus) Tx(addr uint16, w, r []byte) error {
	if addr > 0x7f || len(w) > regmap.MaxI2CXfer || len(r) > regmap.MaxI2CXfer || len(w)+len(r) == 0 {
		return errorf("%s: transfer to %#x of %d bytes out and %d in: not a 7-bit address or out of 1..%d", b, addr, len(w), len(r), regmap.MaxI2CXfer)
	}
	release, err := b.d.enter()
	if err != nil {
		return err
	}
	defer release()
	c, err := b.d.do(b.ctx, regmap.OpI2CXfer, regmap.I2CXferArgs{Bus: b.bus, Addr: addr, Read: uint32(len(r)), Write: w}.Append(nil))
	var ce *CommandError
	if errors.As(err, &ce) && ce.Result == regmap.ResultNack {
		return fmt.Errorf("%w: %w", err, ErrNack)
	}
	if err != nil {
		return err
	}
	if len(c.Data) != len(r) {
		e := b.d.protoErr("I2C_XFER of %d bytes returned %d", len(r), len(c.Data))
		b.d.fail(e)
		return e
	}
	copy(r, c.Data)
	return nil
}

// Stats is what STATS reports: the board's counters since boot and its rings' fill.
type Stats struct {
	Timesteps      uint64        `json:"timesteps"`
	SpikesOut      uint64        `json:"spikes_out"`
	SpikesIn       uint64        `json:"spikes_in"`
	NeuronUpdates  uint64        `json:"neuron_updates"`
	SynapticEvents uint64        `json:"synaptic_events"`
	ThrottleEvents uint32        `json:"throttle_events"`
	Reboots        uint32        `json:"reboots"`
	Busy           time.Duration `json:"busy_ns"`
	Rings          []RingFill    `json:"rings"`
}

// RingFill is how full one ring is.
type RingFill struct {
	Ring     string `json:"ring"`
	Used     int    `json:"used"`
	Capacity int    `json:"capacity"`
}

// Ratio returns Used/Capacity.
func (r RingFill) Ratio() float64 {
	if r.Capacity == 0 {
		return 0
	}
	return float64(r.Used) / float64(r.Capacity)
}

// Stats reads the board's counters (STATS).
func (d *Device) Stats(ctx context.Context) (Stats, error) {
	release, err := d.enter()
	if err != nil {
		return Stats{}, err
	}
	defer release()
	c, err := d.do(ctx, regmap.OpStats)
	if err != nil {
		return Stats{}, err
	}
	s, err := regmap.DecodeStats(c.Data)
	if err != nil {
		e := d.wireErr(err)
		d.fail(e)
		return Stats{}, e
	}
	out := Stats{Timesteps: s.Timesteps, SpikesOut: s.SpikesOut, SpikesIn: s.SpikesIn, NeuronUpdates: s.NeuronUpdates,
		SynapticEvents: s.SynapticEvents, ThrottleEvents: s.ThrottleEvents, Reboots: s.Reboots, Busy: time.Duration(s.BusyNS)}
	for i := range s.RingUsed {
		out.Rings = append(out.Rings, RingFill{Ring: regmap.Ring(i).String(), Used: int(s.RingUsed[i]), Capacity: int(s.RingSize[i])})
	}
	return out, nil
}
