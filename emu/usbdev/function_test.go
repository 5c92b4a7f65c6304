package usbdev

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
)

func newFunction(t *testing.T, opts Opts) (*Function, *fakeReady) {
	b, err := board.New(board.Opts{Kind: regmap.BoardUSB, Serial: 77})
	require.NoError(t, err)
	ready := newFakeReady()
	opts.Ready = ready
	f, err := New(b, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		f.Close()
		b.Close()
	})
	return f, ready
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDescriptorsAndStandardRequests(t *testing.T) {
	for _, sp := range []regmap.USBSpeed{regmap.USBHighSpeed, regmap.USBSuperSpeed} {
		t.Run(sp.String(), func(t *testing.T) {
			f, ready := newFunction(t, Opts{Speed: sp})
			h := newHost(t, f, 1, ready)
			ctx := testCtx(t)
			r := h.u32ioctl(ioctlGetCapabilities, 0)
			require.Zero(t, r.errno)

			st, d := h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescDevice<<8, 0, nil, 18)
			require.Zero(t, st)
			assert.Equal(t, regmap.USBDeviceDescriptorBytes(sp), d)
			st, d = h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescConfig<<8, 0, nil, 9)
			require.Zero(t, st)
			assert.Equal(t, regmap.USBConfigDescriptorBytes(sp)[:9], d, "truncated to wLength")
			st, d = h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescString<<8|regmap.USBStrSerial, regmap.USBLangID, nil, 255)
			require.Zero(t, st)
			assert.Equal(t, regmap.USBStringDescriptor("77"), d)
			st, _ = h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescString<<8|9, regmap.USBLangID, nil, 255)
			assert.Equal(t, -int32(syscall.EPIPE), st, "no string 9: stalled")
			st, _ = h.control(ctx, 0x21, 0x09, 0, 0, []byte{1}, 0)
			assert.Equal(t, -int32(syscall.EPIPE), st, "a class request: stalled")
		})
	}
}

func TestInterfaceIsClaimedByOneClient(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	a, b := newHost(t, f, 1, ready), newHost(t, f, 2, ready)
	require.Zero(t, a.u32ioctl(ioctlClaimInterface, 0).errno)
	assert.Equal(t, syscall.EBUSY, b.u32ioctl(ioctlClaimInterface, 0).errno)
	_, r := b.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, 512))
	assert.Equal(t, syscall.EBUSY, r.errno, "bulk needs the interface")
	assert.Equal(t, syscall.EINVAL, b.u32ioctl(ioctlReleaseIntf, 0).errno)
	// Device requests need no claim: the second client learns who holds the board.
	ctx := testCtx(t)
	require.Zero(t, a.attach(ctx, regmap.USBAttach{Version: regmap.ProtocolVersion, PID: 4242, Comm: "holder"}))
	st, d := b.control(ctx, regmap.USBVendorIn, uint8(regmap.USBReqIdentity), 0, 0, nil, regmap.USBIdentitySize)
	require.Zero(t, st)
	id, err := regmap.DecodeUSBIdentity(d)
	require.NoError(t, err)
	assert.True(t, id.Attached)
	assert.Equal(t, uint32(4242), id.HolderPID)
	assert.Equal(t, "holder", id.HolderComm)
	assert.Equal(t, uint64(77), id.Serial)
	assert.Equal(t, regmap.BoardUSB, id.BoardID)

	require.Zero(t, a.u32ioctl(ioctlReleaseIntf, 0).errno)
	require.Zero(t, b.u32ioctl(ioctlClaimInterface, 0).errno)
	a.f.Disconnect(a.id)
	assert.Equal(t, 1, f.Clients())
}

// TestInterfaceHasNoKernelDriver: the board's interface is vendor-specific, so usbfs finds
// no kernel driver on it: GETDRIVER names usbfs while a client holds it, libusb's
// auto-detach (DISCONNECT_CLAIM) just claims it, and CONNECT binds nothing.
func TestInterfaceHasNoKernelDriver(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	a, b := newHost(t, f, 1, ready), newHost(t, f, 2, ready)
	_, errno := a.getDriver(regmap.USBInterface)
	assert.Equal(t, syscall.ENODATA, errno)
	_, errno = a.getDriver(1)
	assert.Equal(t, syscall.EINVAL, errno, "one interface")
	assert.Equal(t, syscall.ENODATA, a.usbfsIoctl(regmap.USBInterface, subDisconnect).errno, "nothing to detach")

	require.Zero(t, a.disconnectClaim(regmap.USBInterface, claimExceptDriver, "usbfs").errno)
	d, errno := b.getDriver(regmap.USBInterface)
	require.Zero(t, errno)
	assert.Equal(t, "usbfs", d)
	assert.Equal(t, syscall.EBUSY, b.disconnectClaim(regmap.USBInterface, claimExceptDriver, "usbfs").errno, "another client holds it")
	assert.Equal(t, syscall.EBUSY, a.usbfsIoctl(regmap.USBInterface, subConnect).errno)
	require.Zero(t, a.u32ioctl(ioctlReleaseIntf, regmap.USBInterface).errno)
	r := a.usbfsIoctl(regmap.USBInterface, subConnect)
	require.Zero(t, r.errno)
	assert.Zero(t, r.ret, "no driver wants it")
	assert.Equal(t, "", f.Driver(regmap.USBInterface))
}

func TestRegisters(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	ctx := testCtx(t)
	require.Zero(t, h.attach(ctx, regmap.USBAttach{Version: regmap.ProtocolVersion, RingCap: [4]uint32{8192, 8192, 8192, 16384}}))
	d := h.regRead(ctx, 0, 64)
	assert.Equal(t, regmap.Magic, le.Uint32(d))
	assert.Equal(t, uint32(regmap.BoardUSB), le.Uint32(d[regmap.RegBoardID:]))
	assert.Equal(t, uint64(77), le.Uint64(d[regmap.RegSerialLo:]))
	assert.Equal(t, uint32(8192/4), le.Uint32(d[regmap.RegCapPayload:]), "CAP_PAYLOAD from the smallest ring")
	st := h.regRead(ctx, regmap.RegStatus, 4)
	assert.NotZero(t, le.Uint32(st)&regmap.StatusAttached)
	assert.Equal(t, uint32(16384), le.Uint32(h.regRead(ctx, regmap.RingSize(regmap.RingOut), 4)))
	assert.Zero(t, le.Uint32(h.regRead(ctx, regmap.RegBulkSize, 4)), "no bulk window on USB")

	write := func(off, v uint32) int32 {
		s, _ := h.control(ctx, regmap.USBVendorOut, uint8(regmap.USBReqRegWrite), 0, uint16(off), le.AppendUint32(nil, v), 0)
		return s
	}
	require.Zero(t, write(regmap.RegScratch, 0xdeadbeef))
	assert.Equal(t, uint32(0xdeadbeef), le.Uint32(h.regRead(ctx, regmap.RegScratch, 4)))
	require.Zero(t, write(regmap.RegMagic, 1), "a read-only register ignores writes")
	assert.Equal(t, regmap.Magic, le.Uint32(h.regRead(ctx, regmap.RegMagic, 4)))
	require.Zero(t, write(regmap.RegIRQMask, 0), "the bridge owns IRQ_MASK")

	// A LO read alone latches its HI.
	lo := h.regRead(ctx, regmap.RegSerialLo, 4)
	hi := h.regRead(ctx, regmap.RegSerialHi, 4)
	assert.Equal(t, uint64(77), uint64(le.Uint32(lo))|uint64(le.Uint32(hi))<<32)

	for _, bad := range []struct{ off, n int }{{2, 4}, {0, 6}, {0xffc, 8}, {0, 260}} {
		s, _ := h.control(ctx, regmap.USBVendorIn, uint8(regmap.USBReqRegRead), 0, uint16(bad.off), nil, bad.n)
		assert.Equal(t, -int32(syscall.EPIPE), s, "REG_READ %#x+%d", bad.off, bad.n)
	}
	s, _ := h.control(ctx, regmap.USBVendorOut, uint8(regmap.USBReqRegWrite), 0, regmap.RegScratch, []byte{1, 2}, 0)
	assert.Equal(t, -int32(syscall.EPIPE), s)
	assert.Equal(t, -int32(syscall.EPIPE), h.attach(ctx, regmap.USBAttach{Version: regmap.MakeVersion(2, 0)}), "another major")
}

// openSession attaches and keeps n IN URBs of size sz queued.
func openSession(t *testing.T, h *host, n, sz int) {
	ctx := testCtx(t)
	require.Zero(t, h.u32ioctl(ioctlClaimInterface, 0).errno)
	require.Zero(t, h.attach(ctx, regmap.USBAttach{Version: regmap.ProtocolVersion, PID: 1, Comm: "test"}))
	for i := 0; i < n; i++ {
		_, r := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, sz))
		require.Zero(t, r.errno)
	}
}

// command frames a command record.
func command(tag uint32, op regmap.Op, args []byte) []byte {
	p := make([]byte, regmap.CommandSize(len(args)))
	regmap.PutCommand(p, regmap.Command{Tag: tag, Op: op, Args: args})
	return regmap.AppendFrame(nil, regmap.RingCmd, regmap.TypeCommand, p)
}

type frameRec struct {
	h regmap.FrameHeader
	p []byte
}

func TestCommandsOverBulk(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	openSession(t, h, 4, regmap.USBHostTransfer)
	ctx := testCtx(t)
	// Two commands in one OUT transfer, a third split over two.
	out := append(command(1, regmap.OpNop, []byte("one")), command(2, regmap.OpNop, bytes.Repeat([]byte("x"), 3000))...)
	third := command(3, regmap.OpNop, []byte("three"))
	out = append(out, third[:5]...)
	for _, b := range [][]byte{out, third[5:]} {
		addr, r := h.submit(urbTypeBulk, regmap.USBEndpointOut, 0, b)
		require.Zero(t, r.errno)
		_ = addr
	}
	var tags []uint32
	for len(tags) < 3 {
		for _, fr := range collectFramesOrOut(t, h, ctx) {
			require.Equal(t, regmap.RingCpl, fr.h.Ring)
			c, err := regmap.DecodeCompletion(fr.p)
			require.NoError(t, err)
			require.Equal(t, regmap.ResultOK, c.Result)
			tags = append(tags, c.Tag)
			if c.Tag == 2 {
				assert.Len(t, c.Data, 3000)
			}
		}
	}
	assert.Equal(t, []uint32{1, 2, 3}, tags)
	s := f.Stats()
	assert.Equal(t, 1, s.Sessions)
	assert.Equal(t, int64(len(out)+len(third)-5), s.OutBytes)
}

// collectFramesOrOut reaps one URB: an OUT URB is checked and dropped, an IN URB's frames
// returned (and the URB resubmitted).
func collectFramesOrOut(t *testing.T, h *host, ctx context.Context) []frameRec {
	r := h.reap(ctx)
	require.Zero(t, r.status)
	if r.data == nil || len(r.data) < regmap.USBHostTransfer {
		return nil // an OUT URB
	}
	dec := regmap.FrameDecoder{Rings: 1<<regmap.RingCpl | 1<<regmap.RingOut, Max: [4]int{0, 1 << 20, 0, 1 << 20}}
	var out []frameRec
	_, err := dec.Feed(r.data[:r.actual], func(h regmap.FrameHeader, p []byte) error {
		out = append(out, frameRec{h, append([]byte(nil), p...)})
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, dec.EndBurst(), "a burst ends with the URB")
	_, res := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, regmap.USBHostTransfer))
	require.Zero(t, res.errno)
	return out
}

func TestBurstsEndWithShortOrZeroLengthPackets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		speed  regmap.USBSpeed
		burst  int
		urbs   []int
		actual []int
		status []int32
	}{
		{"short", regmap.USBSuperSpeed, 100, []int{4096}, []int{100}, []int32{0}},
		{"one packet and a ZLP", regmap.USBSuperSpeed, 1024, []int{4096}, []int{1024}, []int32{0}},
		{"high speed packet and a ZLP", regmap.USBHighSpeed, 512, []int{4096}, []int{512}, []int32{0}},
		{"fills the URB, ZLP in the next", regmap.USBSuperSpeed, 4096, []int{4096, 4096}, []int{4096, 0}, []int32{0, 0}},
		{"spans URBs", regmap.USBSuperSpeed, 5000, []int{4096, 4096}, []int{4096, 904}, []int32{0, 0}},
		{"overflow", regmap.USBSuperSpeed, 2048, []int{1500, 4096}, []int{1500, 0}, []int32{-int32(syscall.EOVERFLOW), 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ready := newFunction(t, Opts{Speed: tc.speed})
			h := newHost(t, f, 1, ready)
			require.Zero(t, h.u32ioctl(ioctlClaimInterface, 0).errno)
			var addrs []uint64
			for _, n := range tc.urbs {
				a, r := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, n))
				require.Zero(t, r.errno)
				addrs = append(addrs, a)
			}
			burst := make([]byte, tc.burst)
			for i := range burst {
				burst[i] = byte(i)
			}
			f.InjectIn(burst)
			ctx := testCtx(t)
			got := 0
			for i := range tc.actual {
				r := h.reap(ctx)
				assert.Equal(t, addrs[i], r.addr)
				assert.Equal(t, tc.actual[i], r.actual, "URB %d", i)
				assert.Equal(t, tc.status[i], r.status, "URB %d", i)
				if tc.status[i] == 0 {
					assert.Equal(t, burst[got:got+r.actual], r.data[:r.actual])
				}
				got += r.actual
			}
		})
	}
}

func TestMalformedFrameStallsBulkOut(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	openSession(t, h, 1, regmap.USBHostTransfer)
	ctx := testCtx(t)
	bad := command(1, regmap.OpNop, nil)
	bad[7] = 0 // sync
	addr, r := h.submit(urbTypeBulk, regmap.USBEndpointOut, 0, bad)
	require.Zero(t, r.errno)
	rp := h.reap(ctx)
	require.Equal(t, addr, rp.addr)
	assert.Equal(t, -int32(syscall.EPIPE), rp.status)
	// Halted until cleared: the next one fails at once too.
	_, r = h.submit(urbTypeBulk, regmap.USBEndpointOut, 0, command(2, regmap.OpNop, nil))
	require.Zero(t, r.errno)
	assert.Equal(t, -int32(syscall.EPIPE), h.reap(ctx).status)
	st, d := h.control(ctx, 0x82, regmap.USBReqGetStatus, 0, regmap.USBEndpointOut, nil, 2)
	require.Zero(t, st)
	assert.Equal(t, []byte{1, 0}, d, "GET_STATUS says halted")
	require.Zero(t, h.u32ioctl(ioctlClearHalt, regmap.USBEndpointOut).errno)
	assert.Equal(t, 1, f.Stats().Stalls)
}

func TestBulkOutWithoutSessionStalls(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	require.Zero(t, h.u32ioctl(ioctlClaimInterface, 0).errno)
	_, r := h.submit(urbTypeBulk, regmap.USBEndpointOut, 0, command(1, regmap.OpNop, nil))
	require.Zero(t, r.errno)
	assert.Equal(t, -int32(syscall.EPIPE), h.reap(testCtx(t)).status)
}

func TestUnplug(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	openSession(t, h, 3, regmap.USBHostTransfer)
	f.Unplug()
	ctx := testCtx(t)
	for i := 0; i < 3; i++ {
		assert.Equal(t, -int32(syscall.ESHUTDOWN), h.reap(ctx).status, "URBs in flight fail")
	}
	_, errno := h.tryReap()
	assert.Equal(t, syscall.ENODEV, errno)
	_, r := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, 512))
	assert.Equal(t, syscall.ENODEV, r.errno)
	assert.Equal(t, syscall.ENODEV, h.u32ioctl(ioctlClaimInterface, 0).errno)
	assert.True(t, ready.gone)
	_, att := f.Board().Holder()
	assert.False(t, att, "the session ended")
	assert.Zero(t, f.Outstanding())
	assert.Zero(t, h.holds.get(), "every URB's memory released")
}

func TestDiscardAndHang(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	openSession(t, h, 0, 0)
	ctx := testCtx(t)
	in, r := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, 4096))
	require.Zero(t, r.errno)
	require.Zero(t, h.ioctl(ioctlDiscardURB, in).errno)
	rp := h.reap(ctx)
	assert.Equal(t, in, rp.addr)
	assert.Equal(t, -int32(syscall.ENOENT), rp.status)
	assert.Equal(t, syscall.EINVAL, h.ioctl(ioctlDiscardURB, in).errno, "already reaped")

	f.Hang(true)
	buf := make([]byte, setupPacketSize+4)
	buf[0], buf[1] = regmap.USBVendorIn, uint8(regmap.USBReqRegRead)
	le.PutUint16(buf[6:], 4)
	c, r := h.submit(urbTypeControl, 0, 0, buf)
	require.Zero(t, r.errno)
	_, errno := h.tryReap()
	assert.Equal(t, syscall.EAGAIN, errno, "a hung board does not answer")
	require.Zero(t, h.ioctl(ioctlDiscardURB, c).errno)
	assert.Equal(t, -int32(syscall.ENOENT), h.reap(ctx).status)
	f.Hang(false)
	assert.Equal(t, regmap.Magic, le.Uint32(h.regRead(ctx, regmap.RegMagic, 4)))
}

func TestDisconnectEndsTheSessionAndLeavesNothing(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	openSession(t, h, 4, regmap.USBHostTransfer)
	_, r := h.submit(urbTypeBulk, regmap.USBEndpointOut, 0, command(1, regmap.OpRun, regmap.AppendU64(nil, 1)))
	require.Zero(t, r.errno)
	f.Disconnect(h.id)
	_, att := f.Board().Holder()
	assert.False(t, att)
	assert.Zero(t, f.Outstanding())
	assert.Zero(t, h.holds.get())
	// The next host attaches as if nothing happened.
	h2 := newHost(t, f, 2, ready)
	openSession(t, h2, 1, regmap.USBHostTransfer)
	assert.Equal(t, regmap.Magic, le.Uint32(h2.regRead(testCtx(t), regmap.RegMagic, 4)))
}

func TestSysfsDescription(t *testing.T) {
	f, _ := newFunction(t, Opts{Bus: 3, Addr: 5})
	s := f.Sysfs()
	assert.Equal(t, "/dev/bus/usb/003/005", f.DevNode())
	for _, want := range []string{"P: /devices/pci0000:00/0000:00:14.0/usb3\n", "P: /devices/pci0000:00/0000:00:14.0/usb3/3-1\n",
		"E: DEVNAME=/dev/bus/usb/003/005\n", "A: idVendor=1209\n", "A: idProduct=0001\n", "A: serial=77\n", "A: busnum=3\n", "A: devnum=5\n",
		"A: speed=5000\n", "E: DEVTYPE=usb_device\n", "H: descriptors=12012003FF"} {
		assert.Contains(t, s, want)
	}
}

func TestURBMemoryIsBounded(t *testing.T) {
	f, ready := newFunction(t, Opts{})
	h := newHost(t, f, 1, ready)
	require.Zero(t, h.u32ioctl(ioctlClaimInterface, 0).errno)
	_, r := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, maxURB+1))
	assert.Equal(t, syscall.ENOMEM, r.errno, "one URB too large")
	var addrs []uint64
	for i := 0; i < maxURBMemory/maxURB; i++ {
		a, r := h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, maxURB))
		require.Zero(t, r.errno)
		addrs = append(addrs, a)
	}
	_, r = h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, 512))
	assert.Equal(t, syscall.ENOMEM, r.errno, "all URBs together too large")
	require.Zero(t, h.ioctl(ioctlDiscardURB, addrs[0]).errno)
	h.reap(testCtx(t))
	_, r = h.submit(urbTypeBulk, regmap.USBEndpointIn, 0, make([]byte, 512))
	assert.Zero(t, r.errno, "room again once one is reaped")
}
