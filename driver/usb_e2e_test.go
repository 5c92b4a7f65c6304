//go:build gousb

package driver

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
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
	umockdev.EnsurePreloaded()
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
	// A first look through libusb: umockdev's worker thread has called into Go once (its
	// goroutine stays, locked to the thread), so that a test's goroutine count is stable.
	_, err = scanUSBLibusb(context.Background(), DefaultSysfs())
	require.NoError(t, err)
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
	require.NoError(t, d.Close())
	waitFor(t, "the board's side to let go", func() bool {
		t.Logf("%d URBs outstanding, %d clients", ub.f.Outstanding(), ub.f.Clients())
		return ub.f.Outstanding() == 0 && ub.f.Clients() == 0
	})
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

// requireUSBClean checks that nothing of a closed device is left: goroutines, descriptors,
// and URBs or clients on the board's side.
func requireUSBClean(t *testing.T, ub *usbBoard, baseG int, baseFd map[string]string) {
	t.Helper()
	// Finalizers run now: a gousb transfer dropped in flight would crash them.
	runtime.GC()
	runtime.GC()
	settle(t, baseG)
	// Descriptors opened since (the one listing /proc/self/fd reads as "": gone by then).
	waitFor(t, "no new descriptors", func() bool {
		for fd, what := range fdSet(t) {
			if what != "" && baseFd[fd] != what && !strings.HasPrefix(what, "/proc/") {
				t.Logf("descriptor %s -> %s", fd, what)
				return false
			}
		}
		return true
	})
	waitFor(t, "the board's side to let go", func() bool {
		if ub.f.Outstanding() == 0 && ub.f.Clients() == 0 {
			return true
		}
		t.Logf("%d URBs outstanding, %d clients", ub.f.Outstanding(), ub.f.Clients())
		return false
	})
}

// TestUSBUnplug pulls the board mid-transfer, mid-run, free-running and idle: the call in
// progress and every later call fail with ErrGone within a second, nothing is left behind,
// and the next open finds no board.
func TestUSBUnplug(t *testing.T) {
	big := lifImage(t, 64, 1024, 3) // several MiB: a load of many transfers
	for _, mode := range []string{"mid-transfer", "mid-run", "free-running", "idle"} {
		t.Run(mode, func(t *testing.T) {
			ub := plugUSB(t, board.Opts{}, usbdev.Opts{})
			ctx := ctxT(t)
			baseG, baseFd := runtime.NumGoroutine(), fdSet(t)
			d, err := Open(ctx, ub.uri, Opts{})
			require.NoError(t, err)
			var errc <-chan error
			if mode == "mid-transfer" {
				c := make(chan error, 1)
				go func() { _, err := loadImage(d, ctx, big); c <- err }()
				errc = c
				waitFor(t, "the load to be under way", func() bool { return ub.f.Stats().OutBytes > 1<<20 })
			} else {
				_, err = loadImage(d, ctx, lifImage(t, 8, 32, 1))
				require.NoError(t, err)
				errc = keepBusy(t, ctx, d, strings.TrimPrefix(mode, "mid-"), func() error { _, err := d.ReadRegister(regmap.RegStatus); return err })
				if mode != "idle" {
					waitFor(t, "the board to run", func() bool { ts, _ := ub.b.ReadReg64(regmap.RegTimestepLo); return ts > 10 })
				}
			}
			pulled := time.Now()
			usbTestbed.Unplug(ub.f)
			requireGone(t, errc, pulled, time.Second)
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrGone)
			require.NoError(t, d.Close())
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrClosed)
			requireUSBClean(t, ub, baseG, baseFd)
			_, err = Open(ctx, ub.uri, Opts{})
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}

// TestUSBStalledEndpoint: a board that stalls a bulk endpoint broke the protocol.
func TestUSBStalledEndpoint(t *testing.T) {
	for _, ep := range []uint8{regmap.USBEndpointIn, regmap.USBEndpointOut} {
		t.Run(fmt.Sprintf("%#02x", ep), func(t *testing.T) {
			ub := plugUSB(t, board.Opts{}, usbdev.Opts{})
			ctx := ctxT(t)
			baseG, baseFd := runtime.NumGoroutine(), fdSet(t)
			d, err := Open(ctx, ub.uri, Opts{})
			require.NoError(t, err)
			_, err = d.Sensors(ctx)
			require.NoError(t, err)
			ub.f.Stall(ep)
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrProtocol)
			require.ErrorContains(t, err, "stalled bulk")
			t.Log(err)
			require.NoError(t, d.Close())
			requireUSBClean(t, ub, baseG, baseFd)
			// The next session clears the halt.
			d, err = Open(ctx, ub.uri, Opts{})
			require.NoError(t, err)
			_, err = d.Sensors(ctx)
			require.NoError(t, err)
			require.NoError(t, d.Close())
		})
	}
}

// TestUSBBoardStopsAnswering: requests time out naming the operation, and the device works
// again once the board answers.
func TestUSBBoardStopsAnswering(t *testing.T) {
	ub := plugUSB(t, board.Opts{}, usbdev.Opts{})
	ctx := ctxT(t)
	d, err := Open(ctx, ub.uri, Opts{Timeout: 300 * time.Millisecond})
	require.NoError(t, err)
	defer d.Close()
	ub.f.Hang(true)
	_, err = d.ReadRegister(regmap.RegStatus)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "reading register STATUS (0x040)")
	_, err = d.Sensors(ctx)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "SENSORS")
	t.Log(err)
	ub.f.Hang(false)
	s, err := d.Sensors(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, s.Rails)
	_, err = d.ReadRegister(regmap.RegStatus)
	require.NoError(t, err)
}

// TestUSBGarbageFromTheBoard: frames that do not decode are ErrProtocol, never a panic or
// a hang.
func TestUSBGarbageFromTheBoard(t *testing.T) {
	cpl := make([]byte, regmap.CompletionSize(0))
	short := regmap.AppendFrame(nil, regmap.RingCpl, regmap.TypeCompletion, make([]byte, 100))[:40]
	for _, tc := range []struct {
		name, msg string
		burst     []byte
	}{
		{"garbage", "sync byte", []byte("this is not a frame at all, not even close")},
		{"short frame", "the burst ended", short},
		{"wrong ring", "does not travel this way", regmap.AppendFrame(nil, regmap.RingCmd, regmap.TypeCommand, cpl)},
		{"too long", "the ring takes at most", func() []byte {
			b := regmap.AppendFrame(nil, regmap.RingOut, regmap.TypeSpikes, nil)
			binary.LittleEndian.PutUint32(b, 1<<30)
			return b
		}()},
		{"bad record", "completion", regmap.AppendFrame(nil, regmap.RingCpl, regmap.TypeCompletion, []byte{1, 2, 3})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ub := plugUSB(t, board.Opts{}, usbdev.Opts{})
			ctx := ctxT(t)
			d, err := Open(ctx, ub.uri, Opts{})
			require.NoError(t, err)
			defer d.Close()
			ub.f.InjectIn(tc.burst)
			_, err = d.Sensors(ctx)
			require.ErrorIs(t, err, ErrProtocol)
			require.ErrorContains(t, err, tc.msg)
			t.Log(err)
		})
	}
}

// TestUSBSecondOpenIsBusy: a second opener, in this process or another, is told who holds
// the board.
func TestUSBSecondOpenIsBusy(t *testing.T) {
	ub := plugUSB(t, board.Opts{}, usbdev.Opts{})
	ctx := ctxT(t)
	t.Setenv(RunDirEnv, t.TempDir())
	d, err := Open(ctx, ub.uri, Opts{})
	require.NoError(t, err)
	defer d.Close()
	me := requireBusyNamingMe(t, ctx, ub.uri)
	// Discovery says who holds it.
	found, err := Boards(ctx, ListOpts{})
	require.NoError(t, err)
	var f Found
	for _, x := range found {
		if x.Serial == ub.f.Serial() {
			f = x
		}
	}
	require.Contains(t, f.Holder, me)
	// Once closed, the next one gets in.
	require.NoError(t, d.Close())
	d2, err := Open(ctx, ub.uri, Opts{})
	require.NoError(t, err)
	require.NoError(t, d2.Close())
}

// TestUSBDiscovery: libusb and sysfs both find the board, with its serial.
func TestUSBDiscovery(t *testing.T) {
	ub := plugUSB(t, board.Opts{Serial: 4242}, usbdev.Opts{})
	ctx := ctxT(t)
	byLibusb, err := scanUSBLibusb(ctx, DefaultSysfs())
	require.NoError(t, err)
	bySysfs, err := scanUSBSysfs(ctx, DefaultSysfs())
	require.NoError(t, err)
	for _, found := range [][]Found{byLibusb, bySysfs} {
		require.Len(t, found, 1)
		assert.Equal(t, ub.uri, found[0].URI)
		assert.Equal(t, "4242", found[0].Serial)
		assert.Equal(t, ub.f.DevNode(), found[0].Path)
	}
	assert.Equal(t, "8×1024", byLibusb[0].Size)
	assert.Equal(t, "1.0.0", byLibusb[0].Firmware)
}
