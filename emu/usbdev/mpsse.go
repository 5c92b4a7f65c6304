package usbdev

import (
	"syscall"
	"time"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// One channel of the FT2232H: its two FIFOs, the MPSSE engine between them, and (channel A)
// the pins to the board's flash and FPGA. Everything here runs with FTDI.mu held.

// ftdiXfer is a bulk transfer on a channel's endpoint: an URB a client submitted, or one of
// a host in this process (BulkIn, BulkOut).
type ftdiXfer struct {
	data   []byte // OUT: the bytes; IN: the buffer
	n      int    // OUT: bytes the chip took; IN: bytes filled
	errno  syscall.Errno
	done   bool
	onDone func(x *ftdiXfer) // called once, with FTDI.mu held
}

// channel is channel A or B.
type channel struct {
	f       *FTDI
	idx     int // 0: A, 1: B
	bitmode byte
	latency time.Duration
	rx      []byte // host → chip: bytes taken from bulk OUT, not yet run
	tx      []byte // chip → host: bytes for bulk IN
	flush   int    // bytes at the front of tx that SEND_IMMEDIATE sends now
	due     bool   // the latency timer expired: a packet goes at the next IN
	timer   *time.Timer
	outq    []*ftdiXfer
	inq     []*ftdiXfer

	// The MPSSE engine.
	op       regmap.MPSSEOp // the clock command under way
	left     int            // its bytes still to clock
	lowVal   byte
	lowDir   byte
	highVal  byte
	highDir  byte
	divisor  uint16
	div5     bool
	loopback bool
	threePh  bool
	adaptive bool
	selected bool // the flash's CS# is low (channel A)
}

func newChannel(f *FTDI, idx int) *channel {
	return &channel{f: f, idx: idx, latency: regmap.FTDIDefaultLatency * time.Millisecond, div5: true}
}

func (c *channel) endpoints() (in, out uint8) {
	in, out, _ = regmap.FTDIEndpointsOf(c.idx)
	return in, out
}

// reset is the SIO reset: both FIFOs emptied, the engine between commands.
func (c *channel) reset() {
	c.rx, c.tx, c.flush, c.due = nil, nil, 0, false
	c.left = 0
}

// setBitmode changes the channel's function. Entering MPSSE sets every pin to an input, as
// the chip does; leaving it gives the pins back to the UART, which drives none of the
// board's lines (CRESET_B is pulled up: the FPGA is released).
func (c *channel) setBitmode(mode byte) {
	c.bitmode = mode
	c.left = 0
	c.lowDir, c.highDir, c.lowVal, c.highVal = 0, 0, 0, 0
	c.loopback = false
	c.pinsChanged()
}

// pump moves data until nothing more moves: OUT transfers into the receive FIFO, the
// engine from it into the transmit FIFO, packets out to IN transfers. It arms the latency
// timer when an IN transfer waits for a partial packet.
func (c *channel) pump() {
	for !c.f.gone {
		moved := false
		for len(c.outq) > 0 && len(c.rx) < regmap.FTDIBufferSize {
			x := c.outq[0]
			k := min(len(x.data)-x.n, regmap.FTDIBufferSize-len(c.rx))
			c.rx = append(c.rx, x.data[x.n:x.n+k]...)
			x.n += k
			c.f.stats.OutBytes += int64(k)
			if x.n == len(x.data) {
				c.outq = c.outq[1:]
				c.f.complete(x, 0)
			}
			moved = true
		}
		if c.run() {
			moved = true
		}
		for len(c.inq) > 0 && c.sendPacket(c.inq[0]) {
			moved = true
		}
		if !moved {
			break
		}
	}
	c.armTimer()
}

// sendPacket sends the IN transfer x the packet that is due, if one is: a full one when the
// transmit FIFO holds that much, else what SEND_IMMEDIATE flushed or, once the latency timer
// expired, whatever is there (two status bytes at least). A short packet or a full buffer
// ends the transfer; a packet larger than the room left overflows it.
func (c *channel) sendPacket(x *ftdiXfer) bool {
	const payload = regmap.FTDIMaxPacket - regmap.FTDIStatusSize
	if !(len(c.tx) >= payload || c.flush > 0 || c.due) {
		return false
	}
	k := min(len(c.tx), payload)
	room := len(x.data) - x.n
	if regmap.FTDIStatusSize+k > room {
		c.inq = c.inq[1:]
		c.f.complete(x, syscall.EOVERFLOW)
		return true
	}
	x.data[x.n], x.data[x.n+1] = regmap.FTDIModemStatus, regmap.FTDILineStatus
	copy(x.data[x.n+regmap.FTDIStatusSize:], c.tx[:k])
	x.n += regmap.FTDIStatusSize + k
	c.tx = c.tx[k:]
	c.flush = max(0, c.flush-k)
	c.due = false
	c.f.stats.InBytes += int64(regmap.FTDIStatusSize + k)
	if k == 0 {
		c.f.stats.StatusPackets++
	}
	if regmap.FTDIStatusSize+k < regmap.FTDIMaxPacket || x.n == len(x.data) {
		c.inq = c.inq[1:]
		c.f.complete(x, 0)
	}
	return true
}

// armTimer starts the latency timer when an IN transfer waits and nothing else will send
// it a packet.
func (c *channel) armTimer() {
	if c.f.gone || len(c.inq) == 0 || c.due || c.timer != nil {
		return
	}
	c.timer = time.AfterFunc(c.latency, func() {
		f := c.f
		f.mu.Lock()
		defer f.mu.Unlock()
		c.timer = nil
		if f.gone {
			return
		}
		c.due = true
		c.pump()
		f.updateReadyLocked()
	})
}

func (c *channel) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// run runs the engine over the receive FIFO while it can: a command whose arguments have
// not all arrived, or whose output finds the transmit FIFO full, waits. Outside MPSSE mode
// the bytes go out of the UART. It reports whether anything happened.
func (c *channel) run() bool {
	did := false
	room := func() int { return regmap.FTDIBufferSize - len(c.tx) }
	for !c.f.gone {
		if c.bitmode != regmap.FTDIBitmodeMPSSE {
			if len(c.rx) == 0 {
				return did
			}
			c.rx = c.rx[:0] // the UART sends them to whatever listens on channel B's pins
			return true
		}
		if c.left > 0 {
			k := c.left
			if c.op.Writes {
				k = min(k, len(c.rx))
			}
			if c.op.Reads > 0 {
				k = min(k, room())
			}
			if k == 0 {
				return did
			}
			var out []byte
			if c.op.Writes {
				out = c.rx[:k]
			} else {
				out = make([]byte, k)
				if c.lowVal&c.lowDir&regmap.FTDIPinMOSI != 0 {
					for i := range out {
						out[i] = 0xff
					}
				}
			}
			in := c.clock(out)
			if c.op.Writes {
				c.rx = c.rx[k:]
			}
			if c.op.Reads > 0 {
				c.tx = append(c.tx, in...)
			}
			c.left -= k
			did = true
			continue
		}
		if len(c.rx) == 0 {
			return did
		}
		code := c.rx[0]
		op, ok := regmap.MPSSEOpFor(code)
		if !ok {
			if room() < 2 {
				return did
			}
			c.tx = append(c.tx, regmap.MPSSEBadCommand, code)
			c.rx = c.rx[1:]
			c.f.stats.BadCommands++
			did = true
			continue
		}
		if len(c.rx) < 1+op.Args || !op.Clock && room() < op.Reads {
			return did
		}
		args := c.rx[1 : 1+op.Args]
		c.rx = c.rx[1+op.Args:]
		did = true
		switch code {
		case regmap.MPSSEWriteBytes, regmap.MPSSEReadBytes, regmap.MPSSEXferBytes:
			c.op, c.left = op, int(le.Uint16(args))+1
		case regmap.MPSSESetLow:
			c.lowVal, c.lowDir = args[0], args[1]
			c.pinsChanged()
		case regmap.MPSSEGetLow:
			c.tx = append(c.tx, c.lowPins())
		case regmap.MPSSESetHigh:
			c.highVal, c.highDir = args[0], args[1]
		case regmap.MPSSEGetHigh:
			c.tx = append(c.tx, c.highVal&c.highDir|^c.highDir) // inputs pulled up
		case regmap.MPSSELoopbackOn, regmap.MPSSELoopbackOff:
			c.loopback = code == regmap.MPSSELoopbackOn
		case regmap.MPSSESetDivisor:
			c.divisor = le.Uint16(args)
		case regmap.MPSSESendImmediate:
			c.flush = len(c.tx)
			c.f.stats.Flushes++
		case regmap.MPSSEDiv5Off, regmap.MPSSEDiv5On:
			c.div5 = code == regmap.MPSSEDiv5On
		case regmap.MPSSE3PhaseOn, regmap.MPSSE3PhaseOff:
			c.threePh = code == regmap.MPSSE3PhaseOn
		case regmap.MPSSEAdaptiveOn, regmap.MPSSEAdaptiveOff:
			c.adaptive = code == regmap.MPSSEAdaptiveOn
		}
	}
	return did
}

// lowPins reads ADBUS7..0: outputs read what they drive; on channel A, MISO reads the flash
// between clocks (pulled up: 1) and CDONE the FPGA; undriven lines are pulled up.
func (c *channel) lowPins() byte {
	in := byte(0xff)
	if c.idx == 0 && !c.f.fpga.Configured {
		in &^= regmap.FTDIPinCDONE
	}
	return c.lowVal&c.lowDir | in&^c.lowDir
}

// pinsChanged acts on channel A's outputs: CRESET_B driven low holds the FPGA in reset
// (released, it configures from the flash), and the flash sees chip select while the FPGA
// is held (otherwise the FPGA owns the flash's bus).
func (c *channel) pinsChanged() {
	if c.idx != 0 {
		return
	}
	f := c.f
	driven := func(pin byte) bool { return c.bitmode == regmap.FTDIBitmodeMPSSE && c.lowDir&pin != 0 }
	held := driven(regmap.FTDIPinCRESET) && c.lowVal&regmap.FTDIPinCRESET == 0
	sel := held && driven(regmap.FTDIPinCS) && c.lowVal&regmap.FTDIPinCS == 0
	if sel != c.selected {
		c.selected = sel
		f.flash.Transfer(nil, nil, sel) // chip select falls (a transaction opens) or rises (it acts)
		f.checkPower()
	}
	if held != f.fpga.Held {
		f.fpga.Held = held
		if held {
			f.fpga.Configured = false
		} else {
			f.configure()
		}
	}
}

// clock clocks out's bytes on the channel's pins and returns what came back on MISO: on
// channel A the flash's answer while it is selected and SCK is driven, MOSI's bytes in
// loopback, else ones (MISO pulled up).
func (c *channel) clock(out []byte) []byte {
	in := make([]byte, len(out))
	switch {
	case c.loopback:
		copy(in, out)
		return in
	case c.idx != 0 || !c.selected || c.lowDir&regmap.FTDIPinSCK == 0:
		for i := range in {
			in[i] = 0xff
		}
		return in
	}
	if c.lowDir&regmap.FTDIPinMOSI == 0 { // DI floats high
		out = make([]byte, len(out))
		for i := range out {
			out[i] = 0xff
		}
	}
	c.f.flash.Transfer(out, in, true)
	c.f.stats.FlashBytes += int64(len(out))
	c.f.checkPower()
	return in
}
