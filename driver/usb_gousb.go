//go:build gousb

// This file and driver/internal/gousbx (libusb plumbing shared with driver/ftdi) are the
// driver's only cgo: USB boards through libusb (github.com/google/gousb), behind usbDevice
// (usb.go), and USB discovery. Build with -tags gousb (the lab build; it
// needs libusb-1.0-0-dev and pkg-config); without the tag the usb transport says how to get
// this build, and discovery reads sysfs.

package driver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/gousb"

	"github.com/lrchip/lrchip/driver/internal/gousbx"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func init() {
	usbScan = scanUSBLibusb
	usbOpen = openUSBLibusb
	RegisterTransport(TransportUSB, dialUSB)
}

// usbSentinels are the link's errors for what gousb says (usbDevice's contract).
var usbSentinels = map[gousbx.Kind]error{gousbx.Gone: ErrGone, gousbx.Timeout: ErrTimeout, gousbx.Stall: errUSBStall,
	gousbx.Busy: ErrBusy, gousbx.Overflow: ErrProtocol}

// usbErr turns a gousb error into one the link knows.
func usbErr(err error) error { return gousbx.Wrap(err, usbSentinels) }

// openUSBLibusb finds the board u names among libusb's devices and opens it.
func openUSBLibusb(ctx context.Context, u URI) (usbOpened, error) {
	what := u.String()
	o, err := gousbx.Open(gousbx.Opts{VID: u.VID, PID: u.PID, Serial: u.Serial})
	switch {
	case errors.Is(err, gousbx.ErrNoLibusb):
		return usbOpened{}, errorf("%s: %v: %w", what, err, ErrNotFound)
	case errors.Is(err, gousbx.ErrAccess):
		return usbOpened{}, errorf("%s: %v: install udev/70-lrchip.rules and join group %s", what, err, regmap.UdevGroup)
	case err != nil && ctx.Err() != nil:
		return usbOpened{}, ctxError(ctx, what+": open")
	case err != nil:
		return usbOpened{}, errorf("%s: no such board is plugged in (lrctl list shows the boards): %w", what, ErrNotFound)
	}
	return usbOpened{dev: &gousbDevice{c: o.Context, d: o.Device, path: o.Path}, serial: o.Serial, path: o.Path}, nil
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
		if gousbx.Is(err, gousb.ErrorBusy) {
			return fmt.Errorf("%s: %v: %w", g.path, err, ErrBusy)
		}
		return fmt.Errorf("%s: %w", g.path, usbErr(err))
	}
	intf, err := cfg.Interface(regmap.USBInterface, 0)
	if err != nil {
		cfg.Close()
		if gousbx.Is(err, gousb.ErrorBusy) {
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
	c, err := gousbx.NewContext()
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
		f := Found{Transport: TransportUSB, Board: regmap.BoardUSB.String(), Path: gousbx.Path(d)}
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
