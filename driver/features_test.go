package driver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func TestThrottlingFollowsTheLoad(t *testing.T) {
	ctx := ctxT(t)
	// A low thermal limit and a short time constant, so that a busy network crosses it.
	bopts := board.Opts{Thermal: board.ThermalModel{LimitC: 45, Tau: 20 * time.Millisecond}}
	run := func() (Sensors, Sensors, []Event, Status) {
		d, err := openBoard(ctx, bopts, Opts{})
		require.NoError(t, err)
		defer d.Close()
		idle, err := d.Sensors(ctx)
		require.NoError(t, err)
		_, err = loadImage(d, ctx, lifImage(t, 64, 1024, 11))
		require.NoError(t, err)
		require.NoError(t, d.Inject(ctx, randomInput(64, 400, 0.5, 3)))
		_, err = runSteps(d, ctx, 400)
		require.NoError(t, err)
		busy, err := d.Sensors(ctx)
		require.NoError(t, err)
		st, err := d.Status()
		require.NoError(t, err)
		return idle, busy, d.Events(), st
	}
	idle, busy, events, st := run()
	t.Logf("idle %+v", idle)
	t.Logf("busy %+v", busy)
	assert.Greater(t, busy.Temperature, idle.Temperature)
	assert.Greater(t, busy.Rails[0].Power, idle.Rails[0].Power)
	assert.Greater(t, busy.Rails[0].Current, idle.Rails[0].Current)
	assert.Less(t, busy.Rails[0].Voltage, idle.Rails[0].Voltage, "load-line droop")
	assert.Equal(t, []string{"thermal"}, busy.Throttled)
	assert.Equal(t, Frequency(50e6), busy.Clock)
	assert.True(t, st.Throttled)
	require.NotEmpty(t, events)
	assert.Equal(t, "THROTTLE", events[0].Name)
	assert.Equal(t, regmap.ThrottleThermal, events[0].Arg)
	assert.GreaterOrEqual(t, events[0].Value, int64(45000))
	// Deterministic given the workload.
	idle2, busy2, events2, _ := run()
	assert.Equal(t, idle, idle2)
	assert.Equal(t, busy, busy2)
	assert.Equal(t, events, events2)
}

func TestFlashSlotsAndBoot(t *testing.T) {
	ctx := ctxT(t)
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	defer b.Close()
	d, err := openOn(ctx, b, Opts{})
	require.NoError(t, err)
	defer d.Close()
	fi, err := d.FlashInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, fi.Booted)
	require.True(t, fi.Slots[0].Valid && fi.Slots[0].Booted)
	require.False(t, fi.Slots[1].Valid || fi.Slots[2].Valid)
	st, _ := d.Status()
	require.True(t, st.Golden)

	fwA := bytes.Repeat([]byte("firmware A "), 10000)
	v2 := regmap.MakeFWVersion(2, 0, 0)
	require.NoError(t, d.Flash(ctx, regmap.SlotA, fwA, v2))
	info, err := d.Reboot(ctx)
	require.NoError(t, err)
	require.Equal(t, v2, info.Firmware)
	require.Equal(t, regmap.SlotA, info.FirmwareSlot)

	v3 := regmap.MakeFWVersion(3, 1, 4)
	require.NoError(t, d.Flash(ctx, regmap.SlotB, bytes.Repeat([]byte("B"), 5000), v3))
	fi, err = d.FlashInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, uint32(1), fi.Slots[1].Seq)
	require.Equal(t, uint32(2), fi.Slots[2].Seq)
	info, err = d.Reboot(ctx)
	require.NoError(t, err)
	require.Equal(t, v3, info.Firmware)

	// A bad cell in B: boot falls back to A; in A too: to golden.
	flash := b.Flash()
	flash.Corrupt(2*flash.SlotSize() + regmap.SlotDataOffset + 100)
	info, err = d.Reboot(ctx)
	require.NoError(t, err)
	require.Equal(t, v2, info.Firmware)
	flash.Corrupt(1*flash.SlotSize() + 7) // A's header
	info, err = d.Reboot(ctx)
	require.NoError(t, err)
	require.Equal(t, board.DefaultFirmware, info.Firmware)
	require.Equal(t, regmap.SlotGolden, info.FirmwareSlot)
	ev := d.Events()
	require.NotEmpty(t, ev)
	require.Equal(t, "BOOT", ev[len(ev)-1].Name)

	// Golden is protected; slot 3 does not exist; too big does not fit.
	err = d.Flash(ctx, regmap.SlotGolden, fwA, v3)
	require.ErrorIs(t, err, ErrDevice)
	require.ErrorContains(t, err, "PROTECTED")
	err = d.Flash(ctx, 3, fwA, v3)
	require.ErrorContains(t, err, "RANGE")
	err = d.Flash(ctx, regmap.SlotA, make([]byte, 2<<20), v3)
	require.ErrorContains(t, err, "does not fit")
}

func TestMemoryOfEveryCore(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	n := d.Info().CoreMemory
	for core := 0; core < d.Info().Cores; core++ {
		pat := make([]byte, n)
		for i := range pat {
			pat[i] = byte(i*7 + core)
		}
		require.NoError(t, d.WriteMemory(ctx, core, 0, pat))
		got, err := d.ReadMemory(ctx, core, 0, n)
		require.NoError(t, err)
		require.Equal(t, pat, got, "core %d", core)
	}
	require.Error(t, d.WriteMemory(ctx, 0, n-1, []byte{1, 2}))
	_, err = d.ReadMemory(ctx, 8, 0, 1)
	require.Error(t, err)
	require.NoError(t, d.Reset(ctx))
	got, err := d.ReadMemory(ctx, 3, 0, 16)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 16), got, "a reset clears core memory")
}

func TestLoadErrorsSayWhatAndWhere(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	img := encode(t, relayImage(t, 4))
	bad := append([]byte(nil), img...)
	bad[40] ^= 0xff
	_, err = d.LoadBytes(ctx, bad)
	require.ErrorIs(t, err, ErrDevice)
	require.ErrorContains(t, err, "BAD_IMAGE")
	t.Log(err)
	_, err = d.LoadBytes(ctx, []byte("not an image"))
	require.ErrorContains(t, err, "BAD_IMAGE")
	big := relayImage(t, 4)
	big.Size.NeuronsPerCore = 2048
	_, err = loadImage(d, ctx, big)
	require.ErrorContains(t, err, "needs a 2×2048 chip, the board is 8×1024")
	// The device is fine afterwards.
	_, err = d.LoadBytes(ctx, img)
	require.NoError(t, err)
	require.NoError(t, d.Transfer(ctx, bytes.Repeat([]byte{1}, 3<<20)))
}

func TestInjectForLaterSteps(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	_, err = loadImage(d, ctx, relayImage(t, 4))
	require.NoError(t, err)
	// Out of order on purpose; step 5's spike is emitted in step 5, seen by the first core in 6.
	require.NoError(t, d.Inject(ctx, []chip.Spike{{Neuron: 2, Payload: 3, Step: 5}, {Neuron: 0, Payload: 1, Step: 2}}))
	require.ErrorContains(t, d.Inject(ctx, []chip.Spike{{Port: 1, Neuron: 0, Payload: 1}}), "no such input")
	_, err = runSteps(d, ctx, 7)
	require.NoError(t, err)
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.Equal(t, []chip.Spike{
		{Port: 0, Neuron: 0, Payload: 2, Step: 3}, {Port: 1, Neuron: 0, Payload: 4, Step: 4},
		{Port: 0, Neuron: 2, Payload: 6, Step: 6}, {Port: 1, Neuron: 2, Payload: 12, Step: 7},
	}, out.Spikes)
	// Output beyond the limit is counted, not kept.
	d.opts.OutputLimit = 1
	require.NoError(t, d.Inject(ctx, []chip.Spike{{Neuron: 1, Payload: 1}}))
	_, err = runSteps(d, ctx, 3)
	require.NoError(t, err)
	out, err = read(d, ctx)
	require.NoError(t, err)
	require.Empty(t, out.Spikes)
	require.Equal(t, uint64(2), out.Dropped)
}

func TestFreeRunning(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	_, err = loadImage(d, ctx, relayImage(t, 4))
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	_, err = runSteps(d, ctx, 1)
	require.ErrorContains(t, err, "BAD_STATE")
	// Each injection goes to "the next step"; before the next one, wait until the board
	// has stepped twice, so that it has taken the spike into a step of its own (the board
	// takes input before every step) whatever the machine's load.
	for i := 0; i < 20; i++ {
		st, err := d.Status()
		require.NoError(t, err)
		require.NoError(t, d.Inject(ctx, []chip.Spike{{Neuron: i % 4, Payload: int32(i + 1)}}))
		require.Eventually(t, func() bool { now, _ := d.Status(); return now.Timestep >= st.Timestep+2 }, time.Minute, 50*time.Microsecond)
	}
	// Let the last injection reach both cores (two steps) before stopping.
	st0, err := d.Status()
	require.NoError(t, err)
	require.Eventually(t, func() bool { st, _ := d.Status(); return st.Timestep > st0.Timestep+5 }, 5*time.Second, time.Millisecond)
	ts, err := d.Stop(ctx)
	require.NoError(t, err)
	require.Greater(t, ts, uint64(20))
	st, err := d.Status()
	require.NoError(t, err)
	require.False(t, st.Running)
	require.Equal(t, ts, st.Timestep)
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.Len(t, out.Spikes, 40) // each injection comes out of both cores
	for _, s := range out.Spikes {
		require.LessOrEqual(t, s.Step, ts)
	}
}

func TestRegisters(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	for _, v := range []uint32{0, 0xffffffff, 0xa5a5a5a5, 1} {
		require.NoError(t, d.WriteRegister(regmap.RegScratch, v))
		got, err := d.ReadRegister(regmap.RegScratch)
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
	require.ErrorContains(t, d.WriteRegister(regmap.RegMagic, 1), "read-only")
	_, err = d.ReadRegister(0xffc)
	require.ErrorContains(t, err, "no such register")
	m, err := d.ReadRegister(regmap.RegMagic)
	require.NoError(t, err)
	require.Equal(t, regmap.Magic, m)
	// CONTROL.RESET through the register: unloads.
	_, err = loadImage(d, ctx, relayImage(t, 4))
	require.NoError(t, err)
	require.NoError(t, d.WriteRegister(regmap.RegControl, regmap.ControlReset))
	require.Eventually(t, func() bool { st, _ := d.Status(); return !st.Loaded }, 2*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		for _, e := range d.Events() {
			if e.Name == "RESET" {
				return true
			}
		}
		return false
	}, 2*time.Second, time.Millisecond)
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want URI
		err  string
	}{
		{"emu:", URI{Transport: TransportEmu}, ""},
		{"emu", URI{Transport: TransportEmu}, ""},
		{"emu:unix:/run/lrchip/emu0.sock", URI{Transport: TransportEmuUnix, Path: "/run/lrchip/emu0.sock"}, ""},
		{"emu:unix:", URI{}, "no socket path"},
		{"usb:1209:0001", URI{Transport: TransportUSB, VID: 0x1209, PID: 1}, ""},
		{"usb:1209:0001:LR0042", URI{Transport: TransportUSB, VID: 0x1209, PID: 1, Serial: "LR0042"}, ""},
		{"usb:12g9:0001", URI{}, "hex"},
		{"usb:1209", URI{}, "VID:PID"},
		{"pcie:0000:03:00.0", URI{Transport: TransportPCIe, Addr: "0000:03:00.0"}, ""},
		{"pcie:03:00.0", URI{}, "PCI address"},
		{"tcp:x", URI{}, "unknown transport"},
	}
	for _, tt := range tests {
		u, err := ParseURI(tt.in)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, tt.in)
			require.ErrorIs(t, err, ErrNotFound)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, u)
		if tt.in != "emu" {
			require.Equal(t, tt.in, u.String())
		}
	}
}

func TestRunDir(t *testing.T) {
	t.Setenv(RunDirEnv, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	require.Equal(t, "/run/user/7/lrchip", RunDir())
	t.Setenv("XDG_RUNTIME_DIR", "")
	require.Equal(t, "/run/lrchip", RunDir())
	t.Setenv(RunDirEnv, "/tmp/x")
	require.Equal(t, "/tmp/x", RunDir())
}

// fakeSysfs builds a sysfs tree with one board of each bus and some other devices.
func fakeSysfs(t *testing.T) string {
	root := t.TempDir()
	write := func(dir string, attrs map[string]string) {
		p := filepath.Join(root, dir)
		require.NoError(t, os.MkdirAll(p, 0o755))
		for k, v := range attrs {
			require.NoError(t, os.WriteFile(filepath.Join(p, k), []byte(v+"\n"), 0o644))
		}
	}
	write("bus/usb/devices/1-1", map[string]string{"idVendor": "1209", "idProduct": "0001", "serial": "LR0042", "busnum": "1", "devnum": "5"})
	write("bus/usb/devices/1-2", map[string]string{"idVendor": "1209", "idProduct": "0002"})
	write("bus/usb/devices/1-1:1.0", map[string]string{"bInterfaceClass": "ff"})
	write("bus/pci/devices/0000:03:00.0", map[string]string{"vendor": "0x10ee", "device": "0x4c52"})
	write("bus/pci/devices/0000:04:00.0", map[string]string{"vendor": "0x10ee", "device": "0x7024"})
	write("bus/pci/drivers/vfio-pci", nil)
	require.NoError(t, os.Symlink("../../../bus/pci/drivers/vfio-pci", filepath.Join(root, "bus/pci/devices/0000:03:00.0/driver")))
	return root
}

func TestDiscovery(t *testing.T) {
	ctx := ctxT(t)
	sys := fakeSysfs(t)
	// The fake tree is sysfs: read it as such even in a build that asks libusb.
	saved := usbScan
	usbScan = scanUSBSysfs
	defer func() { usbScan = saved }()
	found, err := List(ctx, ListOpts{Sysfs: sys, RunDir: t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, []Found{
		{URI: "usb:1209:0001:LR0042", Transport: "usb", Board: "usb-board", Serial: "LR0042", Path: "/dev/bus/usb/001/005"},
		{URI: "pcie:0000:03:00.0", Transport: "pcie", Board: "pcie-board", Path: filepath.Join(sys, "bus/pci/devices/0000:03:00.0"), Driver: "vfio-pci",
			Error: "no IOMMU group (the IOMMU is off); lrctl info --device pcie:0000:03:00.0 says what to run"},
	}, found)

	// No boards: none.
	found, err = List(ctx, ListOpts{Sysfs: t.TempDir(), RunDir: t.TempDir()})
	require.NoError(t, err)
	require.Empty(t, found)

	// This machine's sysfs works too (and has no boards, presumably), as does libusb in a
	// build with the gousb tag.
	_, err = Boards(ctx, ListOpts{})
	require.NoError(t, err)
	usbScan = saved
	_, err = Boards(ctx, ListOpts{})
	require.NoError(t, err)
	usbScan = scanUSBSysfs

	// Emulator sockets in the run directory; a stale one is skipped.
	s := startServer(t)
	dir := filepath.Dir(s.path)
	stale := filepath.Join(dir, "stale.sock")
	require.NoError(t, os.WriteFile(stale, nil, 0o600))
	found, err = List(ctx, ListOpts{Sysfs: t.TempDir(), RunDir: dir})
	require.NoError(t, err)
	require.Len(t, found, 1, "%+v", found)
	require.Equal(t, Found{URI: s.uri, Transport: "emu:unix", Board: "emulator", Serial: "1", Firmware: "1.0.0", Protocol: "1.0", Size: "8×1024", Path: s.path}, found[0])
}

func TestLockHolderFromProcLocks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	l, err := lockDevice(p, "x")
	require.NoError(t, err)
	defer l.unlock()
	require.NoError(t, os.WriteFile(p, nil, 0o644)) // no pid in it: /proc/locks must tell
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	require.Contains(t, lockHolder(f), "pid "+itoa(os.Getpid()))
	_, err = lockDevice(p, "x")
	require.ErrorIs(t, err, ErrBusy)
	_ = context.Background
}

// Input for later steps is queued ahead (the board keeps it until its step), and a run of
// several steps returns every step's output stamped with its step.
func TestInjectAhead(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.Load(ctx, relayImage(t, 4)))
	require.Equal(t, 2, d.Loaded().Outputs)
	require.NoError(t, d.Inject(ctx, []chip.Spike{{Neuron: 3, Payload: 2, Step: 2}, {Neuron: 1, Payload: 1}}))
	require.NoError(t, d.Run(ctx, 4))
	require.Equal(t, uint64(4), d.Time())
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.Equal(t, []chip.Spike{{Port: 0, Neuron: 1, Payload: 2, Step: 2}, {Port: 0, Neuron: 3, Payload: 4, Step: 3},
		{Port: 1, Neuron: 1, Payload: 4, Step: 3}, {Port: 1, Neuron: 3, Payload: 8, Step: 4}}, out.Spikes)
	// A step that has run cannot be given input any more.
	err = d.Inject(ctx, []chip.Spike{{Neuron: 0, Payload: 1, Step: 4}})
	require.ErrorContains(t, err, "for step 4: the device is at step 4")
}
