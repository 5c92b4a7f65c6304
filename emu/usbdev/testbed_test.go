//go:build gousb

package usbdev

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/google/gousb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/umockdev"
)

// These tests put the function on a umockdev testbed and talk to it through the real libusb
// (gousb), as the driver does; the test binary runs with libumockdev-preload.
func TestMain(m *testing.M) {
	umockdev.EnsurePreloaded()
	os.Exit(m.Run())
}

var (
	testbedOnce sync.Once
	testbed     *Testbed
	testbedErr  error
	nextBus     = 10
	busMu       sync.Mutex
)

// plugged plugs a new board's function into the process's testbed, on a bus of its own.
func plugged(t *testing.T, opts Opts) *Function {
	testbedOnce.Do(func() { testbed, testbedErr = NewTestbed() })
	require.NoError(t, testbedErr)
	busMu.Lock()
	opts.Bus = nextBus
	nextBus++
	busMu.Unlock()
	b, err := board.New(board.Opts{Kind: regmap.BoardUSB, Serial: uint64(opts.Bus)})
	require.NoError(t, err)
	f, err := New(b, opts)
	require.NoError(t, err)
	require.NoError(t, testbed.Plug(f))
	t.Cleanup(func() {
		testbed.Remove(f)
		f.Close()
		b.Close()
	})
	return f
}

func TestThroughLibusb(t *testing.T) {
	f := plugged(t, Opts{})
	ctx := gousb.NewContext()
	defer ctx.Close()
	devs, err := ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return d.Vendor == gousb.ID(regmap.USBVendorID) && d.Bus == f.opts.Bus
	})
	require.NoError(t, err)
	require.Len(t, devs, 1)
	dev := devs[0]
	defer dev.Close()
	s, err := dev.SerialNumber()
	require.NoError(t, err)
	assert.Equal(t, f.Serial(), s)
	assert.Equal(t, gousb.SpeedSuper, dev.Desc.Speed)

	cfg, err := dev.Config(1)
	require.NoError(t, err)
	defer cfg.Close()
	intf, err := cfg.Interface(0, 0)
	require.NoError(t, err)
	defer intf.Close()

	id := make([]byte, regmap.USBIdentitySize)
	n, err := dev.Control(regmap.USBVendorIn, uint8(regmap.USBReqIdentity), 0, 0, id)
	require.NoError(t, err)
	require.Equal(t, regmap.USBIdentitySize, n)
	ident, err := regmap.DecodeUSBIdentity(id)
	require.NoError(t, err)
	assert.Equal(t, uint64(f.opts.Bus), ident.Serial)

	_, err = dev.Control(regmap.USBVendorOut, uint8(regmap.USBReqAttach), 0, 0, regmap.USBAttach{Version: regmap.ProtocolVersion, PID: uint32(os.Getpid()), Comm: "test"}.Append(nil))
	require.NoError(t, err)
	out, err := intf.OutEndpoint(1)
	require.NoError(t, err)
	in, err := intf.InEndpoint(1)
	require.NoError(t, err)
	_, err = out.WriteContext(context.Background(), command(7, regmap.OpNop, []byte("ping")))
	require.NoError(t, err)
	buf := make([]byte, regmap.USBHostTransfer)
	n, err = in.ReadContext(context.Background(), buf)
	require.NoError(t, err)
	dec := regmap.FrameDecoder{Rings: 1 << regmap.RingCpl, Max: [4]int{0, 1 << 20}}
	var got []regmap.Completion
	_, err = dec.Feed(buf[:n], func(h regmap.FrameHeader, p []byte) error {
		c, err := regmap.DecodeCompletion(p)
		got = append(got, c)
		return err
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, uint32(7), got[0].Tag)
	assert.Equal(t, "ping", string(got[0].Data))
}
