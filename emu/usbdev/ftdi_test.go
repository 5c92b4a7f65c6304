package usbdev

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// The emulated FT2232H, driven as libusb drives it through usbdevfs (the fake host of
// fake_test.go) and through its in-process API.

func newTestFTDI(t *testing.T, opts FTDIOpts) (*FTDI, *board.Flash) {
	t.Helper()
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	fl := b.Flash()
	b.Close()
	if opts.Ready == nil {
		opts.Ready = newFakeReady()
	}
	f, err := NewFTDI(fl, opts)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, fl
}

func (h *host) getDriver(intf uint32) (string, syscall.Errno) {
	b := make([]byte, getDriverSize)
	le.PutUint32(b, intf)
	p := h.sp.alloc(b)
	r := h.ioctl(ioctlGetDriver, p)
	if r.errno != 0 {
		return "", r.errno
	}
	m, _ := h.sp.at(p, getDriverSize)
	return string(bytes.TrimRight(m[4:], "\x00")), 0
}

func (h *host) usbfsIoctl(intf, code uint32) result {
	b := make([]byte, usbfsIoctlSize)
	le.PutUint32(b, intf)
	le.PutUint32(b[4:], code)
	return h.ioctl(ioctlIoctl, h.sp.alloc(b))
}

func (h *host) disconnectClaim(intf, flags uint32, driver string) result {
	b := make([]byte, disconnectClaimSize)
	le.PutUint32(b, intf)
	le.PutUint32(b[4:], flags)
	copy(b[8:], driver)
	return h.ioctl(ioctlDisconnectClaim, h.sp.alloc(b))
}

func TestFTDIDescriptors(t *testing.T) {
	f, _ := newTestFTDI(t, FTDIOpts{Serial: "LR42"})
	h := newHost(t, f, 1, f.opts.Ready.(*fakeReady))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, d := h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescDevice<<8, 0, nil, 18)
	require.Zero(t, st)
	assert.Equal(t, regmap.FTDIDeviceDescriptorBytes(), d)
	st, d = h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescConfig<<8, 0, nil, 255)
	require.Zero(t, st)
	assert.Equal(t, regmap.FTDIConfigDescriptorBytes(), d)
	for idx, want := range map[uint16]string{1: regmap.FTDIManufacturer, 2: "lrchip emulator", 3: "LR42"} {
		st, d = h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescString<<8|idx, regmap.USBLangID, nil, 255)
		require.Zero(t, st)
		assert.Equal(t, regmap.USBStringDescriptor(want), d)
	}
	st, _ = h.control(ctx, 0x80, regmap.USBReqGetDescriptor, regmap.USBDescString<<8|9, regmap.USBLangID, nil, 255)
	assert.Equal(t, -int32(syscall.EPIPE), st, "no string 9: a stall")
	assert.Contains(t, f.Sysfs(), "A: manufacturer="+regmap.FTDIManufacturer)
	assert.Contains(t, f.Sysfs(), "A: idVendor=0403")
	assert.Contains(t, f.String(), "FT2232H 0403:6010")

	_, err := NewFTDI(nil, FTDIOpts{})
	require.Error(t, err)
	_, err = NewFTDI(f.Flash(), FTDIOpts{Board: regmap.BoardKind(77)})
	require.Error(t, err)
	_, err = NewFTDI(f.Flash(), FTDIOpts{Bus: 300})
	require.Error(t, err)
}

// TestFTDIKernelDriver follows ftdi_sio as the kernel binds it: it holds both interfaces;
// claiming needs it detached (DISCONNECT_CLAIM, as libusb's auto-detach does, or the
// USBDEVFS_IOCTL DISCONNECT); USBDEVFS_IOCTL CONNECT gives it back; a second client cannot
// take a claimed interface; interface 1 stays ftdi_sio's throughout.
func TestFTDIKernelDriver(t *testing.T) {
	f, _ := newTestFTDI(t, FTDIOpts{})
	ready := f.opts.Ready.(*fakeReady)
	a, b := newHost(t, f, 1, ready), newHost(t, f, 2, ready)
	d, errno := a.getDriver(0)
	require.Zero(t, errno)
	assert.Equal(t, "ftdi_sio", d)
	assert.Equal(t, syscall.EBUSY, a.u32ioctl(ioctlClaimInterface, 0).errno)
	_, r := a.submit(urbTypeBulk, regmap.FTDIEndpointAIn, 0, make([]byte, 512))
	assert.Equal(t, syscall.EBUSY, r.errno, "a bulk URB claims the interface, and ftdi_sio has it")
	assert.Equal(t, syscall.EBUSY, a.disconnectClaim(0, claimIfDriver, "usbfs").errno, "claim only from usbfs")

	require.Zero(t, a.disconnectClaim(0, claimExceptDriver, "usbfs").errno)
	assert.Equal(t, "usbfs", f.Driver(0))
	assert.Equal(t, "ftdi_sio", f.Driver(1))
	assert.Equal(t, syscall.EBUSY, b.disconnectClaim(0, claimExceptDriver, "usbfs").errno, "another client holds it")
	assert.Equal(t, syscall.EBUSY, b.u32ioctl(ioctlClaimInterface, 0).errno)
	assert.Equal(t, syscall.EBUSY, a.usbfsIoctl(0, subConnect).errno, "claimed: no driver can bind")
	require.Zero(t, a.u32ioctl(ioctlReleaseIntf, 0).errno)
	assert.Equal(t, syscall.EINVAL, a.u32ioctl(ioctlReleaseIntf, 0).errno, "not claimed")
	_, errno = a.getDriver(0)
	assert.Equal(t, syscall.ENODATA, errno)
	r = a.usbfsIoctl(0, subConnect)
	require.Zero(t, r.errno)
	assert.Equal(t, 1, r.ret, "CONNECT says a driver bound")
	assert.Equal(t, "ftdi_sio", f.Driver(0))

	require.Zero(t, b.usbfsIoctl(0, subDisconnect).errno)
	assert.Equal(t, syscall.ENODATA, b.usbfsIoctl(0, subDisconnect).errno, "nothing left to disconnect")
	require.Zero(t, b.u32ioctl(ioctlClaimInterface, 0).errno)
	b.f.Disconnect(b.id)
	assert.Equal(t, "", f.Driver(0), "a client that closes releases; the kernel does not rebind")
	assert.Equal(t, "ftdi_sio", f.Driver(1))
	st := f.Stats()
	assert.Equal(t, 2, st.Detaches)
	assert.Equal(t, 1, st.Attaches)
	assert.Equal(t, syscall.EINVAL, a.usbfsIoctl(5, subConnect).errno)
	assert.Equal(t, syscall.ENOTTY, a.usbfsIoctl(0, 0x55ff).errno)

	// Without ftdi_sio there is nothing to detach or attach.
	g, _ := newTestFTDI(t, FTDIOpts{NoKernelDriver: true, Bus: 9})
	c := newHost(t, g, 1, g.opts.Ready.(*fakeReady))
	require.Zero(t, c.disconnectClaim(0, claimExceptDriver, "usbfs").errno)
	require.Zero(t, c.u32ioctl(ioctlReleaseIntf, 0).errno)
	r = c.usbfsIoctl(0, subConnect)
	require.Zero(t, r.errno)
	assert.Zero(t, r.ret, "no driver wants it")
}

// mpsseHost opens channel A in MPSSE mode through usbdevfs.
func mpsseHost(t *testing.T, f *FTDI) (*host, context.Context) {
	h := newHost(t, f, 1, f.opts.Ready.(*fakeReady))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	require.Zero(t, h.disconnectClaim(0, claimExceptDriver, "usbfs").errno)
	st, _ := h.control(ctx, regmap.USBVendorOut, uint8(regmap.FTDIReqSetBitmode), regmap.FTDIBitmodeMPSSE<<8, regmap.FTDIPortA, nil, 0)
	require.Zero(t, st)
	return h, ctx
}

// TestFTDIPackets: every bulk IN packet starts with the two status bytes; a full packet
// leaves the URB waiting, a short one ends it; SEND_IMMEDIATE sends a partial packet at
// once, the latency timer later; a packet larger than the URB's room overflows it.
func TestFTDIPackets(t *testing.T) {
	f, _ := newTestFTDI(t, FTDIOpts{})
	h, ctx := mpsseHost(t, f)
	out := func(b ...byte) {
		addr, r := h.submit(urbTypeBulk, regmap.FTDIEndpointAOut, 0, b)
		require.Zero(t, r.errno)
		rp := h.reap(ctx)
		require.Equal(t, addr, rp.addr)
		require.Zero(t, rp.status)
		require.Equal(t, len(b), rp.actual)
	}
	in := func(n int) reaped {
		addr, r := h.submit(urbTypeBulk, regmap.FTDIEndpointAIn, 0, make([]byte, n))
		require.Zero(t, r.errno)
		rp := h.reap(ctx)
		require.Equal(t, addr, rp.addr)
		return rp
	}
	// Loopback, then 600 bytes clocked: one full packet and a short one.
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte(i * 7)
	}
	out(append([]byte{regmap.MPSSELoopbackOn, regmap.MPSSEXferBytes, byte(len(data) - 1), byte((len(data) - 1) >> 8)}, append(data, regmap.MPSSESendImmediate)...)...)
	rp := in(2048)
	require.Zero(t, rp.status)
	require.Equal(t, 512+2+90, rp.actual)
	raw := rp.data[:rp.actual]
	assert.Equal(t, []byte{regmap.FTDIModemStatus, regmap.FTDILineStatus}, raw[:2])
	assert.Equal(t, []byte{regmap.FTDIModemStatus, regmap.FTDILineStatus}, raw[512:514])
	assert.Equal(t, data, append(append([]byte{}, raw[2:512]...), raw[514:]...))

	// Nothing to send: the latency timer ends the URB with the status bytes alone.
	rp = in(512)
	require.Zero(t, rp.status)
	assert.Equal(t, 2, rp.actual)
	assert.Positive(t, f.Stats().StatusPackets)

	// A bad opcode is answered; a URB too small for the packet overflows.
	out(0xAA, regmap.MPSSESendImmediate)
	rp = in(3)
	assert.Equal(t, -int32(syscall.EOVERFLOW), rp.status)
	rp = in(512)
	require.Zero(t, rp.status)
	assert.Equal(t, []byte{regmap.MPSSEBadCommand, 0xAA}, rp.data[2:rp.actual])

	// Reading pins and the high byte.
	out(regmap.MPSSESetLow, 0x13, 0x93, regmap.MPSSEGetLow, regmap.MPSSESetHigh, 0x05, 0x0f, regmap.MPSSEGetHigh, regmap.MPSSESendImmediate)
	rp = in(512)
	got := rp.data[2:rp.actual]
	require.Len(t, got, 2)
	assert.Equal(t, byte(0x13), got[0]&0x93, "the outputs read what they drive")
	assert.Equal(t, byte(0xf5), got[1], "ACBUS: 0x05 driven on the low nibble, the rest pulled up")
}

// TestFTDIFlowControl: the engine stops when its transmit FIFO is full and the chip stops
// taking OUT data when its receive FIFO is: an OUT URB larger than both completes only as
// the host reads.
func TestFTDIFlowControl(t *testing.T) {
	f, _ := newTestFTDI(t, FTDIOpts{})
	h, ctx := mpsseHost(t, f)
	const n = 3 * regmap.FTDIBufferSize
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	cmd := append(le.AppendUint16([]byte{regmap.MPSSELoopbackOn, regmap.MPSSEXferBytes}, n-1), data...)
	cmd = append(cmd, regmap.MPSSESendImmediate)
	outAddr, r := h.submit(urbTypeBulk, regmap.FTDIEndpointAOut, 0, cmd)
	require.Zero(t, r.errno)
	_, errno := h.tryReap()
	require.Equal(t, syscall.EAGAIN, errno, "the OUT URB waits: both FIFOs are full")
	var got []byte
	outDone := false
	for len(got) < n {
		addr, r := h.submit(urbTypeBulk, regmap.FTDIEndpointAIn, 0, make([]byte, 16*512))
		require.Zero(t, r.errno)
		for {
			rp := h.reap(ctx)
			if rp.addr == outAddr {
				require.Zero(t, rp.status)
				require.Equal(t, len(cmd), rp.actual)
				outDone = true
				continue
			}
			require.Equal(t, addr, rp.addr)
			require.Zero(t, rp.status)
			for i := 0; i < rp.actual; i += 512 {
				got = append(got, rp.data[i+2:min(i+512, rp.actual)]...)
			}
			break
		}
	}
	assert.Equal(t, data, got)
	if !outDone {
		rp := h.reap(ctx)
		require.Equal(t, outAddr, rp.addr)
	}
	assert.Zero(t, f.Outstanding())
}

// TestFTDIRequests covers the vendor requests and their refusals.
func TestFTDIRequests(t *testing.T) {
	f, _ := newTestFTDI(t, FTDIOpts{})
	port := uint16(regmap.FTDIPortA)
	ctl := func(rt uint8, req regmap.FTDIRequest, val, idx uint16, data []byte) ([]byte, error) {
		n, err := f.Control(rt, uint8(req), val, idx, data)
		return data[:n], err
	}
	_, err := ctl(regmap.USBVendorOut, regmap.FTDIReqSetLatency, 9, port, nil)
	require.NoError(t, err)
	b, err := ctl(regmap.USBVendorIn, regmap.FTDIReqGetLatency, 0, port, make([]byte, 1))
	require.NoError(t, err)
	assert.Equal(t, []byte{9}, b)
	assert.Equal(t, 9*time.Millisecond, f.MPSSE().Latency)
	for _, bad := range []struct {
		rt  uint8
		req regmap.FTDIRequest
		val uint16
		idx uint16
		n   int
	}{
		{regmap.USBVendorOut, regmap.FTDIReqSetLatency, 0, port, 0},
		{regmap.USBVendorOut, regmap.FTDIReqSetBitmode, 0x0100, port, 0}, // async bit-bang: not emulated
		{regmap.USBVendorOut, regmap.FTDIReqReset, 3, port, 0},
		{regmap.USBVendorOut, regmap.FTDIReqReset, 0, 3, 0}, // no channel C
		{regmap.USBVendorIn, regmap.FTDIReqGetLatency, 0, port, 0},
		{regmap.USBVendorOut, 0x90, 0, port, 0}, // EEPROM
	} {
		_, err := ctl(bad.rt, bad.req, bad.val, bad.idx, make([]byte, bad.n))
		require.ErrorIs(t, err, ErrStall, "%+v", bad)
	}
	b, err = ctl(regmap.USBVendorIn, 0x05, 0, port, make([]byte, 2))
	require.NoError(t, err)
	assert.Equal(t, []byte{regmap.FTDIModemStatus, regmap.FTDILineStatus}, b)
	b, err = ctl(regmap.USBVendorIn, regmap.FTDIReqReadPins, 0, port, make([]byte, 1))
	require.NoError(t, err)
	assert.Equal(t, byte(0xff), b[0], "golden configured: CDONE high; every line pulled up")
	_, err = ctl(regmap.USBVendorOut, 0x03, 0x4138, port, nil) // a baud rate: the UART's, accepted
	require.NoError(t, err)
	_, err = f.Control(0x21, 0, 0, 0, nil)
	require.ErrorIs(t, err, ErrStall, "class requests")

	// Purges and reset empty the FIFOs.
	require.NoError(t, f.bulkSetMPSSE())
	_, err = f.BulkOut(context.Background(), regmap.FTDIEndpointAOut, []byte{0xAA})
	require.NoError(t, err)
	_, err = ctl(regmap.USBVendorOut, regmap.FTDIReqReset, regmap.FTDIPurge2, port, nil)
	require.NoError(t, err)
	f.mu.Lock()
	assert.Empty(t, f.ch[0].tx)
	f.mu.Unlock()
}

func (f *FTDI) bulkSetMPSSE() error {
	_, err := f.Control(regmap.USBVendorOut, uint8(regmap.FTDIReqSetBitmode), regmap.FTDIBitmodeMPSSE<<8, regmap.FTDIPortA, nil)
	return err
}

// TestFTDIPins: the flash answers only while CRESET_B is held low and CS is low; releasing
// CRESET_B configures the FPGA from the flash.
func TestFTDIPins(t *testing.T) {
	f, fl := newTestFTDI(t, FTDIOpts{})
	require.NoError(t, f.bulkSetMPSSE())
	ctx := context.Background()
	readID := func(low byte) []byte {
		_, err := f.BulkOut(ctx, regmap.FTDIEndpointAOut, []byte{
			regmap.MPSSESetLow, low &^ regmap.FTDIPinCS, regmap.FTDIPinsSPI,
			regmap.MPSSEXferBytes, 3, 0, regmap.SPINorReadID, 0, 0, 0,
			regmap.MPSSESetLow, low, regmap.FTDIPinsSPI, regmap.MPSSESendImmediate})
		require.NoError(t, err)
		buf := make([]byte, 512)
		n, err := f.BulkIn(ctx, regmap.FTDIEndpointAIn, buf)
		require.NoError(t, err)
		require.Equal(t, 6, n)
		return buf[3:6]
	}
	part := regmap.FlashParts[regmap.EmulatedFlash]
	assert.Equal(t, []byte{0xff, 0xff, 0xff}, readID(regmap.FTDIPinCS|regmap.FTDIPinCRESET), "the FPGA owns the bus")
	assert.True(t, f.FPGA().Configured)
	assert.Equal(t, part.JEDEC[:], readID(regmap.FTDIPinCS), "held in reset")
	assert.True(t, f.FPGA().Held)
	assert.False(t, f.FPGA().Configured)
	assert.Equal(t, 1, f.FPGA().Boots)
	readID(regmap.FTDIPinCS | regmap.FTDIPinCRESET)
	assert.True(t, f.FPGA().Configured)
	assert.Equal(t, flash.Golden, f.FPGA().Booted.Slot)
	assert.Equal(t, 2, f.FPGA().Boots)
	assert.False(t, fl.Selected())
	assert.Positive(t, f.Stats().FlashBytes)
}

// TestFTDIUnplug: transfers in flight fail with ESHUTDOWN, everything after with ENODEV; a
// chip on the board's supply goes when the flash's power does.
func TestFTDIUnplug(t *testing.T) {
	f, fl := newTestFTDI(t, FTDIOpts{PoweredByBoard: true})
	ready := f.opts.Ready.(*fakeReady)
	h, ctx := mpsseHost(t, f)
	addr, r := h.submit(urbTypeBulk, regmap.FTDIEndpointAIn, 0, make([]byte, 512))
	require.Zero(t, r.errno)
	fl.CutPowerAfter(0, false)
	// Holding the FPGA and one program: the cut comes at its chip select's rise.
	_, err := f.BulkOut(ctx, regmap.FTDIEndpointAOut, []byte{
		regmap.MPSSESetLow, 0, regmap.FTDIPinsSPI, regmap.MPSSEWriteBytes, 0, 0, regmap.SPINorWREN,
		regmap.MPSSESetLow, regmap.FTDIPinCS, regmap.FTDIPinsSPI,
		regmap.MPSSESetLow, 0, regmap.FTDIPinsSPI, regmap.MPSSEWriteBytes, 4, 0, regmap.SPINorPP, 0, 0, 0, 0,
		regmap.MPSSESetLow, regmap.FTDIPinCS, regmap.FTDIPinsSPI})
	require.True(t, err == nil || errors.Is(err, ErrGone), "%v", err)
	require.True(t, fl.PoweredOff())
	rp := h.reap(ctx)
	require.Equal(t, addr, rp.addr)
	assert.Equal(t, -int32(syscall.ESHUTDOWN), rp.status)
	ready.mu.Lock()
	assert.True(t, ready.gone)
	ready.mu.Unlock()
	_, r = h.submit(urbTypeBulk, regmap.FTDIEndpointAIn, 0, make([]byte, 512))
	assert.Equal(t, syscall.ENODEV, r.errno)
	_, errno := h.tryReap()
	assert.Equal(t, syscall.ENODEV, errno)
	_, err = f.Control(regmap.USBVendorIn, uint8(regmap.FTDIReqGetLatency), 0, regmap.FTDIPortA, make([]byte, 1))
	require.ErrorIs(t, err, ErrGone)
	_, err = f.BulkIn(ctx, regmap.FTDIEndpointAIn, make([]byte, 512))
	require.ErrorIs(t, err, ErrGone)
}

// FuzzMPSSE feeds channel A's engine arbitrary bytes: it never panics, its FIFOs stay
// bounded, and with its output drained it runs to the end or waits for more bytes.
func FuzzMPSSE(f *testing.F) {
	f.Add([]byte{0xAA, 0x87})
	f.Add([]byte{regmap.MPSSESetLow, 0x00, 0x93, regmap.MPSSEXferBytes, 3, 0, 0x9f, 0, 0, 0, regmap.MPSSESetLow, 0x10, 0x93, 0x87})
	f.Add([]byte{regmap.MPSSEReadBytes, 0xff, 0xff})
	f.Add([]byte{regmap.MPSSEWriteBytes, 0xff})
	f.Add(bytes.Repeat([]byte{regmap.MPSSEGetLow}, 5000))
	// One flash for every input (a new part costs milliseconds); what the inputs write on it
	// does not change what is checked.
	b, err := board.New(board.Opts{})
	require.NoError(f, err)
	defer b.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		chip, err := NewFTDI(b.Flash(), FTDIOpts{})
		require.NoError(t, err)
		defer chip.Close()
		require.NoError(t, chip.bulkSetMPSSE())
		chip.mu.Lock()
		defer chip.mu.Unlock()
		c := chip.ch[0]
		for {
			k := min(len(in), regmap.FTDIBufferSize-len(c.rx))
			c.rx = append(c.rx, in[:k]...)
			in = in[k:]
			ran := c.run()
			require.LessOrEqual(t, len(c.rx), regmap.FTDIBufferSize)
			require.LessOrEqual(t, len(c.tx), regmap.FTDIBufferSize)
			read := len(c.tx) > 0
			c.tx = c.tx[:0] // the host reads everything
			if k == 0 && !ran && !read {
				break
			}
		}
		// Whatever is left is one command waiting for its bytes.
		require.Less(t, len(c.rx), 3, "% x", c.rx)
	})
}

// FuzzFTDIRequests sends arbitrary control requests: the chip answers or stalls, never
// panics, never answers more than wLength, and keeps its settings in range.
func FuzzFTDIRequests(f *testing.F) {
	f.Add(uint8(regmap.USBVendorOut), uint8(regmap.FTDIReqSetLatency), uint16(0), uint16(1), []byte{}, uint16(0))
	f.Add(uint8(regmap.USBVendorIn), uint8(regmap.FTDIReqGetLatency), uint16(0), uint16(1), []byte{}, uint16(1))
	f.Add(uint8(0x80), uint8(regmap.USBReqGetDescriptor), uint16(regmap.USBDescString<<8|2), uint16(regmap.USBLangID), []byte{}, uint16(255))
	f.Add(uint8(regmap.USBVendorOut), uint8(regmap.FTDIReqSetBitmode), uint16(0x0200), uint16(2), []byte{}, uint16(0))
	b, err := board.New(board.Opts{})
	require.NoError(f, err)
	defer b.Close()
	f.Fuzz(func(t *testing.T, rt, req uint8, value, index uint16, data []byte, length uint16) {
		chip, err := NewFTDI(b.Flash(), FTDIOpts{})
		require.NoError(t, err)
		defer chip.Close()
		buf := data
		if rt&regmap.USBDirIn != 0 {
			buf = make([]byte, length)
		}
		n, err := chip.Control(rt, req, value, index, buf)
		if err != nil {
			require.ErrorIs(t, err, ErrStall)
			return
		}
		require.LessOrEqual(t, n, len(buf))
		st := chip.MPSSE()
		require.True(t, st.Latency >= time.Millisecond && st.Latency <= 255*time.Millisecond, "%v", st.Latency)
		require.True(t, st.Bitmode == regmap.FTDIBitmodeReset || st.Bitmode == regmap.FTDIBitmodeMPSSE)
	})
}

// FuzzFTDIURBs submits arbitrary URBs through usbdevfs: each is refused with an errno or
// completes to be reaped (the IN ones by the latency timer at the latest), and nothing is left
// behind once the client goes.
func FuzzFTDIURBs(f *testing.F) {
	f.Add(byte(urbTypeBulk), byte(regmap.FTDIEndpointAOut), uint32(0), []byte{0xAA, 0x87})
	f.Add(byte(urbTypeBulk), byte(regmap.FTDIEndpointAIn), uint32(0), make([]byte, 512))
	f.Add(byte(urbTypeControl), byte(0), uint32(0), []byte{0xc0, 0x0a, 0, 0, 1, 0, 1, 0, 0})
	f.Add(byte(urbTypeISO), byte(0x81), uint32(0), []byte{})
	f.Add(byte(urbTypeControl), byte(0), uint32(0), []byte{0x80, 6, 0, 1, 0, 0, 0xff, 0xff})
	b, err := board.New(board.Opts{})
	require.NoError(f, err)
	defer b.Close()
	f.Fuzz(func(t *testing.T, typ, ep byte, flags uint32, buf []byte) {
		if len(buf) > 1<<16 {
			return
		}
		ready := newFakeReady()
		chip, err := NewFTDI(b.Flash(), FTDIOpts{NoKernelDriver: true, Ready: ready})
		require.NoError(t, err)
		defer chip.Close()
		h := newHost(t, chip, 1, ready)
		_, r := h.submit(typ, ep, flags, buf)
		if r.errno == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rp := h.reap(ctx)
			require.LessOrEqual(t, rp.actual, len(buf))
		}
		h.f.Disconnect(h.id)
		require.Zero(t, chip.Outstanding())
		require.Zero(t, h.holds.get(), "every URB's memory let go")
	})
}
