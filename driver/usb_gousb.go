//go:build gousb

// This file is the driver's only cgo: USB boards through libusb (github.com/google/gousb),
// behind usbDevice (usb.go), and USB discovery. Build with -tags gousb (the lab build; it
// needs libusb-1.0-0-dev and pkg-config); without the tag the usb transport says how to get
// this build, and discovery reads sysfs.

package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/gousb"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func init() {
	usbScan = scanUSBLibusb
	usbOpen = openUSBLibusb
	RegisterTransport(TransportUSB, dialUSB)
}

// newUSBContext starts libusb; gousb panics where it cannot (no USB in a container, say).
func newUSBContext() (c *gousb.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("libusb cannot start: %v", r)
		}
	}()
	return gousb.NewContext(), nil
}

// usbErr turns a gousb error into one the link knows (usbDevice's contract).
func usbErr(err error) error {
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
		case gousb.ErrorPipe:
			return fmt.Errorf("%w: %w", err, errUSBStall)
		case gousb.ErrorBusy:
			return fmt.Errorf("%w: %w", err, ErrBusy)
		case gousb.ErrorOverflow:
			return fmt.Errorf("%w: %w", err, ErrProtocol)
		}
	case errors.As(err, &s):
		switch s {
		case gousb.TransferNoDevice, gousb.TransferError:
			return fmt.Errorf("%w: %w", err, ErrGone)
		case gousb.TransferTimedOut:
			return fmt.Errorf("%w: %w", err, ErrTimeout)
		case gousb.TransferStall:
			return fmt.Errorf("%w: %w", err, errUSBStall)
		case gousb.TransferOverflow:
			return fmt.Errorf("the board sent more than a transfer holds: %w: %w", err, ErrProtocol)
		}
	case errors.Is(err, io.ErrClosedPipe):
		return fmt.Errorf("the transfer stream ended: %w: %w", err, ErrGone)
	}
	return err
}

// isUSBErr reports whether err is (or says, for gousb's errors made with %v) e.
func isUSBErr(err error, e gousb.Error) bool {
	return err != nil && (errors.Is(err, e) || strings.Contains(err.Error(), e.Error()))
}

// openUSBLibusb finds the board u names among libusb's devices and opens it. It lists them
// with OpenDevices, not OpenDeviceWithVIDPID, which returns (nil, nil) when nothing matches
// and cannot pick a serial number.
func openUSBLibusb(ctx context.Context, u URI) (usbOpened, error) {
	what := u.String()
	c, err := newUSBContext()
	if err != nil {
		return usbOpened{}, errorf("%s: %v: %w", what, err, ErrNotFound)
	}
	devs, openErr := c.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return d.Vendor == gousb.ID(u.VID) && d.Product == gousb.ID(u.PID)
	})
	sort.Slice(devs, func(i, j int) bool {
		a, b := devs[i].Desc, devs[j].Desc
		return a.Bus < b.Bus || a.Bus == b.Bus && a.Address < b.Address
	})
	var pick *gousb.Device
	var serial string
	for _, d := range devs {
		s, err := d.SerialNumber()
		if pick == nil && err == nil && (u.Serial == "" || s == u.Serial) {
			pick, serial = d, s
			continue
		}
		d.Close()
	}
	if pick == nil {
		c.Close()
		if isUSBErr(openErr, gousb.ErrorAccess) {
			return usbOpened{}, errorf("%s: cannot open the board (%v): install udev/70-lrchip.rules and join group %s", what, openErr, regmap.UdevGroup)
		}
		if ctx.Err() != nil {
			return usbOpened{}, ctxError(ctx, what+": open")
		}
		return usbOpened{}, errorf("%s: no such board is plugged in (lrctl list shows the boards): %w", what, ErrNotFound)
	}
	path := fmt.Sprintf("/dev/bus/usb/%03d/%03d", pick.Desc.Bus, pick.Desc.Address)
	return usbOpened{dev: &gousbDevice{c: c, d: pick, path: path}, serial: serial, path: path}, nil
}

// gousbDevice is a board opened through gousb.
type gousbDevice struct {
	c    *gousb.Context
	d    *gousb.Device
	path string

	cfg  *gousb.Config
	intf *gousb.Interface
	in   *gousb.InEndpoint
	out  *gousb.OutEndpoint

	mu sync.Mutex
	rs *gousb.ReadStream // opened by the first read
}

func (g *gousbDevice) claim() error {
	cfg, err := g.d.Config(regmap.USBConfigValue)
	if err != nil {
		if isUSBErr(err, gousb.ErrorBusy) {
			return fmt.Errorf("%s: %v: %w", g.path, err, ErrBusy)
		}
		return fmt.Errorf("%s: %w", g.path, usbErr(err))
	}
	intf, err := cfg.Interface(regmap.USBInterface, 0)
	if err != nil {
		cfg.Close()
		if isUSBErr(err, gousb.ErrorBusy) {
			return fmt.Errorf("%s: %v: %w", g.path, err, ErrBusy)
		}
		return fmt.Errorf("%s: %w", g.path, usbErr(err))
	}
	g.cfg, g.intf = cfg, intf
	if g.out, err = intf.OutEndpoint(regmap.USBEndpointOut); err == nil {
		g.in, err = intf.InEndpoint(regmap.USBEndpointIn & 0x7f)
	}
	if err != nil {
		return fmt.Errorf("%s: the board has not the endpoints of its USB function: %v: %w", g.path, err, ErrProtocol)
	}
	return nil
}

// control runs a control transfer; gousb has no context for them, so the timeout bounds it.
func (g *gousbDevice) control(rType, req uint8, val, idx uint16, data []byte, timeout time.Duration) (int, error) {
	g.d.ControlTimeout = timeout // the link runs one control request at a time
	n, err := g.d.Control(rType, req, val, idx, data)
	return n, usbErr(err)
}

// read reads one transfer of a ReadStream of regmap.USBHostInFlight transfers, opened by the
// first read. A ReadStream dies after one failed transfer (gousb cancels the rest); the link
// ends with the first failed IN transfer anyway, as the board is gone or broke the protocol.
func (g *gousbDevice) read(ctx context.Context, p []byte) (int, error) {
	g.mu.Lock()
	if g.rs == nil {
		rs, err := g.in.NewStream(regmap.USBHostTransfer, regmap.USBHostInFlight)
		if err != nil {
			g.mu.Unlock()
			return 0, usbErr(err)
		}
		g.rs = rs
	}
	rs := g.rs
	g.mu.Unlock()
	n, err := rs.ReadContext(ctx, p)
	return n, usbErr(err)
}

func (g *gousbDevice) write(ctx context.Context, p []byte) error {
	_, err := g.out.WriteContext(ctx, p)
	return usbErr(err)
}

func (g *gousbDevice) stream() (usbStream, error) {
	ws, err := g.out.NewStream(regmap.USBHostTransfer, regmap.USBHostInFlight)
	if err != nil {
		return nil, usbErr(err)
	}
	return gousbStream{ws}, nil
}

// closeReads bounds the reads close makes to stop the IN transfers.
const closeReads = 1000

type gousbStream struct{ ws *gousb.WriteStream }

func (s gousbStream) write(ctx context.Context, p []byte) error {
	_, err := s.ws.WriteContext(ctx, p)
	return usbErr(err)
}

func (s gousbStream) close(ctx context.Context) error { return usbErr(s.ws.CloseContext(ctx)) }

// close cancels the IN transfers still queued, then releases the interface, the device and
// libusb. gousb has no way to stop a ReadStream but a read with a cancelled context, which
// cancels a pending transfer and all behind it, but hands out (and submits again) one that
// has completed: so it reads until a read fails. A board that never stops sending would keep
// it going; after closeReads reads it gives up and leaves libusb open rather than free
// transfers still in flight.
func (g *gousbDevice) close() error {
	g.mu.Lock()
	rs := g.rs
	g.rs = nil
	g.mu.Unlock()
	if rs != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		buf := make([]byte, regmap.USBHostTransfer)
		stopped := false
		for i := 0; i < closeReads && !stopped; i++ {
			_, err := rs.ReadContext(ctx, buf)
			stopped = err != nil
		}
		if !stopped {
			return fmt.Errorf("%s: the board kept sending: its transfers could not be stopped", g.path)
		}
	}
	if g.intf != nil {
		g.intf.Close()
	}
	if g.cfg != nil {
		g.cfg.Close()
	}
	g.d.Close()
	return g.c.Close()
}

// scanUSBLibusb asks libusb for the boards: serial numbers, and what the board's IDENTITY
// says (size, firmware, protocol, who holds it). Where libusb cannot start it reads sysfs.
func scanUSBLibusb(ctx context.Context, sysfs string) (found []Found, err error) {
	c, err := newUSBContext()
	if err != nil {
		return scanUSBSysfs(ctx, sysfs)
	}
	defer c.Close()
	var descs []*gousb.DeviceDesc
	devs, openErr := c.OpenDevices(func(d *gousb.DeviceDesc) bool {
		if d.Vendor == gousb.ID(regmap.USBVendorID) && d.Product == gousb.ID(regmap.USBProductID) {
			descs = append(descs, d)
			return true
		}
		return false
	})
	opened := map[[2]int]*gousb.Device{}
	for _, d := range devs {
		opened[[2]int{d.Desc.Bus, d.Desc.Address}] = d
		defer d.Close()
	}
	for _, d := range descs {
		f := Found{Transport: TransportUSB, Board: regmap.BoardUSB.String(), Path: fmt.Sprintf("/dev/bus/usb/%03d/%03d", d.Bus, d.Address)}
		dev := opened[[2]int{d.Bus, d.Address}]
		if dev == nil {
			if openErr != nil {
				f.Error = fmt.Sprintf("cannot open it (is the udev rule installed, are you in group %s?): %v", regmap.UdevGroup, openErr)
			}
		} else {
			if s, err := dev.SerialNumber(); err == nil {
				f.Serial = s
			}
			dev.ControlTimeout = time.Second
			b := make([]byte, regmap.USBIdentitySize)
			if n, err := dev.Control(regmap.USBVendorIn, uint8(regmap.USBReqIdentity), 0, 0, b); err == nil {
				if id, err := regmap.DecodeUSBIdentity(b[:n]); err == nil {
					f.Board, f.Firmware, f.Protocol = id.BoardID.String(), id.FWVersion.String(), id.Version.String()
					f.Size = fmt.Sprintf("%d×%d", id.Cores, id.Neurons)
					if id.Attached {
						f.Holder = "another process"
						if id.HolderPID != 0 {
							f.Holder = fmt.Sprintf("pid %d (%s)", id.HolderPID, id.HolderComm)
						}
					}
				}
			}
		}
		f.URI = URI{Transport: TransportUSB, VID: regmap.USBVendorID, PID: regmap.USBProductID, Serial: f.Serial}.String()
		found = append(found, f)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].URI < found[j].URI })
	return found, nil
}
