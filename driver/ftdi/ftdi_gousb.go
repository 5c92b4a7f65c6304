//go:build gousb

// This file is the package's only cgo (with driver/internal/gousbx, the libusb plumbing it
// shares with the driver's USB transport): the FT2232H through libusb
// (github.com/google/gousb), behind usbPort. Build with -tags gousb (the lab build; it needs
// libusb-1.0-0-dev and pkg-config).

package ftdi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/gousb"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/driver/internal/gousbx"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func init() { openUSB = openGousb }

// portSentinels are the adapter's errors for what gousb says: a cancelled transfer stays as
// it is (the context ended: the adapter says so), anything else from libusb is a protocol
// error.
var portSentinels = map[gousbx.Kind]error{gousbx.Gone: ErrGone, gousbx.Timeout: ErrTimeout, gousbx.Busy: ErrBusy,
	gousbx.Stall: ErrProtocol, gousbx.Overflow: ErrProtocol, gousbx.Other: ErrProtocol}

// portErr turns a gousb error into one the adapter knows.
func portErr(err error) error { return gousbx.Wrap(err, portSentinels) }

// openGousb opens the FTDI chip u names (the serial picks one of several) and claims channel
// A's interface, detaching the kernel's ftdi_sio from it and from nothing else.
//
// gousb's traps: Config, with auto-detach on, detaches the kernel driver of every interface
// of the configuration, channel B's UART too, and nothing re-attaches those; so Config runs
// with it off (the configuration is the active one: nothing is set), and auto-detach is on
// only for the claim, where libusb detaches interface 0's driver alone and re-attaches it
// when the interface is released.
func openGousb(ctx context.Context, u driver.URI) (usbPort, Identity, error) {
	what := u.String()
	o, err := gousbx.Open(gousbx.Opts{VID: u.VID, PID: u.PID, Serial: u.Serial, ControlTimeout: time.Second})
	switch {
	case errors.Is(err, gousbx.ErrNoLibusb):
		return nil, Identity{}, fmt.Errorf("ftdi: %s: %v: %w", what, err, ErrNotFound)
	case errors.Is(err, gousbx.ErrAccess):
		return nil, Identity{}, fmt.Errorf("ftdi: %s: %v: install udev/70-lrchip.rules and join group %s: %w", what, err, regmap.UdevGroup, ErrNotFound)
	case err != nil && ctx.Err() != nil:
		return nil, Identity{}, fmt.Errorf("ftdi: %s: %w: %w", what, ctx.Err(), ErrTimeout)
	case err != nil:
		return nil, Identity{}, fmt.Errorf("ftdi: %s: no such FTDI chip is plugged in: %w", what, ErrNotFound)
	}
	pick := o.Device
	id := Identity{Serial: o.Serial, Path: o.Path}
	id.Manufacturer, _ = pick.Manufacturer()
	id.Product, _ = pick.Product()
	p := &gousbPort{c: o.Context, d: pick, path: id.Path}
	if err := p.claim(); err != nil {
		p.close()
		return nil, Identity{}, err
	}
	return p, id, nil
}

// gousbPort is an FTDI chip opened through gousb, channel A's interface claimed.
type gousbPort struct {
	c    *gousb.Context
	d    *gousb.Device
	path string
	cfg  *gousb.Config
	intf *gousb.Interface
	in   *gousb.InEndpoint
	out  *gousb.OutEndpoint
}

func (p *gousbPort) claim() error {
	busy := func(err error) error {
		if gousbx.Is(err, gousb.ErrorBusy) {
			return fmt.Errorf("ftdi: %s: channel A: %v: %w", p.path, err, ErrBusy)
		}
		return fmt.Errorf("ftdi: %s: channel A: %w", p.path, portErr(err))
	}
	if err := p.d.SetAutoDetach(false); err != nil {
		return busy(err)
	}
	cfg, err := p.d.Config(1)
	if err != nil {
		return busy(err)
	}
	p.cfg = cfg
	if err := p.d.SetAutoDetach(true); err != nil {
		return busy(err)
	}
	if p.intf, err = cfg.Interface(regmap.FTDIInterfaceA, 0); err != nil {
		return busy(err)
	}
	if p.out, err = p.intf.OutEndpoint(regmap.FTDIEndpointAOut); err == nil {
		p.in, err = p.intf.InEndpoint(regmap.FTDIEndpointAIn & 0x7f)
	}
	if err != nil {
		return fmt.Errorf("ftdi: %s: not an FT2232H's channel A: %v: %w", p.path, err, ErrProtocol)
	}
	return nil
}

// control runs a control transfer; gousb has no context for them, so the timeout bounds it.
func (p *gousbPort) control(rType, req uint8, val, idx uint16, data []byte, timeout time.Duration) (int, error) {
	p.d.ControlTimeout = timeout // the adapter runs one exchange at a time
	n, err := p.d.Control(rType, req, val, idx, data)
	return n, portErr(err)
}

func (p *gousbPort) write(ctx context.Context, b []byte) error {
	n, err := p.out.WriteContext(ctx, b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("wrote %d of %d bytes: %w", n, len(b), ErrProtocol)
	}
	return portErr(err)
}

func (p *gousbPort) read(ctx context.Context, b []byte) (int, error) {
	n, err := p.in.ReadContext(ctx, b)
	return n, portErr(err)
}

func (p *gousbPort) maxPacket() int { return p.in.Desc.MaxPacketSize }

// close releases the interface (libusb gives it back to ftdi_sio), the device and libusb.
func (p *gousbPort) close() error {
	var errs []error
	if p.intf != nil {
		p.intf.Close()
	}
	if p.cfg != nil {
		errs = append(errs, p.cfg.Close())
	}
	errs = append(errs, p.d.Close(), p.c.Close())
	return errors.Join(errs...)
}
