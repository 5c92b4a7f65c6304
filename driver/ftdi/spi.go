package ftdi

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// spiMode is what differs between the SPI modes MPSSE's commands serve: the clock's idle
// level (mode 0 low, mode 3 high; both write on the falling edge and read on the rising one).
type spiMode struct{ cpol bool }

var _ spi.PortCloser = (*Adapter)(nil)

// Connect implements spi.Port: a connection to the flash, in mode 0 or 3, 8 bits a word, at
// the lowest of f (0: no limit), LimitSpeed and Opts.Frequency. Every exchange with the chip
// is bounded by Opts.Timeout.
func (a *Adapter) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	return a.ConnectContext(context.Background(), f, mode, bits)
}

// SPI implements fwupdate.RecoveryPort: Connect in mode 0 at the adapter's speed, the
// transfers also bounded by ctx.
func (a *Adapter) SPI(ctx context.Context) (spi.Conn, error) {
	return a.ConnectContext(ctx, 0, spi.Mode0, 8)
}

// ConnectContext is Connect whose transfers ctx bounds too.
func (a *Adapter) ConnectContext(ctx context.Context, f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if bits != 8 {
		return nil, fmt.Errorf("ftdi: %s: %d bits a word: MPSSE clocks bytes: %w", a.uri, bits, ErrArgs)
	}
	var m spiMode
	switch mode {
	case spi.Mode0:
	case spi.Mode3:
		m.cpol = true
	default:
		return nil, fmt.Errorf("ftdi: %s: SPI %s: MPSSE writes on the falling edge and reads on the rising one, MSB first, with chip select: mode 0 or 3: %w", a.uri, mode, ErrArgs)
	}
	if f < 0 {
		return nil, fmt.Errorf("ftdi: %s: frequency %s: %w", a.uri, f, ErrArgs)
	}
	a.mu.Lock()
	hz := a.limit
	a.mu.Unlock()
	if f > 0 {
		hz = min(hz, int64(f/physic.Hertz))
	}
	return &spiConn{a: a, ctx: ctx, mode: m, hz: hz}, nil
}

// LimitSpeed implements spi.PortCloser: connections made after it run at most at f.
func (a *Adapter) LimitSpeed(f physic.Frequency) error {
	if f < physic.Hertz {
		return fmt.Errorf("ftdi: %s: speed limit %s: %w", a.uri, f, ErrArgs)
	}
	a.mu.Lock()
	a.limit = int64(f / physic.Hertz)
	a.mu.Unlock()
	return nil
}

type spiConn struct {
	a    *Adapter
	ctx  context.Context
	mode spiMode
	hz   int64
}

func (c *spiConn) String() string {
	_, sck := regmap.FTDIDivisor(c.hz)
	return fmt.Sprintf("%s SPI at %d kHz", c.a, sck/1000)
}

func (c *spiConn) Duplex() conn.Duplex { return conn.Full }

// MaxTxSize implements conn.Limits.
func (c *spiConn) MaxTxSize() int { return MaxTxSize }

// Tx implements conn.Conn: one full-duplex transfer of max(len(w), len(r)) bytes (zeros out
// after w's), chip select asserted around it.
func (c *spiConn) Tx(w, r []byte) error { return c.a.xfer(c, w, r, false) }

// TxPackets implements spi.Conn: a packet with KeepCS leaves chip select asserted for the
// next.
func (c *spiConn) TxPackets(p []spi.Packet) error {
	for i, pk := range p {
		if pk.BitsPerWord != 0 && pk.BitsPerWord != 8 {
			return fmt.Errorf("ftdi: %s: packet %d: %d bits a word: MPSSE clocks bytes: %w", c.a.uri, i, pk.BitsPerWord, ErrArgs)
		}
		if err := c.a.xfer(c, pk.W, pk.R, pk.KeepCS); err != nil {
			return err
		}
	}
	return nil
}

// xfer runs one transfer: chip select falls (unless a KeepCS transfer left it low), the
// bytes are clocked, chip select rises unless keep. A transfer that reads goes in exchanges
// of at most the chip's transmit FIFO, so that the engine never waits for the host to read
// while the host waits for the engine to take its commands.
func (a *Adapter) xfer(c *spiConn, w, r []byte, keep bool) (err error) {
	n := max(len(w), len(r))
	if n > MaxTxSize {
		return fmt.Errorf("ftdi: %s: a %d-byte transfer, more than %d: %w", a.uri, n, MaxTxSize, ErrArgs)
	}
	if err := a.enter(); err != nil {
		return err
	}
	defer a.mu.Unlock()
	if !a.held {
		return fmt.Errorf("ftdi: %s: SPI transfer while the FPGA runs (hold it in reset first): %w", a.uri, ErrReleased)
	}
	cmds := a.cmd[:0]
	defer func() {
		a.cmd = cmds[:0]
		if err != nil && a.csLow {
			// Chip select rises, so that the flash drops the broken transaction.
			a.csLow = false
			a.setLow(c.ctx, a.idle(), regmap.FTDIPinsSPI)
		}
	}()
	if c.mode != a.mode {
		if a.csLow {
			return fmt.Errorf("ftdi: %s: another SPI mode inside a transaction: %w", a.uri, ErrArgs)
		}
		a.mode = c.mode
		cmds = append(cmds, regmap.MPSSESetLow, a.idle(), regmap.FTDIPinsSPI)
	}
	if div, _ := regmap.FTDIDivisor(c.hz); div != a.div {
		a.div = div
		cmds = append(cmds, regmap.MPSSESetDivisor, byte(div), byte(div>>8))
	}
	if n == 0 && (keep || !a.csLow) {
		if len(cmds) > 0 {
			_, err = a.exchange(c.ctx, cmds, 0)
		}
		return err
	}
	if !a.csLow {
		cmds = append(cmds, regmap.MPSSESetLow, a.idle()&^regmap.FTDIPinCS, regmap.FTDIPinsSPI)
		a.csLow = true
	}
	release := func() {
		if !keep {
			cmds = append(cmds, regmap.MPSSESetLow, a.idle(), regmap.FTDIPinsSPI)
			a.csLow = false
		}
	}
	wp := w
	if len(w) > 0 && len(w) < n {
		wp = make([]byte, n)
		copy(wp, w)
	}
	if len(r) == 0 {
		for off := 0; off < n; off += regmap.MPSSEMaxClock {
			cmds = clockCmd(cmds, wp[off:], min(n-off, regmap.MPSSEMaxClock), false)
		}
		release()
		_, err = a.exchange(c.ctx, cmds, 0)
		return err
	}
	for off := 0; off < n; off += regmap.FTDIBufferSize {
		k := min(n-off, regmap.FTDIBufferSize)
		var out []byte
		if wp != nil {
			out = wp[off:]
		}
		cmds = clockCmd(cmds, out, k, true)
		if off+k == n {
			release()
		}
		cmds = append(cmds, regmap.MPSSESendImmediate)
		var got []byte
		if got, err = a.exchange(c.ctx, cmds, k); err != nil {
			return err
		}
		if off < len(r) {
			copy(r[off:], got)
		}
		cmds = cmds[:0]
	}
	return nil
}
