// Package ftdi is the host's side of a board's recovery port (docs/regmap.md §13): the
// FT2232H on the board's USB cable, whose channel A, in MPSSE mode, masters the board's
// configuration flash while it holds the FPGA in reset, as openFPGALoader and iceprog do. An
// Adapter is a periph.io spi.Port, so that the SPI NOR driver of devices/spinor (and with it
// package flash's slots) runs on it unchanged, plus the FPGA's reset and done pins:
// `lrctl fw recover` writes a slot of a board whose FPGA is blank this way.
//
// libusb (github.com/google/gousb) is confined to ftdi_gousb.go, built with the gousb tag
// (the lab build), behind the unexported usbPort; everything else, MPSSE included, is pure Go
// and tested against the emulated FT2232H of emu/usbdev. A build without the tag says how to
// get the lab build.
package ftdi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// Sentinel errors; every error of the package reads "ftdi: ..." and wraps one of them.
var (
	// ErrNotFound: no FTDI chip matches the URI (or this build has no USB: then it also
	// wraps errors.ErrUnsupported).
	ErrNotFound = errors.New("ftdi: no such adapter")
	// ErrBusy: another process holds the chip's channel A.
	ErrBusy = errors.New("ftdi: adapter in use")
	// ErrGone: the adapter went away (unplugged, or the board's power went).
	ErrGone = errors.New("ftdi: adapter gone")
	// ErrTimeout: the chip did not answer within Opts.Timeout (or the context ended).
	ErrTimeout = errors.New("ftdi: timed out")
	// ErrProtocol: the chip answered what MPSSE does not: no synchronisation, stray bytes,
	// a malformed packet, a refused request.
	ErrProtocol = errors.New("ftdi: protocol error")
	// ErrReleased: an SPI transfer while the FPGA is not held in reset: the flash's bus is
	// the FPGA's then (HoldReset first).
	ErrReleased = errors.New("ftdi: the FPGA owns the flash's bus")
	// ErrArgs: a transfer or setting the adapter cannot do.
	ErrArgs = errors.New("ftdi: bad argument")
	// ErrClosed: the adapter was closed.
	ErrClosed = errors.New("ftdi: closed")
)

// Defaults of Opts.
const (
	DefaultFrequency = 6 * physic.MegaHertz
	DefaultLatency   = 2 * time.Millisecond
	DefaultTimeout   = 5 * time.Second
	// MaxTxSize is the most bytes one SPI transfer moves (conn.Limits).
	MaxTxSize = 64 << 10
)

// Opts configures Open. The zero value gives the defaults.
type Opts struct {
	// Frequency is the most SCK runs at (the chip's fastest at or below it; a device's
	// Connect may ask for less). Default DefaultFrequency.
	Frequency physic.Frequency
	// Latency is the chip's latency timer, how long it holds a partial packet; the adapter
	// flushes its answers itself, so this only paces how often an idle chip reports.
	// Default DefaultLatency; from 1 to 255 ms.
	Latency time.Duration
	// Timeout bounds every exchange with the chip. Default DefaultTimeout.
	Timeout time.Duration
}

func (o *Opts) withDefaults() (Opts, error) {
	var r Opts
	if o != nil {
		r = *o
	}
	if r.Frequency == 0 {
		r.Frequency = DefaultFrequency
	}
	if r.Latency == 0 {
		r.Latency = DefaultLatency
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.Frequency < 0 || r.Latency < time.Millisecond || r.Latency > 255*time.Millisecond || r.Timeout < 0 {
		return r, fmt.Errorf("ftdi: options %+v: want a positive frequency, a latency of 1 to 255 ms and a positive timeout: %w", r, ErrArgs)
	}
	return r, nil
}

// Identity is what an FTDI chip says of itself, and the board that says.
type Identity struct {
	Manufacturer string `json:"manufacturer"`
	Product      string `json:"product"`
	Serial       string `json:"serial"`
	Path         string `json:"path"` // its device node
	// Board is the board the chip is on (regmap.FTDIBoards by its strings), with its slot
	// size; zero for an FTDI chip that is not an lrchip board's.
	Board    regmap.BoardKind `json:"board,omitempty"`
	SlotSize int              `json:"slot_size,omitempty"`
}

// usbPort is the FTDI chip as libusb opened it, channel A's interface claimed: what the
// adapter needs of it. ftdi_gousb.go implements it with gousb; the tests, over the emulated
// chip.
type usbPort interface {
	// control runs a request on endpoint 0 within timeout: data goes out, or is filled in for
	// an IN request (rType has regmap.USBDirIn); it returns the bytes moved.
	control(rType, req uint8, val, idx uint16, data []byte, timeout time.Duration) (int, error)
	// write writes p to channel A's bulk OUT endpoint, all of it.
	write(ctx context.Context, p []byte) error
	// read runs one bulk IN transfer of len(p) bytes on channel A and returns the raw bytes
	// that came, status bytes included.
	read(ctx context.Context, p []byte) (int, error)
	// maxPacket is the bulk IN endpoint's wMaxPacketSize.
	maxPacket() int
	// close releases the interface (the kernel's driver gets it back) and the device.
	close() error
}

// openUSB finds and opens the chip u names and claims channel A; set by ftdi_gousb.go.
var openUSB func(ctx context.Context, u driver.URI) (usbPort, Identity, error)

// errNoUSB says this build has no libusb.
var errNoUSB = fmt.Errorf("this build has no USB: build the lab build, go build -tags gousb ./cmd/lrctl (it needs the Debian packages libusb-1.0-0-dev and pkg-config), or try the emulated board's FT2232H with scripts/with-usb-emu.sh: %w", errors.ErrUnsupported)

// Adapter is a board's FT2232H in MPSSE mode: the flash's SPI master while it holds the FPGA
// in reset. Its methods are safe for concurrent use (one exchange with the chip at a time).
type Adapter struct {
	p    usbPort
	opts Opts
	id   Identity
	uri  string

	mu     sync.Mutex
	closed bool
	held   bool    // the FPGA is held in reset: the SPI pins are driven
	csLow  bool    // chip select is asserted (a KeepCS transfer left it so)
	mode   spiMode // the clock's idle level of the connection last used
	div    uint16  // the divisor set
	limit  int64   // LimitSpeed, Hz
	rbuf   []byte  // bulk IN buffer
	cmd    []byte  // commands being built
}

// Open opens the FTDI chip that uri (usb:VID:PID[:SERIAL]) names, claims channel A (the
// kernel's ftdi_sio is detached from it, and from nothing else) and puts it in MPSSE mode,
// every pin an input: the FPGA runs on until HoldReset.
func Open(ctx context.Context, uri string, opts *Opts) (*Adapter, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := driver.ParseURI(uri)
	if err != nil || u.Transport != driver.TransportUSB {
		return nil, fmt.Errorf("ftdi: %q is not usb:VID:PID[:SERIAL] (the FT2232H is usb:%04x:%04x): %w", uri, regmap.FTDIVendorID, regmap.FTDIProductID, ErrArgs)
	}
	if openUSB == nil {
		return nil, fmt.Errorf("ftdi: %s: %w: %w", u, errNoUSB, ErrNotFound)
	}
	p, id, err := openUSB(ctx, u)
	if err != nil {
		return nil, err
	}
	a, err := newAdapter(ctx, p, id, u.String(), o)
	if err != nil {
		p.close()
		return nil, err
	}
	return a, nil
}

// newAdapter sets up the chip behind p: MPSSE mode, synchronised, the clock, every pin an
// input.
func newAdapter(ctx context.Context, p usbPort, id Identity, uri string, o Opts) (*Adapter, error) {
	if b, ok := regmap.FTDIBoardFor(id.Manufacturer, id.Product); ok {
		id.Board, id.SlotSize = b.Board, b.SlotSize
	}
	if p.maxPacket() <= regmap.FTDIStatusSize {
		return nil, fmt.Errorf("ftdi: %s: bulk IN packets of %d bytes: %w", uri, p.maxPacket(), ErrProtocol)
	}
	a := &Adapter{p: p, opts: o, id: id, uri: uri, limit: int64(o.Frequency / physic.Hertz)}
	if err := a.setup(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// String names the adapter.
func (a *Adapter) String() string {
	return fmt.Sprintf("FTDI %s (%q, serial %s)", a.uri, a.id.Product, a.id.Serial)
}

// Identity returns what the chip says of itself.
func (a *Adapter) Identity() Identity { return a.id }

// Board implements fwupdate.RecoveryPort: the board the chip is on and its slot size; ok is
// false for an FTDI chip that is not an lrchip board's.
func (a *Adapter) Board() (kind regmap.BoardKind, slotSize int, ok bool) {
	return a.id.Board, a.id.SlotSize, a.id.Board != 0
}

// ctx bounds one exchange.
func (a *Adapter) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, a.opts.Timeout)
}

// enter takes the adapter for one exchange.
func (a *Adapter) enter() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return fmt.Errorf("ftdi: %s: %w", a.uri, ErrClosed)
	}
	return nil
}

// vendor runs one of FTDI's vendor requests on channel A.
func (a *Adapter) vendor(req regmap.FTDIRequest, val uint16, in []byte) error {
	rt := uint8(regmap.USBVendorOut)
	if in != nil {
		rt = regmap.USBVendorIn
	}
	n, err := a.p.control(rt, uint8(req), val, regmap.FTDIPortA, in, a.opts.Timeout)
	if err != nil {
		return fmt.Errorf("ftdi: %s: vendor request %#02x (%#04x): %w", a.uri, uint8(req), val, err)
	}
	if n != len(in) {
		return fmt.Errorf("ftdi: %s: vendor request %#02x returned %d bytes, not %d: %w", a.uri, uint8(req), n, len(in), ErrProtocol)
	}
	return nil
}

// setup resets channel A, sets the latency timer, enters MPSSE mode, empties both FIFOs,
// synchronises with the engine (a bad opcode must come back as MPSSEBadCommand and itself)
// and sets the clock, two-phase, no loopback, every pin an input.
func (a *Adapter) setup(ctx context.Context) error {
	steps := []struct {
		req regmap.FTDIRequest
		val uint16
	}{
		{regmap.FTDIReqReset, regmap.FTDIResetSIO},
		{regmap.FTDIReqSetLatency, uint16(a.opts.Latency / time.Millisecond)},
		{regmap.FTDIReqSetBitmode, regmap.FTDIBitmodeReset << 8},
		{regmap.FTDIReqSetBitmode, regmap.FTDIBitmodeMPSSE << 8},
		{regmap.FTDIReqReset, regmap.FTDIPurge1},
		{regmap.FTDIReqReset, regmap.FTDIPurge2},
	}
	for _, s := range steps {
		if err := a.vendor(s.req, s.val, nil); err != nil {
			return err
		}
	}
	for _, bad := range []byte{0xAA, 0xAB} {
		got, err := a.exchange(ctx, []byte{bad, regmap.MPSSESendImmediate}, 2)
		if err != nil {
			return fmt.Errorf("ftdi: %s: synchronising with MPSSE: %w", a.uri, err)
		}
		if got[0] != regmap.MPSSEBadCommand || got[1] != bad {
			return fmt.Errorf("ftdi: %s: MPSSE answered % x to the bad opcode %#02x, not fa %02x (is it an FT2232H?): %w", a.uri, got, bad, bad, ErrProtocol)
		}
	}
	a.div, _ = regmap.FTDIDivisor(a.limit)
	_, err := a.exchange(ctx, []byte{regmap.MPSSEDiv5Off, regmap.MPSSEAdaptiveOff, regmap.MPSSE3PhaseOff, regmap.MPSSELoopbackOff,
		regmap.MPSSESetDivisor, byte(a.div), byte(a.div >> 8), regmap.MPSSESetLow, 0, 0, regmap.MPSSESetHigh, 0, 0}, 0)
	return err
}

// exchange writes cmds and, when want > 0, reads want bytes of answer (cmds must end with
// SEND_IMMEDIATE then). Called with the adapter held, or before anyone has it.
func (a *Adapter) exchange(parent context.Context, cmds []byte, want int) ([]byte, error) {
	ctx, cancel := a.ctx(parent)
	defer cancel()
	if err := a.p.write(ctx, cmds); err != nil {
		return nil, a.portErr("bulk OUT", ctx, err)
	}
	if want == 0 {
		return nil, nil
	}
	return a.readData(ctx, want)
}

// readData reads n bytes of the engine's answers: bulk IN transfers sized so that a whole
// answer fits without the chip having to end a packet early, status bytes stripped. Status
// packets of an idle chip (its latency timer) come in between; bytes beyond n mean the host
// and the engine disagree, which is ErrProtocol.
func (a *Adapter) readData(ctx context.Context, n int) ([]byte, error) {
	mp := a.p.maxPacket()
	got := make([]byte, 0, n)
	for len(got) < n {
		size := rawSize(n-len(got), mp)
		if cap(a.rbuf) < size {
			a.rbuf = make([]byte, size)
		}
		raw := a.rbuf[:size]
		k, err := a.p.read(ctx, raw)
		if err != nil {
			return nil, a.portErr("bulk IN", ctx, err)
		}
		data, err := stripStatus(raw[:k], mp)
		if err != nil {
			return nil, fmt.Errorf("ftdi: %s: %w", a.uri, err)
		}
		if len(got)+len(data) > n {
			return nil, fmt.Errorf("ftdi: %s: the chip sent %d bytes, %d were asked for: %w", a.uri, len(got)+len(data), n, ErrProtocol)
		}
		got = append(got, data...)
	}
	return got, nil
}

// portErr names a failed transfer; a context that ended is ErrTimeout.
func (a *Adapter) portErr(what string, ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ErrGone) {
		return fmt.Errorf("ftdi: %s: %s: %w: %w", a.uri, what, err, ErrTimeout)
	}
	return fmt.Errorf("ftdi: %s: %s: %w", a.uri, what, err)
}

// setLow sets ADBUS7..0.
func (a *Adapter) setLow(ctx context.Context, val, dir byte) error {
	_, err := a.exchange(ctx, []byte{regmap.MPSSESetLow, val, dir}, 0)
	return err
}

// idle is the low byte while the FPGA is held: chip select high, SCK at its idle level, MOSI
// low, CRESET_B low.
func (a *Adapter) idle() byte {
	v := byte(regmap.FTDIPinCS)
	if a.mode.cpol {
		v |= regmap.FTDIPinSCK
	}
	return v
}

// HoldReset drives CRESET_B low and the flash's SPI pins (hold), so that the FPGA lets go of
// the flash and the adapter masters it; or lets every pin go (release), so that the FPGA
// configures from the flash.
func (a *Adapter) HoldReset(hold bool) error {
	if err := a.enter(); err != nil {
		return err
	}
	defer a.mu.Unlock()
	return a.holdLocked(hold)
}

func (a *Adapter) holdLocked(hold bool) error {
	val, dir := byte(0), byte(0)
	if hold {
		val, dir = a.idle(), regmap.FTDIPinsSPI
	}
	if err := a.setLow(context.Background(), val, dir); err != nil {
		return err
	}
	a.held, a.csLow = hold, false
	return nil
}

// Configured reads the FPGA's CDONE: true once it configured from the flash.
func (a *Adapter) Configured() (bool, error) {
	p, err := a.Pins()
	return p&regmap.FTDIPinCDONE != 0, err
}

// Pins reads ADBUS7..0.
func (a *Adapter) Pins() (byte, error) {
	if err := a.enter(); err != nil {
		return 0, err
	}
	defer a.mu.Unlock()
	b, err := a.exchange(context.Background(), []byte{regmap.MPSSEGetLow, regmap.MPSSESendImmediate}, 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Close lets the FPGA go (every pin an input: it configures from the flash), leaves MPSSE
// mode and releases the chip: the kernel's driver gets channel A back.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	errs := []error{a.setLow(context.Background(), 0, 0), a.vendor(regmap.FTDIReqSetBitmode, regmap.FTDIBitmodeReset<<8, nil)}
	if err := a.p.close(); err != nil {
		errs = append(errs, fmt.Errorf("ftdi: %s: close: %w", a.uri, err))
	}
	return errors.Join(errs...)
}
