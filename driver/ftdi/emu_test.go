package ftdi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// emuPort is usbPort over the emulated FT2232H of emu/usbdev, in this process: the same
// chip the gousb tests reach through libusb and umockdev, without the kernel's ioctls.
type emuPort struct {
	f      *usbdev.FTDI
	closed bool
	// corrupt, when set, changes what bulk IN brings (fault injection).
	corrupt func([]byte)
}

func (p *emuPort) control(rType, req uint8, val, idx uint16, data []byte, timeout time.Duration) (int, error) {
	n, err := p.f.Control(rType, req, val, idx, data)
	return n, emuErr(err)
}

func (p *emuPort) write(ctx context.Context, b []byte) error {
	_, err := p.f.BulkOut(ctx, regmap.FTDIEndpointAOut, b)
	return emuErr(err)
}

func (p *emuPort) read(ctx context.Context, b []byte) (int, error) {
	n, err := p.f.BulkIn(ctx, regmap.FTDIEndpointAIn, b)
	if p.corrupt != nil {
		p.corrupt(b[:n])
	}
	return n, emuErr(err)
}

func (p *emuPort) maxPacket() int { return regmap.FTDIMaxPacket }
func (p *emuPort) close() error   { p.closed = true; return nil }

// emuErr maps the emulated chip's errors as ftdi_gousb.go maps libusb's.
func emuErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, usbdev.ErrGone):
		return fmt.Errorf("%w: %w", err, ErrGone)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: %w", err, ErrProtocol)
}

// rig is an emulated board's flash with its FT2232H, and an adapter open on it.
type rig struct {
	fl   *board.Flash
	chip *usbdev.FTDI
	port *emuPort
	a    *Adapter
}

func newRig(t testing.TB, fl *board.Flash, copts usbdev.FTDIOpts, opts *Opts) *rig {
	t.Helper()
	if fl == nil {
		b, err := board.New(board.Opts{})
		require.NoError(t, err)
		fl = b.Flash()
		b.Close()
	}
	chip, err := usbdev.NewFTDI(fl, copts)
	require.NoError(t, err)
	t.Cleanup(func() { chip.Close() })
	r := &rig{fl: fl, chip: chip, port: &emuPort{f: chip}}
	o, err := opts.withDefaults()
	require.NoError(t, err)
	id := Identity{Manufacturer: regmap.FTDIManufacturer, Product: "lrchip emulator", Serial: chip.Serial(), Path: chip.DevNode()}
	r.a, err = newAdapter(context.Background(), r.port, id, fmt.Sprintf("usb:%04x:%04x:%s", regmap.FTDIVendorID, regmap.FTDIProductID, chip.Serial()), o)
	require.NoError(t, err)
	t.Cleanup(func() { r.a.Close() })
	return r
}
