//go:build gousb

package driver

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/umockdev"
)

// The USB transport through the real libusb (gousb): the emulated board's USB function on a
// umockdev testbed in this process, which runs with libumockdev-preload.

// usbWithoutBoard is what opening a USB board that is not plugged in gives.
var usbWithoutBoard = ErrNotFound

func preloadForUSB() {
	if !umockdev.Preloaded() {
		if err := umockdev.Reexec(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

var (
	usbTestbedOnce sync.Once
	usbTestbed     *usbdev.Testbed
	usbTestbedErr  error
	usbBusMu       sync.Mutex
	usbNextBus     = 20
)

// usbBoard is an emulated USB board plugged into the process's testbed, on a bus of its own.
type usbBoard struct {
	b   *board.Board
	f   *usbdev.Function
	uri string
}

func plugUSB(t testing.TB, bopts board.Opts, fopts usbdev.Opts) *usbBoard {
	usbTestbedOnce.Do(func() { usbTestbed, usbTestbedErr = usbdev.NewTestbed() })
	require.NoError(t, usbTestbedErr)
	usbBusMu.Lock()
	fopts.Bus = usbNextBus
	usbNextBus++
	usbBusMu.Unlock()
	bopts.Kind = regmap.BoardUSB
	if bopts.Serial == 0 {
		bopts.Serial = uint64(1000 + fopts.Bus)
	}
	b, err := board.New(bopts)
	require.NoError(t, err)
	f, err := usbdev.New(b, fopts)
	require.NoError(t, err)
	require.NoError(t, usbTestbed.Plug(f))
	t.Cleanup(func() {
		usbTestbed.Remove(f)
		f.Close()
		b.Close()
	})
	return &usbBoard{b: b, f: f, uri: fmt.Sprintf("usb:%04x:%04x:%s", regmap.USBVendorID, regmap.USBProductID, f.Serial())}
}

func TestUSBOpen(t *testing.T) {
	ub := plugUSB(t, board.Opts{}, usbdev.Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := Open(ctx, ub.uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	info := d.Info()
	assert.Equal(t, regmap.BoardUSB, info.Board)
	assert.Equal(t, TransportUSB, info.Transport)
	v, err := d.ReadRegister(regmap.RegScratch)
	require.NoError(t, err)
	assert.Zero(t, v)
	require.NoError(t, d.WriteRegister(regmap.RegScratch, 0x55aa))
	v, err = d.ReadRegister(regmap.RegScratch)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x55aa), v)
	t.Logf("%s", d)
}

// TestUSBSameSpikesAsInProcess runs one workload (load, probe, inject ahead, run, inject
// step by step) on emu: and on an emulated USB board at both speeds, and wants the same bits.
func TestUSBSameSpikesAsInProcess(t *testing.T) {
	local := runWorkload(t, "emu:")
	require.NotEmpty(t, local.Spikes)
	for _, sp := range []regmap.USBSpeed{regmap.USBSuperSpeed, regmap.USBHighSpeed} {
		t.Run(sp.String(), func(t *testing.T) {
			ub := plugUSB(t, board.Opts{}, usbdev.Opts{Speed: sp})
			require.Equal(t, local, runWorkload(t, ub.uri))
			s := ub.f.Stats()
			t.Logf("%d sessions, %d control, %d OUT (%d B), %d IN URBs (%d B), at most %d OUT and %d IN queued", s.Sessions, s.ControlURBs, s.OutURBs, s.OutBytes, s.InURBs, s.InBytes, s.MaxOutFlight, s.MaxInFlight)
		})
	}
}
