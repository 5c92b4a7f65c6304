//go:build gousb

package gousbx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/gousb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/umockdev"
)

// Open runs against emulated FT2232Hs on a umockdev testbed, through the real libusb: the
// test binary re-executes itself with libumockdev-preload.
func TestMain(m *testing.M) {
	umockdev.EnsurePreloaded()
	os.Exit(m.Run())
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{nil, NotUSB},
		{errors.New("something else"), NotUSB},
		{gousb.ErrorNoDevice, Gone},
		{fmt.Errorf("control: %w", gousb.ErrorTimeout), Timeout},
		{gousb.ErrorPipe, Stall},
		{gousb.ErrorBusy, Busy},
		{gousb.ErrorOverflow, Overflow},
		{gousb.ErrorAccess, Other},
		{gousb.TransferNoDevice, Gone},
		{gousb.TransferError, Gone},
		{fmt.Errorf("read: %w", gousb.TransferTimedOut), Timeout},
		{gousb.TransferStall, Stall},
		{gousb.TransferOverflow, Overflow},
		{gousb.TransferCancelled, Cancelled},
		{io.ErrClosedPipe, Gone},
	} {
		assert.Equal(t, tc.want, KindOf(tc.err), "%v", tc.err)
	}
	assert.Equal(t, "gone", Gone.String())
	assert.Equal(t, "Kind(99)", Kind(99).String())
}

func TestWrap(t *testing.T) {
	errGone, errStall := errors.New("gone"), errors.New("stall")
	to := map[Kind]error{Gone: errGone, Stall: errStall, Overflow: errStall}
	require.NoError(t, Wrap(nil, to))

	err := Wrap(fmt.Errorf("read: %w", gousb.TransferNoDevice), to)
	assert.ErrorIs(t, err, errGone)
	assert.ErrorIs(t, err, gousb.TransferNoDevice, "the cause stays")

	err = Wrap(io.ErrClosedPipe, to)
	assert.ErrorIs(t, err, errGone)
	assert.Contains(t, err.Error(), "the transfer stream ended")
	assert.Contains(t, Wrap(gousb.TransferOverflow, to).Error(), "more than a transfer holds")

	for _, e := range []error{gousb.ErrorTimeout, gousb.TransferCancelled, errors.New("not libusb's")} {
		assert.Equal(t, e, Wrap(e, to), "no sentinel for %v: as it is", e)
	}
}

func TestIs(t *testing.T) {
	assert.True(t, Is(gousb.ErrorAccess, gousb.ErrorAccess))
	assert.True(t, Is(fmt.Errorf("open: %v", gousb.ErrorAccess), gousb.ErrorAccess), "gousb's errors made with %%v")
	assert.False(t, Is(gousb.ErrorBusy, gousb.ErrorAccess))
	assert.False(t, Is(nil, gousb.ErrorAccess))
}

// TestOpen: with two chips plugged in, Open picks the first by bus without a serial number
// and the one named with it; a serial or an id nobody has is ErrNotFound.
func TestOpen(t *testing.T) {
	tb, err := usbdev.NewTestbed()
	require.NoError(t, err)
	t.Cleanup(func() { tb.Close() })
	chips := map[string]*usbdev.FTDI{}
	for i, serial := range []string{"GOUSBX2", "GOUSBX1"} {
		b, err := board.New(board.Opts{})
		require.NoError(t, err)
		fl := b.Flash()
		b.Close()
		chip, err := usbdev.NewFTDI(fl, usbdev.FTDIOpts{Bus: 41 - i, Serial: serial})
		require.NoError(t, err)
		require.NoError(t, tb.Plug(chip))
		t.Cleanup(func() { chip.Close() })
		chips[serial] = chip
	}
	for _, tc := range []struct{ serial, want string }{{"", "GOUSBX1"}, {"GOUSBX1", "GOUSBX1"}, {"GOUSBX2", "GOUSBX2"}} {
		o, err := Open(Opts{VID: regmap.FTDIVendorID, PID: regmap.FTDIProductID, Serial: tc.serial, ControlTimeout: 3 * time.Second})
		require.NoError(t, err, "serial %q", tc.serial)
		assert.Equal(t, tc.want, o.Serial)
		assert.Equal(t, chips[tc.want].DevNode(), o.Path)
		assert.Equal(t, 3*time.Second, o.Device.ControlTimeout)
		require.NoError(t, o.Device.Close())
		require.NoError(t, o.Context.Close())
	}
	_, err = Open(Opts{VID: regmap.FTDIVendorID, PID: regmap.FTDIProductID, Serial: "NOBODY"})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = Open(Opts{VID: 0xdead, PID: 0xbeef})
	require.ErrorIs(t, err, ErrNotFound)
}
