// Package usbdev is the emulated board's USB function: the bridge (an FX3/FT601-class USB
// device controller) in front of emu/board, as firmware/regmap defines it (docs/regmap.md
// §11), together with what the Linux kernel's usbdevfs does for the host (usbfs.go, which
// the FT2232H shares). A transport hands it the usbdevfs ioctls of a host's libusb
// (internal/umockdev does, through umockdev's ioctl emulation, so that unchanged libusb and
// gousb code talks to it); it answers them: descriptors and standard requests, the vendor
// requests for registers and sessions, and the bulk endpoints, whose frames it pumps to and
// from the board's rings.
//
// A session (ATTACH) gets rings of its own in plain memory and the board's firmware loop
// (board.Attach) over them; the OUT pump writes the records of bulk OUT into CMD and SPKIN,
// the IN pump moves CPL and OUT records to bulk IN, in bursts that end with a short or
// zero-length packet, and wakes on the board's interrupt (the bridge owns IRQ_MASK).
//
// Everything a host sends is checked: a malformed URB is refused with the errno the kernel
// gives, a malformed frame stalls bulk OUT, a malformed request stalls endpoint 0.
//
// FTDI (ftdi.go) is the board's other USB device, its recovery port (§13): an FT2232H whose
// MPSSE engine reaches the board's flash and its FPGA's reset and done pins.
package usbdev

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// Defaults of Opts.
const (
	DefaultBus   = 1
	DefaultAddr  = 2
	DefaultBurst = 256 << 10
)

// Opts configures a Function. The zero value gives the documented defaults.
type Opts struct {
	Speed regmap.USBSpeed // default regmap.USBSuperSpeed
	Bus   int             // bus number, default DefaultBus
	Addr  int             // device number on the bus, default DefaultAddr
	// Burst bounds the bytes the bridge sends on bulk IN in one burst (its DMA buffer),
	// default DefaultBurst; a record larger than that goes in a burst of its own.
	Burst int
	// Ready is told when URBs are waiting to be reaped and when the device is gone; nil:
	// nobody polls.
	Ready Ready
}

// ErrNoTestbed says that this build cannot put a function on a umockdev testbed.
var ErrNoTestbed = errors.New("usbdev: this build has no USB testbed: build the lab build, with -tags gousb (needs the Debian packages libusb-1.0-0-dev, libumockdev-dev, umockdev and pkg-config), or use scripts/with-usb-emu.sh")

// Function is the emulated USB function of one board. Its methods are safe for concurrent
// use; Ioctl never blocks for long (umockdev calls it from its one worker thread).
type Function struct {
	usbfs // the kernel's side of the device node; its mu guards what follows too

	b    *board.Board
	opts Opts
	mps  int

	ctx    context.Context // the Function's life
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cond   *sync.Cond // signalled when queues, the session or the state change
	hung   bool       // fault: the board stopped answering
	halted map[uint8]bool
	latch  map[uint32]uint32 // REG_READ: a pair's HI, latched when its LO was read alone
	sess   *session          // open
	last   *session          // the last one opened (it may be ending)
	ep0    []*urb
	outq   []*urb
	inq    []*urb
	inject [][]byte // fault: bursts to send on bulk IN first
	stats  Stats
}

// Stats counts what went over the endpoints, for tests and benchmarks.
type Stats struct {
	Sessions                  int
	ControlURBs               int
	OutURBs, InURBs           int
	OutBytes, InBytes         int64
	MaxOutFlight, MaxInFlight int // most bulk URBs queued at once
	Stalls                    int
}

// New makes the USB function of board b. Close it.
func New(b *board.Board, opts Opts) (*Function, error) {
	if opts.Speed == 0 {
		opts.Speed = regmap.USBSuperSpeed
	}
	if opts.Speed != regmap.USBHighSpeed && opts.Speed != regmap.USBSuperSpeed {
		return nil, fmt.Errorf("usbdev: speed %v is not high or super speed", opts.Speed)
	}
	if opts.Bus == 0 {
		opts.Bus = DefaultBus
	}
	if opts.Addr == 0 {
		opts.Addr = DefaultAddr
	}
	if opts.Bus < 1 || opts.Bus > 255 || opts.Addr < 2 || opts.Addr > 127 {
		return nil, fmt.Errorf("usbdev: bus %d, device %d: want a bus from 1 to 255 and a device from 2 to 127", opts.Bus, opts.Addr)
	}
	if opts.Burst == 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Burst < 512 {
		return nil, fmt.Errorf("usbdev: a burst of %d bytes is below one packet", opts.Burst)
	}
	f := &Function{b: b, opts: opts, mps: opts.Speed.MaxPacket(), halted: map[uint8]bool{}, latch: map[uint32]uint32{}}
	f.usbfs.init(f, 1, "", opts.Ready) // one vendor-specific interface, which no kernel driver wants
	f.cond = sync.NewCond(&f.mu)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(3)
	go f.ep0Worker()
	go f.outPump()
	go f.inPump()
	return f, nil
}

// String names the function.
func (f *Function) String() string {
	return fmt.Sprintf("USB function %04x:%04x at %s (bus %d, device %d) of the %s", regmap.USBVendorID, regmap.USBProductID,
		f.opts.Speed, f.opts.Bus, f.opts.Addr, f.b)
}

// Board returns the board behind the function.
func (f *Function) Board() *board.Board { return f.b }

// Stats returns the counters so far.
func (f *Function) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Close unplugs the function (see Unplug) and stops it.
func (f *Function) Close() error {
	f.Unplug()
	f.cancel()
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

// Unplug removes the device, as pulling its cable does: every URB in flight fails with
// ESHUTDOWN (and can still be reaped), every later request with ENODEV, the session ends,
// and Ready is told the device is gone.
func (f *Function) Unplug() {
	f.mu.Lock()
	was := f.unplugLocked()
	f.mu.Unlock()
	if was {
		f.endSession(nil)
	}
}

// Hang makes the board stop answering (on), or answer again: control requests and bulk
// transfers stay pending, as with a board whose FPGA hung.
func (f *Function) Hang(on bool) {
	f.mu.Lock()
	f.hung = on
	f.cond.Broadcast()
	f.mu.Unlock()
}

// Stall halts an endpoint (regmap.USBEndpointIn or USBEndpointOut) as a board does when
// something went wrong: its URBs fail with EPIPE until the host clears the halt.
func (f *Function) Stall(ep uint8) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stallLocked(ep)
}

// InjectIn makes the board send b as one burst on bulk IN before anything else: garbage or
// truncated frames, for tests of the host.
func (f *Function) InjectIn(b []byte) {
	f.mu.Lock()
	f.inject = append(f.inject, append([]byte(nil), b...))
	f.cond.Broadcast()
	f.mu.Unlock()
	f.kickIn()
}

func (f *Function) stallLocked(ep uint8) {
	if f.halted[ep] {
		return
	}
	f.halted[ep] = true
	f.stats.Stalls++
	q := &f.inq
	if ep == regmap.USBEndpointOut {
		q = &f.outq
	}
	for _, u := range *q {
		if u.cancel != nil {
			u.cancel()
		}
		f.completeLocked(u, -int32(syscall.EPIPE), u.outUsed)
	}
	*q = nil
	f.cond.Broadcast()
}

// --- the hooks of usbfs ---

func (f *Function) unpluggedLocked() {
	for _, q := range [][]*urb{f.ep0, f.outq, f.inq} {
		for _, u := range q {
			f.completeLocked(u, -int32(syscall.ESHUTDOWN), u.actual)
		}
	}
	f.ep0, f.outq, f.inq = nil, nil, nil
	f.cond.Broadcast()
}

func (f *Function) bulkEndpoint(ep uint8) (int, bool) {
	return regmap.USBInterface, ep == regmap.USBEndpointIn || ep == regmap.USBEndpointOut
}

// controlIntf: a request to the interface or to an endpoint uses the one interface.
func (f *Function) controlIntf(s setup) (int, bool) {
	return regmap.USBInterface, s.recipient() != recipDevice
}

// takeLocked queues an URB: control for the ep0 worker, bulk for its pump, unless the
// endpoint is halted.
func (f *Function) takeLocked(u *urb) {
	switch {
	case u.typ == urbTypeControl:
		f.ep0 = append(f.ep0, u)
		f.stats.ControlURBs++
	case u.ep&regmap.USBDirIn != 0:
		f.stats.InURBs++
		if f.halted[u.ep] {
			f.completeLocked(u, -int32(syscall.EPIPE), 0)
			break
		}
		f.inq = append(f.inq, u)
		f.stats.MaxInFlight = max(f.stats.MaxInFlight, len(f.inq))
	default:
		f.stats.OutURBs++
		if f.halted[u.ep] {
			f.completeLocked(u, -int32(syscall.EPIPE), 0)
			break
		}
		f.outq = append(f.outq, u)
		f.stats.MaxOutFlight = max(f.stats.MaxOutFlight, len(f.outq))
	}
	f.cond.Broadcast()
}

func (f *Function) taken(u *urb) {
	if u.typ == urbTypeBulk && u.ep&regmap.USBDirIn != 0 {
		f.kickIn()
	}
}

func (f *Function) cancelLocked(u *urb) syscall.Errno {
	for _, q := range []*[]*urb{&f.ep0, &f.outq, &f.inq} {
		for i, x := range *q {
			if x == u {
				*q = append((*q)[:i:i], (*q)[i+1:]...)
				break
			}
		}
	}
	f.completeLocked(u, -int32(syscall.ENOENT), u.outUsed)
	f.cond.Broadcast()
	return 0
}

// forgetLocked drops the URBs of a client that went away; a session it opened ends.
func (f *Function) forgetLocked(c *client) func() {
	for _, q := range []*[]*urb{&f.ep0, &f.outq, &f.inq} {
		kept := (*q)[:0]
		for _, u := range *q {
			if u.c == c {
				u.done = true
				if u.cancel != nil {
					u.cancel()
				}
				continue
			}
			kept = append(kept, u)
		}
		*q = kept
	}
	f.cond.Broadcast()
	if s := f.sess; s != nil && s.owner == c {
		return func() { f.endSession(s) }
	}
	return nil
}

func (f *Function) haltClearedLocked(ep uint8) {
	f.halted[ep] = false
	f.cond.Broadcast()
}

// kickIn wakes the IN pump (an URB or a burst to send).
func (f *Function) kickIn() {
	f.mu.Lock()
	s := f.sess
	f.mu.Unlock()
	if s != nil {
		s.signalIRQ()
	}
}
