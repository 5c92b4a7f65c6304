//go:build gousb

package gousbx

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/gousb"
)

// Errors of Open.
var (
	// ErrNoLibusb: libusb cannot start here (no USB in a container, say).
	ErrNoLibusb = errors.New("libusb cannot start")
	// ErrAccess: a matching device is there, but libusb may not open it.
	ErrAccess = errors.New("cannot open it")
	// ErrNotFound: no matching device is plugged in.
	ErrNotFound = errors.New("no such device")
)

// NewContext starts libusb. gousb panics where it cannot; this says so with ErrNoLibusb.
func NewContext() (c *gousb.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%w: %v", ErrNoLibusb, r)
		}
	}()
	return gousb.NewContext(), nil
}

// Path is the device node of a device, /dev/bus/usb/BBB/DDD.
func Path(d *gousb.DeviceDesc) string {
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", d.Bus, d.Address)
}

// Opts says which device Open opens.
type Opts struct {
	VID, PID uint16
	// Serial picks the device whose serial number string it is; "" picks the first, by bus
	// number and then device number.
	Serial string
	// ControlTimeout bounds the control transfers of the devices Open reads (their serial
	// numbers), and stays set on the one it opens. Default: gousb's.
	ControlTimeout time.Duration
}

// Opened is a device Open opened, in a libusb context of its own: the caller closes the
// device, then the context.
type Opened struct {
	Context *gousb.Context
	Device  *gousb.Device
	Serial  string // its serial number string
	Path    string // its device node
}

// Open finds the device opts names among libusb's devices and opens it. It lists them with
// OpenDevices, not OpenDeviceWithVIDPID, which returns (nil, nil) when nothing matches and
// cannot pick a serial number. It fails with ErrNoLibusb, ErrAccess (libusb could not open a
// matching device: permissions) or ErrNotFound.
func Open(opts Opts) (Opened, error) {
	c, err := NewContext()
	if err != nil {
		return Opened{}, err
	}
	devs, openErr := c.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return d.Vendor == gousb.ID(opts.VID) && d.Product == gousb.ID(opts.PID)
	})
	sort.Slice(devs, func(i, j int) bool {
		a, b := devs[i].Desc, devs[j].Desc
		return a.Bus < b.Bus || a.Bus == b.Bus && a.Address < b.Address
	})
	var o Opened
	for _, d := range devs {
		if opts.ControlTimeout > 0 {
			d.ControlTimeout = opts.ControlTimeout
		}
		s, err := d.SerialNumber()
		if o.Device == nil && err == nil && (opts.Serial == "" || s == opts.Serial) {
			o.Device, o.Serial = d, s
			continue
		}
		d.Close()
	}
	if o.Device == nil {
		c.Close()
		if Is(openErr, gousb.ErrorAccess) {
			return Opened{}, fmt.Errorf("%w: %v", ErrAccess, openErr)
		}
		return Opened{}, ErrNotFound
	}
	o.Context, o.Path = c, Path(o.Device.Desc)
	return o, nil
}

// Is reports whether err is (or says, for gousb's errors made with %v) e.
func Is(err error, e gousb.Error) bool {
	return err != nil && (errors.Is(err, e) || strings.Contains(err.Error(), e.Error()))
}

// Kind is what a gousb error means to its callers.
type Kind int

const (
	// NotUSB: not libusb's error.
	NotUSB Kind = iota
	// Gone: the device went away (LIBUSB_ERROR_NO_DEVICE, a transfer that found no device
	// or failed as it left), or a transfer stream was used after it ended.
	Gone
	// Timeout: a transfer timed out.
	Timeout
	// Stall: the device stalled the endpoint (LIBUSB_ERROR_PIPE).
	Stall
	// Busy: another driver or process holds the interface.
	Busy
	// Overflow: the device sent more than the transfer holds.
	Overflow
	// Cancelled: a transfer was cancelled (its context ended).
	Cancelled
	// Other: a libusb error or transfer status that none of the above names.
	Other
)

var kindNames = [...]string{"not libusb's", "gone", "timeout", "stall", "busy", "overflow", "cancelled", "other"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// KindOf says what err means.
func KindOf(err error) Kind {
	var e gousb.Error
	var s gousb.TransferStatus
	switch {
	case err == nil:
		return NotUSB
	case errors.As(err, &e):
		switch e {
		case gousb.ErrorNoDevice:
			return Gone
		case gousb.ErrorTimeout:
			return Timeout
		case gousb.ErrorPipe:
			return Stall
		case gousb.ErrorBusy:
			return Busy
		case gousb.ErrorOverflow:
			return Overflow
		}
		return Other
	case errors.As(err, &s):
		switch s {
		case gousb.TransferNoDevice, gousb.TransferError:
			return Gone
		case gousb.TransferTimedOut:
			return Timeout
		case gousb.TransferStall:
			return Stall
		case gousb.TransferOverflow:
			return Overflow
		case gousb.TransferCancelled:
			return Cancelled
		}
		return Other
	case errors.Is(err, io.ErrClosedPipe):
		return Gone
	}
	return NotUSB
}

// Wrap returns err wrapping as well the sentinel that sentinels gives its kind; err as it is
// where sentinels gives none (and nil for nil).
func Wrap(err error, sentinels map[Kind]error) error {
	k := KindOf(err)
	s := sentinels[k]
	if err == nil || s == nil {
		return err
	}
	switch {
	case errors.Is(err, io.ErrClosedPipe):
		return fmt.Errorf("the transfer stream ended: %w: %w", err, s)
	case k == Overflow:
		return fmt.Errorf("the device sent more than a transfer holds: %w: %w", err, s)
	}
	return fmt.Errorf("%w: %w", err, s)
}
