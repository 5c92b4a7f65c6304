package usbdev

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// FTDI is the emulated board's recovery port (docs/regmap.md §13): an FT2232H whose channel
// A, in MPSSE mode, masters the board's SPI flash (the same board.Flash model the board's
// firmware drives, at the level of its SPI transactions) and drives the FPGA's CRESET_B and
// reads its CDONE; channel B is the board's UART. As Function does for the board's bridge,
// it answers a host's usbdevfs ioctls (what the kernel's usbfs does in front of a device):
// descriptors, FTDI's vendor requests, bulk URBs with FTDI's two status bytes per packet,
// the latency timer and SEND_IMMEDIATE, the 4 KiB FIFOs each way with their flow control,
// and the kernel's ftdi_sio driver bound to both interfaces until a host detaches it.
//
// The FPGA is modelled at its pins: held in reset it leaves the flash's bus to the FT2232H
// and lowers CDONE; released, it configures from the flash (the slot package flash's Boot
// picks) and raises CDONE when a slot is valid.
//
// Its methods are safe for concurrent use and never block for long.
type FTDI struct {
	usbfs // the kernel's side of the device node; its mu guards what follows too

	opts    FTDIOpts
	product string
	flash   *board.Flash

	ch    [2]*channel
	fpga  FPGAState
	xfers map[*urb]*ftdiXfer // the bulk URBs submitted, not yet complete
	stats FTDIStats
}

// Defaults of FTDIOpts.
const (
	DefaultFTDIBus    = 2
	DefaultFTDISerial = "LR000001"
)

// FTDIOpts configures an FTDI. The zero value gives the documented defaults.
type FTDIOpts struct {
	Bus  int // bus number, default DefaultFTDIBus
	Addr int // device number, default DefaultAddr
	// Board is the board the chip is on, which names its product string
	// (regmap.FTDIBoards). Default regmap.BoardEmulator.
	Board regmap.BoardKind
	// Serial is the serial number string of its EEPROM, default DefaultFTDISerial.
	Serial string
	// NoKernelDriver: ftdi_sio is not loaded, so no interface has a kernel driver. Default:
	// ftdi_sio holds both interfaces, as on a machine where the module is.
	NoKernelDriver bool
	// PoweredByBoard: the chip runs from the board's supply, so that when the flash loses
	// its power (board.Flash.CutPowerAfter) the FT2232H drops off the bus too. Default: it
	// runs from the USB cable and stays.
	PoweredByBoard bool
	// Ready is told when URBs wait to be reaped and when the device is gone; nil: nobody
	// polls.
	Ready Ready
}

// FPGAState is what the FPGA on the FT2232H's pins is doing.
type FPGAState struct {
	Held       bool        // CRESET_B is held low
	Configured bool        // CDONE is high
	Booted     flash.State // the slot it configured from, when Configured
	Boots      int         // configurations since power-on, the first included
}

// FTDIStats counts what went over the chip's endpoints and pins.
type FTDIStats struct {
	ControlURBs, OutURBs, InURBs int
	OutBytes, InBytes            int64 // status bytes included
	StatusPackets                int   // IN packets that carried status bytes only
	Flushes                      int   // SEND_IMMEDIATE commands
	BadCommands                  int   // opcodes answered with MPSSEBadCommand
	FlashBytes                   int64 // bytes clocked to the flash
	Detaches, Attaches           int   // ftdi_sio detached from, attached to an interface
}

// MPSSEState is channel A's engine as the host set it.
type MPSSEState struct {
	Bitmode                    byte
	Latency                    time.Duration
	Divisor                    uint16
	Div5, ThreePhase, Adaptive bool
	Loopback                   bool
	LowValue, LowDir           byte
	Selected                   bool // the flash's chip select is asserted
}

// SCK is the SPI clock the engine runs at.
func (s MPSSEState) SCK() int64 {
	base := int64(regmap.FTDIClockHz)
	if s.Div5 {
		base /= 5
	}
	return base / (2 * (1 + int64(s.Divisor)))
}

// Errors of the in-process host's transfers (Control, BulkIn, BulkOut).
var (
	// ErrStall: the chip refused the request (a stall).
	ErrStall = errors.New("usbdev: stalled")
	// ErrGone: the device was unplugged.
	ErrGone = errors.New("usbdev: device gone")
)

// NewFTDI makes the FT2232H of a board whose flash is fl. The FPGA configures from the flash
// at once, as at power-on.
func NewFTDI(fl *board.Flash, opts FTDIOpts) (*FTDI, error) {
	if fl == nil {
		return nil, errors.New("usbdev: an FT2232H needs the board's flash")
	}
	if opts.Bus == 0 {
		opts.Bus = DefaultFTDIBus
	}
	if opts.Addr == 0 {
		opts.Addr = DefaultAddr
	}
	if opts.Bus < 1 || opts.Bus > 255 || opts.Addr < 2 || opts.Addr > 127 {
		return nil, fmt.Errorf("usbdev: bus %d, device %d: want a bus from 1 to 255 and a device from 2 to 127", opts.Bus, opts.Addr)
	}
	if opts.Board == 0 {
		opts.Board = regmap.BoardEmulator
	}
	if opts.Serial == "" {
		opts.Serial = DefaultFTDISerial
	}
	if len(opts.Serial) > 32 {
		return nil, fmt.Errorf("usbdev: FT2232H serial %q: at most 32 characters", opts.Serial)
	}
	product, err := regmap.FTDIProductFor(opts.Board)
	if err != nil {
		return nil, fmt.Errorf("usbdev: %w", err)
	}
	f := &FTDI{opts: opts, product: product, flash: fl, xfers: map[*urb]*ftdiXfer{}}
	driver := "ftdi_sio"
	if opts.NoKernelDriver {
		driver = ""
	}
	f.usbfs.init(f, 2, driver, opts.Ready)
	f.ch = [2]*channel{newChannel(f, 0), newChannel(f, 1)}
	f.configure()
	return f, nil
}

// String names the chip.
func (f *FTDI) String() string {
	return fmt.Sprintf("FT2232H %04x:%04x %q serial %s (bus %d, device %d) in front of the %s", regmap.FTDIVendorID, regmap.FTDIProductID,
		f.product, f.opts.Serial, f.opts.Bus, f.opts.Addr, f.flash)
}

// Serial is the chip's serial number string.
func (f *FTDI) Serial() string { return f.opts.Serial }

// Flash returns the flash behind channel A.
func (f *FTDI) Flash() *board.Flash { return f.flash }

// FPGA returns what the FPGA is doing.
func (f *FTDI) FPGA() FPGAState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fpga
}

// MPSSE returns channel A's engine settings.
func (f *FTDI) MPSSE() MPSSEState {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch[0]
	return MPSSEState{Bitmode: c.bitmode, Latency: c.latency, Divisor: c.divisor, Div5: c.div5, ThreePhase: c.threePh,
		Adaptive: c.adaptive, Loopback: c.loopback, LowValue: c.lowVal, LowDir: c.lowDir, Selected: c.selected}
}

// Stats returns the counters so far.
func (f *FTDI) Stats() FTDIStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.stats
	st.Detaches, st.Attaches = f.detaches, f.attaches
	return st
}

// configure is the FPGA configuring from the flash: CDONE rises when a slot is valid.
func (f *FTDI) configure() {
	f.fpga.Boots++
	f.fpga.Configured, f.fpga.Booted = false, flash.State{}
	if f.flash.PoweredOff() {
		return
	}
	s, err := flash.NewSlots(f.flash, flash.Opts{SlotSize: f.flash.SlotSize()})
	if err != nil {
		return
	}
	st, ok := s.Boot()
	f.fpga.Configured = ok
	if ok {
		f.fpga.Booted = st
	}
}

// checkPower takes the chip off the bus when it runs from the board's supply and the flash
// lost its power.
func (f *FTDI) checkPower() {
	if f.opts.PoweredByBoard && !f.gone && f.flash.PoweredOff() {
		f.unplugLocked()
	}
}

// Close unplugs the chip.
func (f *FTDI) Close() error {
	f.Unplug()
	return nil
}

// Unplug removes the device as pulling its cable does: every transfer in flight fails with
// ESHUTDOWN, every later request with ENODEV, and Ready is told the device is gone.
func (f *FTDI) Unplug() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unplugLocked()
}

// complete ends a transfer.
func (f *FTDI) complete(x *ftdiXfer, errno syscall.Errno) {
	if x.done {
		return
	}
	x.done, x.errno = true, errno
	if x.onDone != nil {
		x.onDone(x)
	}
}

// channelOf returns the channel of a bulk endpoint and whether the endpoint is IN.
func (f *FTDI) channelOf(ep uint8) (*channel, bool, bool) {
	for _, c := range f.ch {
		in, out := c.endpoints()
		switch ep {
		case in:
			return c, true, true
		case out:
			return c, false, true
		}
	}
	return nil, false, false
}

// queueLocked puts a bulk transfer on its channel's queue and moves what can move.
func (f *FTDI) queueLocked(ch *channel, in bool, x *ftdiXfer) {
	if in {
		f.stats.InURBs++
		ch.inq = append(ch.inq, x)
	} else {
		f.stats.OutURBs++
		ch.outq = append(ch.outq, x)
	}
	ch.pump()
}

// --- control requests ---

// control answers a request on endpoint 0: the data of an IN request, or ErrStall.
func (f *FTDI) control(s setup, data []byte) ([]byte, error) {
	switch s.kind() {
	case typeStandard:
		return f.standard(s)
	case typeVendor:
		if s.recipient() != recipDevice {
			return nil, stall("vendor %v: not to the device", s)
		}
		return f.vendor(s)
	}
	return nil, stall("%v: class requests are not supported", s)
}

func (f *FTDI) standard(s setup) ([]byte, error) {
	switch {
	case s.typ == 0x80 && s.req == regmap.USBReqGetDescriptor:
		idx := int(s.value & 0xff)
		switch s.value >> 8 {
		case regmap.USBDescDevice:
			return regmap.FTDIDeviceDescriptorBytes(), nil
		case regmap.USBDescConfig:
			if idx != 0 {
				return nil, stall("no configuration %d", idx)
			}
			return regmap.FTDIConfigDescriptorBytes(), nil
		case regmap.USBDescString:
			if idx == 0 {
				return regmap.USBLanguages(), nil
			}
			if s.index != regmap.USBLangID {
				return nil, stall("string %d in language %#04x", idx, s.index)
			}
			str, ok := map[int]string{regmap.USBStrManufacturer: regmap.FTDIManufacturer, regmap.USBStrProduct: f.product, regmap.USBStrSerial: f.opts.Serial}[idx]
			if !ok {
				return nil, stall("no string %d", idx)
			}
			return regmap.USBStringDescriptor(str), nil
		}
		return nil, stall("no descriptor of type %#02x", s.value>>8)
	case s.req == regmap.USBReqGetStatus && s.typ >= 0x80 && s.typ <= 0x82:
		return []byte{0, 0}, nil // bus-powered, no remote wakeup, not halted
	case s.typ == 0x80 && s.req == regmap.USBReqGetConfig:
		return []byte{1}, nil
	}
	return nil, stall("standard %v not supported", s)
}

// vendor answers FTDI's SIO requests; wIndex's low byte is the channel (1 A, 2 B).
func (f *FTDI) vendor(s setup) ([]byte, error) {
	port := int(s.index & 0xff)
	if port != 1 && port != 2 {
		return nil, stall("vendor %v: no channel %d (1 is A, 2 is B)", s, port)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch[port-1]
	defer c.pump()
	in := func(n int) error {
		if !s.in() || int(s.length) < n {
			return stall("vendor %#02x returns %d bytes in", s.req, n)
		}
		return nil
	}
	out := func() error {
		if s.in() || s.length != 0 {
			return stall("vendor %#02x takes no data", s.req)
		}
		return nil
	}
	switch regmap.FTDIRequest(s.req) {
	case regmap.FTDIReqReset:
		if err := out(); err != nil {
			return nil, err
		}
		switch s.value {
		case regmap.FTDIResetSIO:
			c.reset()
		case regmap.FTDIPurge1: // the receive FIFO, host → chip
			c.rx, c.left = nil, 0
		case regmap.FTDIPurge2: // the transmit FIFO, chip → host
			c.tx, c.flush = nil, 0
		default:
			return nil, stall("RESET %d", s.value)
		}
		return nil, nil
	case regmap.FTDIReqSetLatency:
		if err := out(); err != nil {
			return nil, err
		}
		ms := int(s.value & 0xff)
		if ms < 1 {
			return nil, stall("a latency timer of %d ms", ms)
		}
		c.latency = time.Duration(ms) * time.Millisecond
		return nil, nil
	case regmap.FTDIReqGetLatency:
		if err := in(1); err != nil {
			return nil, err
		}
		return []byte{byte(c.latency / time.Millisecond)}, nil
	case regmap.FTDIReqSetBitmode:
		if err := out(); err != nil {
			return nil, err
		}
		mode := byte(s.value >> 8)
		if mode != regmap.FTDIBitmodeReset && mode != regmap.FTDIBitmodeMPSSE {
			return nil, stall("bit mode %#02x: the emulation has the UART and MPSSE only", mode)
		}
		c.setBitmode(mode)
		return nil, nil
	case regmap.FTDIReqReadPins:
		if err := in(1); err != nil {
			return nil, err
		}
		return []byte{c.lowPins()}, nil
	case 0x01, 0x02, 0x03, 0x04, 0x06, 0x07: // modem control, flow control, baud rate, data format, event and error characters: the UART's
		if err := out(); err != nil {
			return nil, err
		}
		return nil, nil
	case 0x05: // poll modem status
		if err := in(2); err != nil {
			return nil, err
		}
		return []byte{regmap.FTDIModemStatus, regmap.FTDILineStatus}, nil
	}
	return nil, stall("vendor request %#02x not supported", s.req)
}

// --- a host in this process ---

// Control runs a control request from a host in this process, as libusb would through
// usbdevfs: data goes out, or is filled in for an IN request (rType has regmap.USBDirIn); it
// returns the bytes moved. A refused request is ErrStall.
func (f *FTDI) Control(rType, req uint8, value, index uint16, data []byte) (int, error) {
	if f.isGone() {
		return 0, ErrGone
	}
	s := setup{typ: rType, req: req, value: value, index: index, length: uint16(len(data))}
	var out []byte
	if !s.in() {
		out = data
	}
	resp, err := f.control(s, out)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", err, ErrStall)
	}
	if s.in() {
		return copy(data, resp), nil
	}
	return len(data), nil
}

// BulkOut writes p to a bulk OUT endpoint from a host in this process, and returns once the
// chip took all of it (or ctx ended: then with the bytes it took).
func (f *FTDI) BulkOut(ctx context.Context, ep uint8, p []byte) (int, error) {
	return f.bulk(ctx, ep, false, append([]byte(nil), p...))
}

// BulkIn runs one bulk IN transfer of len(p) bytes from a host in this process and returns
// how many came: the raw packets, status bytes included.
func (f *FTDI) BulkIn(ctx context.Context, ep uint8, p []byte) (int, error) {
	buf := make([]byte, len(p))
	n, err := f.bulk(ctx, ep, true, buf)
	copy(p, buf[:n])
	return n, err
}

func (f *FTDI) bulk(ctx context.Context, ep uint8, in bool, buf []byte) (int, error) {
	done := make(chan struct{})
	x := &ftdiXfer{data: buf, onDone: func(*ftdiXfer) { close(done) }}
	f.mu.Lock()
	ch, isIn, ok := f.channelOf(ep)
	switch {
	case f.gone:
		f.mu.Unlock()
		return 0, ErrGone
	case !ok || isIn != in:
		f.mu.Unlock()
		return 0, fmt.Errorf("usbdev: no bulk %s endpoint %#02x: %w", map[bool]string{true: "IN", false: "OUT"}[in], ep, ErrStall)
	}
	f.queueLocked(ch, in, x)
	f.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		f.mu.Lock()
		f.dequeue(x)
		f.complete(x, syscall.ENOENT)
		f.mu.Unlock()
		<-done
	}
	f.mu.Lock()
	n, errno := x.n, x.errno
	f.mu.Unlock()
	switch errno {
	case 0:
		return n, nil
	case syscall.ENOENT:
		return n, ctx.Err()
	case syscall.ESHUTDOWN:
		return n, ErrGone
	}
	return n, fmt.Errorf("usbdev: bulk transfer on %#02x: %w", ep, errno)
}
