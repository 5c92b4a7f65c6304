//go:build gousb

// This file is the package's only cgo: the FT2232H through libusb (github.com/google/gousb),
// behind usbPort. Build with -tags gousb (the lab build; it needs libusb-1.0-0-dev and
// pkg-config).

package ftdi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/gousb"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func init() { openUSB = openGousb }

// newContext starts libusb; gousb panics where it cannot (no USB in a container, say).
func newContext() (c *gousb.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("libusb cannot start: %v", r)
		}
	}()
	return gousb.NewContext(), nil
}

// portErr turns a gousb error into one the adapter knows.
func portErr(err error) error {
	var e gousb.Error
	var s gousb.TransferStatus
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		switch e {
		case gousb.ErrorNoDevice:
			return fmt.Errorf("%w: %w", err, ErrGone)
		case gousb.ErrorTimeout:
			return fmt.Errorf("%w: %w", err, ErrTimeout)
		case gousb.ErrorBusy:
			return fmt.Errorf("%w: %w", err, ErrBusy)
		}
		return fmt.Errorf("%w: %w", err, ErrProtocol)
	case errors.As(err, &s):
		switch s {
		case gousb.TransferNoDevice, gousb.TransferError:
			return fmt.Errorf("%w: %w", err, ErrGone)
		case gousb.TransferTimedOut:
			return fmt.Errorf("%w: %w", err, ErrTimeout)
		case gousb.TransferCancelled:
			return err // the context ended: the adapter says so
		}
		return fmt.Errorf("%w: %w", err, ErrProtocol)
	}
	return err
}

// isErr reports whether err is (or says, for gousb's errors made with %v) e.
func isErr(err error, e gousb.Error) bool {
	return err != nil && (errors.Is(err, e) || strings.Contains(err.Error(), e.Error()))
}

// openGousb opens the FTDI chip u names (the serial picks one of several) and claims channel
// A's interface, detaching the kernel's ftdi_sio from it and from nothing else.
//
// gousb's traps: Config, with auto-detach on, detaches the kernel driver of every interface
// of the configuration, channel B's UART too, and nothing re-attaches those; so Config runs
// with it off (the configuration is the active one: nothing is set), and auto-detach is on
// only for the claim, where libusb detaches interface 0's driver alone and re-attaches it
// when the interface is released. OpenDeviceWithVIDPID returns (nil, nil) when nothing
// matches and cannot pick a serial number: OpenDevices lists them.
func openGousb(ctx context.Context, u driver.URI) (usbPort, Identity, error) {
	what := u.String()
	c, err := newContext()
	if err != nil {
		return nil, Identity{}, fmt.Errorf("ftdi: %s: %v: %w", what, err, ErrNotFound)
	}
	devs, openErr := c.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return d.Vendor == gousb.ID(u.VID) && d.Product == gousb.ID(u.PID)
	})
	sort.Slice(devs, func(i, j int) bool {
		a, b := devs[i].Desc, devs[j].Desc
		return a.Bus < b.Bus || a.Bus == b.Bus && a.Address < b.Address
	})
	var pick *gousb.Device
	var id Identity
	for _, d := range devs {
		d.ControlTimeout = time.Second
		s, err := d.SerialNumber()
		if pick == nil && err == nil && (u.Serial == "" || s == u.Serial) {
			pick, id.Serial = d, s
			continue
		}
		d.Close()
	}
	if pick == nil {
		c.Close()
		if isErr(openErr, gousb.ErrorAccess) {
			return nil, Identity{}, fmt.Errorf("ftdi: %s: cannot open the chip (%v): install udev/70-lrchip.rules and join group %s: %w", what, openErr, regmap.UdevGroup, ErrNotFound)
		}
		if ctx.Err() != nil {
			return nil, Identity{}, fmt.Errorf("ftdi: %s: %w: %w", what, ctx.Err(), ErrTimeout)
		}
		return nil, Identity{}, fmt.Errorf("ftdi: %s: no such FTDI chip is plugged in: %w", what, ErrNotFound)
	}
	id.Path = fmt.Sprintf("/dev/bus/usb/%03d/%03d", pick.Desc.Bus, pick.Desc.Address)
	id.Manufacturer, _ = pick.Manufacturer()
	id.Product, _ = pick.Product()
	p := &gousbPort{c: c, d: pick, path: id.Path}
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
		if isErr(err, gousb.ErrorBusy) {
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
