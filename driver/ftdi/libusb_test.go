//go:build gousb

package ftdi

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/driver/fwupdate"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
	"github.com/lrchip/lrchip/internal/umockdev"
)

// The adapter through the real libusb (gousb): the emulated FT2232H on a umockdev testbed in
// this process, which runs with libumockdev-preload (the binary re-executes itself).

func TestMain(m *testing.M) {
	umockdev.EnsurePreloaded()
	os.Exit(m.Run())
}

var (
	testbedOnce sync.Once
	testbed     *usbdev.Testbed
	testbedErr  error
	busMu       sync.Mutex
	nextBus     = 30
)

// plugFTDI plugs an FT2232H in front of fl into the process's testbed, on a bus of its own,
// and returns it with its URI.
func plugFTDI(t testing.TB, fl *board.Flash, opts usbdev.FTDIOpts) (*usbdev.FTDI, string) {
	testbedOnce.Do(func() { testbed, testbedErr = usbdev.NewTestbed() })
	require.NoError(t, testbedErr)
	if fl == nil {
		b, err := board.New(board.Opts{})
		require.NoError(t, err)
		fl = b.Flash()
		b.Close()
	}
	busMu.Lock()
	opts.Bus = nextBus
	nextBus++
	busMu.Unlock()
	if opts.Serial == "" {
		opts.Serial = fmt.Sprintf("LRBUS%d", opts.Bus)
	}
	chip, err := usbdev.NewFTDI(fl, opts)
	require.NoError(t, err)
	require.NoError(t, testbed.Plug(chip))
	t.Cleanup(func() {
		testbed.Remove(chip)
		chip.Close()
	})
	return chip, fmt.Sprintf("usb:%04x:%04x:%s", regmap.FTDIVendorID, regmap.FTDIProductID, opts.Serial)
}

// waitFor waits until cond holds (checked every few milliseconds), failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLibusbAdapter opens the chip through libusb: ftdi_sio is detached from channel A only
// (channel B's UART keeps it) and gets it back at Close; the SPI NOR driver reads the flash.
func TestLibusbAdapter(t *testing.T) {
	chip, uri := plugFTDI(t, nil, usbdev.FTDIOpts{})
	require.Equal(t, "ftdi_sio", chip.Driver(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Open(ctx, uri, nil)
	require.NoError(t, err)
	id := a.Identity()
	assert.Equal(t, regmap.FTDIManufacturer, id.Manufacturer)
	assert.Equal(t, "lrchip emulator", id.Product)
	assert.Equal(t, chip.Serial(), id.Serial)
	assert.Equal(t, chip.DevNode(), id.Path)
	assert.Equal(t, regmap.BoardEmulator, id.Board)
	assert.Equal(t, "usbfs", chip.Driver(0), "channel A is ours")
	assert.Equal(t, "ftdi_sio", chip.Driver(1), "channel B's UART is left alone")

	require.NoError(t, a.HoldReset(true))
	done, err := a.Configured()
	require.NoError(t, err)
	assert.False(t, done)
	c, err := a.Connect(0, spi.Mode0, 8)
	require.NoError(t, err)
	nor, err := spinor.New(c, nil)
	require.NoError(t, err)
	got := make([]byte, 64<<10)
	require.NoError(t, nor.Read(0, got))
	assert.Equal(t, chip.Flash().Bytes()[:len(got)], got)
	require.NoError(t, a.HoldReset(false))
	done, err = a.Configured()
	require.NoError(t, err)
	assert.True(t, done)

	require.NoError(t, a.Close())
	waitFor(t, "the chip's side to let go", func() bool {
		return chip.Outstanding() == 0 && chip.Clients() == 0 && chip.Driver(0) == "ftdi_sio"
	})
	st := chip.Stats()
	assert.Equal(t, 1, st.Detaches)
	assert.Equal(t, 1, st.Attaches, "libusb gave channel A back to ftdi_sio")
	assert.Equal(t, "ftdi_sio", chip.Driver(1))
}

func TestLibusbBusyAndNotFound(t *testing.T) {
	_, uri := plugFTDI(t, nil, usbdev.FTDIOpts{NoKernelDriver: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Open(ctx, uri, nil)
	require.NoError(t, err)
	_, err = Open(ctx, uri, nil)
	require.ErrorIs(t, err, ErrBusy)
	require.NoError(t, a.Close())
	a, err = Open(ctx, uri, nil)
	require.NoError(t, err, "free again")
	require.NoError(t, a.Close())

	_, err = Open(ctx, fmt.Sprintf("usb:%04x:%04x:NOSUCH", regmap.FTDIVendorID, regmap.FTDIProductID), nil)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestLibusbUnplug(t *testing.T) {
	chip, uri := plugFTDI(t, nil, usbdev.FTDIOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := Open(ctx, uri, nil)
	require.NoError(t, err)
	defer a.Close()
	testbed.Unplug(chip)
	require.ErrorIs(t, a.HoldReset(true), ErrGone)
}

// TestLibusbRecover recovers a blank board through libusb, as lrctl fw recover does (with
// 64 KiB slots: through umockdev every transfer costs a few ioctls, and erasing a 1 MiB slot
// takes a thousand of them).
func TestLibusbRecover(t *testing.T) {
	const slot = 64 << 10
	fl, err := board.NewFlash(slot)
	require.NoError(t, err)
	chip, uri := plugFTDI(t, fl, usbdev.FTDIOpts{})
	require.False(t, chip.FPGA().Configured, "blank")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := Open(ctx, uri, nil)
	require.NoError(t, err)
	defer a.Close()
	keys, priv := testKey(t, 1)
	v := regmap.MakeFWVersion(4, 0, 1)
	data := makeBundle(t, regmap.BoardEmulator, regmap.ProtocolVersion, v, 20000, priv)
	start := time.Now()
	res, err := fwupdate.Recover(ctx, a, data, fwupdate.RecoverOpts{Keys: keys, SlotSize: slot})
	require.NoError(t, err)
	t.Logf("recovered %d bytes through libusb in %v (write, read back, verify)", len(data), time.Since(start))
	assert.Equal(t, "A", res.Slot)
	assert.True(t, res.Configured)
	fp := chip.FPGA()
	assert.Equal(t, flash.A, fp.Booted.Slot)
	assert.Equal(t, v, fp.Booted.Header.Version)
}

// BenchmarkFlashRead reads 256 KiB of the flash through the SPI NOR driver on the adapter,
// through libusb and umockdev (every transfer a few ioctls to the emulated chip), and, as the
// baseline measured in the same run, through the in-process port to the same emulated chip;
// it reports both rates and the median ratio.
func BenchmarkFlashRead(b *testing.B) {
	const n = 256 << 10
	chip, uri := plugFTDI(b, nil, usbdev.FTDIOpts{})
	ctx := context.Background()
	la, err := Open(ctx, uri, nil)
	require.NoError(b, err)
	defer la.Close()
	r := newRig(b, chip.Flash(), usbdev.FTDIOpts{Serial: "INPROC"}, nil)
	norOf := func(a *Adapter) *spinor.Dev {
		require.NoError(b, a.HoldReset(true))
		c, err := a.Connect(0, spi.Mode0, 8)
		require.NoError(b, err)
		nor, err := spinor.New(c, nil)
		require.NoError(b, err)
		return nor
	}
	lib, base := norOf(la), norOf(r.a)
	buf := make([]byte, n)
	var libT, baseT []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		require.NoError(b, lib.Read(0, buf))
		t1 := time.Now()
		require.NoError(b, base.Read(0, buf))
		libT, baseT = append(libT, t1.Sub(t0)), append(baseT, time.Since(t1))
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				if s[j] < s[i] {
					s[i], s[j] = s[j], s[i]
				}
			}
		}
		return s[len(s)/2]
	}
	ml, mb := med(libT), med(baseT)
	b.ReportMetric(float64(n)/ml.Seconds()/(1<<20), "MiB/s-libusb")
	b.ReportMetric(float64(n)/mb.Seconds()/(1<<20), "MiB/s-inproc")
	b.ReportMetric(float64(ml)/float64(mb), "libusb/inproc")
}
