package board

import (
	"bytes"
	"context"
	"hash/crc32"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/runtime/ring"
)

// relayImage is n relay neurons on core 0, fed 1:1 by an input port with weight 2 (graded),
// as output port 0; and the same on core 1, fed by core 0, as output port 1 (made of two
// blocks, to check that a port spread over blocks comes out whole).
func relayImage(t *testing.T, n int) []byte {
	prog, err := asm.Assemble("relay.lra", []byte(".program relay\n.state last\n.temp fire\n\tmov last, a\n\tsgt fire, a, 0\n\tspkg fire, a\n"))
	require.NoError(t, err)
	diag := make([]int32, n*n)
	for i := 0; i < n; i++ {
		diag[i*n+i] = 2
	}
	img := &image.Image{Name: "relay", Size: chip.Size{Cores: 2, NeuronsPerCore: n},
		Cores:  []image.Core{{Index: 0, Program: prog, Neurons: n}, {Index: 1, Program: prog, Neurons: n}},
		Inputs: []image.Input{{Name: "in", Size: n}},
		Conns: []image.Conn{
			{Kind: image.FromInput, SrcCount: n, DstCount: n, Weights: diag, SignMode: syn.Mixed, WeightBits: 8, Graded: true},
			{Kind: image.FromCore, Src: 0, SrcCount: n, Dst: 1, DstCount: n, Weights: diag, SignMode: syn.Mixed, WeightBits: 8, Graded: true},
		},
		Pops: []image.Population{
			{Name: "a", Size: n, Segments: []image.Segment{{Core: 0, Count: n}}},
			{Name: "b", Size: n, Segments: []image.Segment{{Core: 1, Start: n / 2, Count: n - n/2}, {Core: 1, Count: n / 2}}},
		},
		Outputs: []image.Output{{Name: "a", Pop: 0, Count: n}, {Name: "b", Pop: 1, Count: n}}}
	b, err := img.MarshalBinary()
	require.NoError(t, err)
	return b
}

func (h *testHost) load(img []byte) regmap.LoadResult {
	h.ok(regmap.OpLoadBegin, regmap.AppendU64(nil, uint64(len(img))))
	for off := 0; off < len(img); off += 1000 {
		end := min(off+1000, len(img))
		h.send(regmap.OpLoadData, regmap.CmdFlagQuiet, append(regmap.AppendDataArgsHeader(nil, regmap.OpLoadData, 0, uint64(off)), img[off:end]...))
	}
	c := h.ok(regmap.OpLoadEnd, regmap.LoadEndArgs{Size: uint64(len(img)), CRC32: crc32.ChecksumIEEE(img)}.Append(nil))
	r, err := regmap.DecodeLoadResult(c.Data)
	require.NoError(h.t, err)
	return r
}

func TestCommandsAndOutputOrdering(t *testing.T) {
	h := newTestHost(t, Opts{}, hostOpts{})
	r := h.b.regs
	require.Equal(t, regmap.Magic, r.load(regmap.RegMagic))
	c := h.ok(regmap.OpNop, []byte("ping"))
	require.Equal(t, "ping", string(c.Data))
	require.NotZero(t, r.load(regmap.RegStatus)&regmap.StatusAttached)
	require.Equal(t, uint32(64<<10/4), r.load(regmap.RegCapPayload))
	require.Equal(t, regmap.LoadResult{Inputs: 1, Outputs: 2, Cores: 2}, h.load(relayImage(t, 6)))
	require.NotZero(t, r.load(regmap.RegStatus)&regmap.StatusLoaded)

	h.inject(0, 0, regmap.Spike{Neuron: 4, Payload: 3})
	c = h.ok(regmap.OpRun, regmap.AppendU64(nil, 3))
	require.Equal(t, uint64(3), c.Timestep)
	require.Equal(t, uint64(3), r.load64(regmap.RegTimestepLo))
	// The completion came after the output: it is all there now.
	spikes, steps, _ := h.output()
	// Port b lists core 1's neurons 3..5 first, then 0..2: its neuron 4 is port neuron 1.
	require.Equal(t, []regmap.Spike{{Neuron: 4, Payload: 6}, {Neuron: 1, Payload: 12}}, spikes)
	require.Equal(t, []uint64{2, 3}, steps)

	// A spike for a later step waits for it.
	h.inject(0, 6, regmap.Spike{Neuron: 0, Payload: 1})
	h.ok(regmap.OpRun, regmap.AppendU64(nil, 5))
	spikes, steps, _ = h.output()
	require.Equal(t, []regmap.Spike{{Neuron: 0, Payload: 2}, {Neuron: 3, Payload: 4}}, spikes)
	require.Equal(t, []uint64{7, 8}, steps, "emitted by the port in step 6")

	// Probes: v of the first core, every step.
	c = h.ok(regmap.OpProbeAdd, regmap.ProbeAddArgs{Core: 0, Kind: regmap.ProbeInput, Neurons: []uint32{0, 5}}.Append(nil))
	id, err := regmap.DecodeProbeAddResult(c.Data)
	require.NoError(t, err)
	require.Equal(t, uint32(0), id)
	h.inject(0, 0, regmap.Spike{Neuron: 5, Payload: 7})
	h.ok(regmap.OpRun, regmap.AppendU64(nil, 2))
	_, _, probes := h.output()
	require.Equal(t, [][]int32{{0, 0}, {0, 14}}, probes)

	// Reset unloads; the timestep starts again.
	h.ok(regmap.OpReset, nil)
	require.Zero(t, r.load(regmap.RegStatus)&regmap.StatusLoaded)
	require.Zero(t, r.load64(regmap.RegTimestepLo))
	c = h.ok(regmap.OpRun, regmap.AppendU64(nil, 2))
	require.Equal(t, uint64(2), c.Timestep, "an empty chip steps too")
}

func TestCommandErrors(t *testing.T) {
	h := newTestHost(t, Opts{}, hostOpts{})
	tests := []struct {
		op    regmap.Op
		flags uint16
		args  []byte
		res   regmap.Result
		msg   string
	}{
		{0x7f, 0, nil, regmap.ResultBadOp, "unknown opcode 0x7f"},
		{regmap.OpRun, regmap.CmdFlagQuiet, regmap.AppendU64(nil, 1), regmap.ResultBadArgs, "RUN does not allow CMD_FLAG_QUIET"},
		{regmap.OpRun, 0, []byte{1}, regmap.ResultBadArgs, "RUN arguments: 1 bytes, want 8"},
		{regmap.OpReset, 0, []byte{1}, regmap.ResultBadArgs, "RESET takes no arguments"},
		{regmap.OpNop, 0, make([]byte, 16<<10+1), regmap.ResultBadArgs, "more than CAP_PAYLOAD"},
		{regmap.OpLoadData, 0, make([]byte, 9), regmap.ResultBadState, "LOAD_DATA outside"},
		{regmap.OpLoadDMA, 0, make([]byte, 16), regmap.ResultBadState, "LOAD_DMA outside"},
		{regmap.OpLoadEnd, 0, make([]byte, 16), regmap.ResultBadState, "LOAD_END without LOAD_BEGIN"},
		{regmap.OpLoadBegin, 0, regmap.AppendU64(nil, 1<<40), regmap.ResultRange, "larger than the board's"},
		{regmap.OpMemRead, 0, regmap.MemReadArgs{Core: 8}.Append(nil), regmap.ResultRange, "core 8, the board has 8"},
		{regmap.OpMemRead, 0, regmap.MemReadArgs{Core: 1, Offset: 65535, Length: 2}.Append(nil), regmap.ResultRange, "[65535, 65537) outside core 1"},
		{regmap.OpMemWrite, 0, append(regmap.AppendDataArgsHeader(nil, regmap.OpMemWrite, 0, 1<<31), 1), regmap.ResultRange, "outside core 0"},
		{regmap.OpProbeAdd, 0, regmap.ProbeAddArgs{Core: 2, Neurons: []uint32{0}}.Append(nil), regmap.ResultRange, "core 2 not configured"},
		{regmap.OpFlashBegin, 0, regmap.FlashBeginArgs{Slot: 0}.Append(nil), regmap.ResultProtected, "write-protected"},
		{regmap.OpFlashBegin, 0, regmap.FlashBeginArgs{Slot: 5}.Append(nil), regmap.ResultRange, "no flash slot 5"},
		{regmap.OpFlashData, 0, make([]byte, 8), regmap.ResultBadState, "outside its FLASH_BEGIN"},
	}
	for _, tt := range tests {
		tag := h.send(tt.op, tt.flags, tt.args)
		c := h.completion()
		require.Equal(t, tag, c.Tag)
		require.Equal(t, tt.res, c.Result, "%s: %s", tt.op, c.Message())
		require.Contains(t, c.Message(), tt.msg)
	}
	// A quiet command that succeeds says nothing; one that fails says so.
	h.send(regmap.OpNop, regmap.CmdFlagQuiet, nil)
	tag := h.send(regmap.OpMemWrite, regmap.CmdFlagQuiet, append(regmap.AppendDataArgsHeader(nil, regmap.OpMemWrite, 9, 0), 1))
	c := h.completion()
	require.Equal(t, tag, c.Tag)
	require.Equal(t, regmap.ResultRange, c.Result)
	// Load errors: a mixed load, a bad CRC, a bad image.
	img := relayImage(t, 4)
	h.ok(regmap.OpLoadBegin, regmap.AppendU64(nil, uint64(len(img))))
	h.ok(regmap.OpLoadData, append(regmap.AppendDataArgsHeader(nil, regmap.OpLoadData, 0, 0), img...))
	c = h.do(regmap.OpLoadDMA, regmap.AppendLoadDMAArgs(nil, 0, 8))
	require.Equal(t, regmap.ResultBadState, c.Result)
	c = h.do(regmap.OpLoadEnd, regmap.LoadEndArgs{Size: uint64(len(img)), CRC32: 1}.Append(nil))
	require.Equal(t, regmap.ResultVerify, c.Result)
	require.Contains(t, c.Message(), "LOAD_END says 0x00000001")
	bad := append([]byte(nil), img...)
	bad[30] ^= 1
	h.ok(regmap.OpLoadBegin, regmap.AppendU64(nil, uint64(len(bad))))
	h.ok(regmap.OpLoadData, append(regmap.AppendDataArgsHeader(nil, regmap.OpLoadData, 0, 0), bad...))
	c = h.do(regmap.OpLoadEnd, regmap.LoadEndArgs{Size: uint64(len(bad)), CRC32: crc32.ChecksumIEEE(bad)}.Append(nil))
	require.Equal(t, regmap.ResultBadImage, c.Result)
	require.Contains(t, c.Message(), "image: decode")
	// A LOAD_DATA outside the image fails, and LOAD_END says it again.
	h.ok(regmap.OpLoadBegin, regmap.AppendU64(nil, 4))
	h.send(regmap.OpLoadData, regmap.CmdFlagQuiet, append(regmap.AppendDataArgsHeader(nil, regmap.OpLoadData, 0, 2), 1, 2, 3))
	require.Equal(t, regmap.ResultRange, h.completion().Result)
	c = h.do(regmap.OpLoadEnd, regmap.LoadEndArgs{Size: 4}.Append(nil))
	require.Equal(t, regmap.ResultRange, c.Result)
	require.Contains(t, c.Message(), "LOAD_DATA [2, 5) outside the 4-byte image")
	// RUN while free-running.
	h.ok(regmap.OpStart, nil)
	c = h.do(regmap.OpRun, regmap.AppendU64(nil, 1))
	require.Equal(t, regmap.ResultBadState, c.Result)
	h.ok(regmap.OpStop, nil)
}

func TestLoadThroughTheBulkWindow(t *testing.T) {
	bulk := make([]byte, 1<<16)
	h := newTestHost(t, Opts{}, hostOpts{bulk: bulk})
	img := relayImage(t, 4)
	copy(bulk, img)
	h.ok(regmap.OpLoadBegin, regmap.AppendU64(nil, uint64(len(img))))
	half := uint64(len(img) / 2)
	h.send(regmap.OpLoadDMA, regmap.CmdFlagQuiet, regmap.AppendLoadDMAArgs(nil, 0, half))
	h.send(regmap.OpLoadDMA, regmap.CmdFlagQuiet, regmap.AppendLoadDMAArgs(nil, half, uint64(len(img))-half))
	c := h.ok(regmap.OpLoadEnd, regmap.LoadEndArgs{Size: uint64(len(img)), CRC32: crc32.ChecksumIEEE(img)}.Append(nil))
	r, _ := regmap.DecodeLoadResult(c.Data)
	require.Equal(t, uint32(2), r.Outputs)
	// An image bigger than the window cannot go through it.
	h.ok(regmap.OpLoadBegin, regmap.AppendU64(nil, 1<<17))
	c = h.do(regmap.OpLoadDMA, regmap.AppendLoadDMAArgs(nil, 0, 8))
	require.Equal(t, regmap.ResultRange, c.Result)
	require.Contains(t, c.Message(), "does not fit the 65536-byte bulk window")
	c = h.do(regmap.OpLoadEnd, regmap.LoadEndArgs{Size: 1 << 17}.Append(nil))
	require.Equal(t, regmap.ResultVerify, c.Result)
}

func TestControlRegisterAndInterrupts(t *testing.T) {
	h := newTestHost(t, Opts{}, hostOpts{})
	r := h.b.regs
	h.load(relayImage(t, 4))
	// A long RUN, stopped by CONTROL.STOP: it completes ABORTED at a step boundary.
	tag := h.send(regmap.OpRun, 0, regmap.AppendU64(nil, 1<<40))
	require.Eventually(t, func() bool { return r.load64(regmap.RegTimestepLo) > 10 }, 5*time.Second, time.Millisecond)
	require.NotZero(t, r.load(regmap.RegStatus)&regmap.StatusBusy)
	r.or(regmap.RegControl, regmap.ControlStop)
	h.kick()
	c := h.completion()
	require.Equal(t, tag, c.Tag)
	require.Equal(t, regmap.ResultAborted, c.Result)
	require.Equal(t, c.Timestep, r.load64(regmap.RegTimestepLo))
	h.ok(regmap.OpNop, nil)
	require.Equal(t, regmap.EventStopped, h.events[0].Code)
	// Free-running from the register, then reset from it.
	r.or(regmap.RegControl, regmap.ControlStart)
	h.kick()
	require.Eventually(t, func() bool { return r.load(regmap.RegStatus)&regmap.StatusRunning != 0 }, 5*time.Second, time.Millisecond)
	r.or(regmap.RegControl, regmap.ControlReset)
	h.kick()
	require.Eventually(t, func() bool { return r.load(regmap.RegStatus)&(regmap.StatusRunning|regmap.StatusLoaded) == 0 }, 5*time.Second, time.Millisecond)
	h.ok(regmap.OpNop, nil)
	require.Equal(t, regmap.EventReset, h.events[len(h.events)-1].Code)

	// Interrupts are one-shot: an armed mask gets one, and is disarmed by it.
	before := h.irqs.Load()
	r.store(regmap.RegIRQMask, regmap.IRQAll)
	h.ok(regmap.OpNop, nil)
	require.Eventually(t, func() bool { return h.irqs.Load() == before+1 }, 5*time.Second, time.Millisecond)
	require.Zero(t, r.load(regmap.RegIRQMask))
	require.NotZero(t, r.load(regmap.RegIRQStatus)&regmap.IRQCompletion)
	h.ok(regmap.OpNop, nil)
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, before+1, h.irqs.Load(), "a disarmed mask gets none")

	// Idle, the board sleeps and says so; the doorbell wakes it.
	require.Eventually(t, func() bool { return r.load(regmap.RegStatus)&regmap.StatusSleeping != 0 }, 5*time.Second, time.Millisecond)
	h.ok(regmap.OpNop, nil)
}

func TestOutputStallsWithoutLoss(t *testing.T) {
	// An OUT ring of 4 KiB fills up in a few steps; the board waits for the host instead of
	// dropping anything, and the RUN completes only when its output is all in OUT.
	h := newTestHost(t, Opts{}, hostOpts{caps: [4]int{0, 0, 0, 4096}})
	h.load(relayImage(t, 64))
	all := make([]regmap.Spike, 64)
	for i := range all {
		all[i] = regmap.Spike{Neuron: uint32(i), Payload: 1}
	}
	for ts := uint64(1); ts <= 20; ts++ {
		h.inject(0, ts, all...)
	}
	tag := h.send(regmap.OpRun, 0, regmap.AppendU64(nil, 22))
	require.Eventually(t, func() bool { return h.b.regs.load(regmap.RegStatus)&regmap.StatusStalled != 0 }, 5*time.Second, time.Millisecond)
	c := h.completion() // drains OUT while it waits
	require.Equal(t, tag, c.Tag)
	s, _, _ := h.output()
	require.Equal(t, 2*20*64, len(s))
}

func TestHostThatBreaksTheRings(t *testing.T) {
	h := newTestHost(t, Opts{}, hostOpts{})
	h.ok(regmap.OpNop, nil)
	// A producer position that is not a multiple of 8 ends the session with a protocol
	// error and STATUS.ERROR; nothing crashes.
	bad := newTestHost(t, Opts{}, hostOpts{})
	bad.ok(regmap.OpNop, nil)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&bad.mems[regmap.RingCmd][ring.OffProducerPos])), 12345)
	bad.kick()
	select {
	case err := <-bad.done:
		require.ErrorIs(t, err, ring.ErrProtocol)
		require.ErrorContains(t, err, "not a multiple of 8")
	case <-time.After(5 * time.Second):
		t.Fatal("the board did not notice")
	}
	require.NotZero(t, bad.b.regs.load(regmap.RegStatus)&regmap.StatusError)
	bad.gone.Store(true)
	bad.b.Close()

	// A malformed command (too short for its header) is an ERROR event, not a crash.
	buf, err := h.cmd.Reserve(context.Background(), regmap.TypeCommand, 4)
	require.NoError(t, err)
	copy(buf, []byte{1, 2, 3, 4})
	h.cmd.Commit()
	h.cmd.Publish()
	h.ring(regmap.RingCmd)
	h.ok(regmap.OpNop, nil)
	require.Equal(t, regmap.EventError, h.events[len(h.events)-1].Code)
	// A malformed SPKIN record is dropped with an event.
	buf, err = h.in.Reserve(context.Background(), regmap.TypeSpikes, 20)
	require.NoError(t, err)
	clear(buf)
	buf[4] = 9 // count 9 in a 20-byte record
	h.in.Commit()
	h.in.Publish()
	h.ok(regmap.OpNop, nil)
	require.Equal(t, regmap.EventInputDrop, h.events[len(h.events)-1].Code)
}

func TestSecondHostIsRefused(t *testing.T) {
	h := newTestHost(t, Opts{}, hostOpts{})
	h.ok(regmap.OpNop, nil)
	err := h.b.Serve(context.Background(), Link{})
	require.ErrorIs(t, err, ErrBusy)
	host, att := h.b.Holder()
	require.True(t, att)
	require.Equal(t, Host{PID: 42, Comm: "test"}, host)
	require.True(t, h.b.Identity().Attached)
}

func TestFlashingAndRebooting(t *testing.T) {
	h := newTestHost(t, Opts{}, hostOpts{})
	r := h.b.regs
	fw := bytes.Repeat([]byte{0xa5, 0x00, 0x5a}, 3000)
	v := regmap.MakeFWVersion(4, 5, 6)
	h.ok(regmap.OpFlashBegin, regmap.FlashBeginArgs{Slot: regmap.SlotA, Size: uint32(len(fw)), Version: v, CRC32: crc32.ChecksumIEEE(fw)}.Append(nil))
	for off := 0; off < len(fw); off += 4000 {
		end := min(off+4000, len(fw))
		h.ok(regmap.OpFlashData, append(regmap.AppendDataArgsHeader(nil, regmap.OpFlashData, regmap.SlotA, uint64(off)), fw[off:end]...))
	}
	h.ok(regmap.OpFlashEnd, regmap.AppendFlashEndArgs(nil, regmap.SlotA))
	c := h.ok(regmap.OpFlashInfo, nil)
	fi, err := regmap.DecodeFlashInfo(c.Data)
	require.NoError(t, err)
	require.Equal(t, uint32(regmap.SlotGolden), fi.Booted)
	require.Equal(t, regmap.SlotValid, fi.Slots[1].Flags)
	require.Equal(t, v, fi.Slots[1].Version)
	r.or(regmap.RegControl, regmap.ControlReboot)
	h.kick()
	require.Eventually(t, func() bool { return r.load(regmap.RegFWVersion) == uint32(v) }, 5*time.Second, time.Millisecond)
	require.Zero(t, r.load(regmap.RegStatus)&regmap.StatusGolden)
	// Writing the same slot twice without its FLASH_BEGIN (no erase) corrupts it; the
	// read-back catches it.
	h.ok(regmap.OpFlashBegin, regmap.FlashBeginArgs{Slot: regmap.SlotB, Size: 4, Version: v, CRC32: crc32.ChecksumIEEE([]byte{1, 2, 3, 4})}.Append(nil))
	h.ok(regmap.OpFlashData, append(regmap.AppendDataArgsHeader(nil, regmap.OpFlashData, regmap.SlotB, 0), 0xf0, 0xf0, 0xf0, 0xf0))
	h.ok(regmap.OpFlashData, append(regmap.AppendDataArgsHeader(nil, regmap.OpFlashData, regmap.SlotB, 0), 1, 2, 3, 4))
	c = h.do(regmap.OpFlashEnd, regmap.AppendFlashEndArgs(nil, regmap.SlotB))
	require.Equal(t, regmap.ResultVerify, c.Result)
	require.Contains(t, c.Message(), "reads back with CRC-32")
}

func TestSensorsFollowTheLoadDeterministically(t *testing.T) {
	read := func() []regmap.Sensors {
		h := newTestHost(t, Opts{Thermal: ThermalModel{Tau: 10 * time.Millisecond}}, hostOpts{})
		h.load(relayImage(t, 256))
		var out []regmap.Sensors
		c := h.ok(regmap.OpSensors, nil)
		s, err := regmap.DecodeSensors(c.Data)
		require.NoError(t, err)
		out = append(out, s)
		all := make([]regmap.Spike, 256)
		for i := range all {
			all[i] = regmap.Spike{Neuron: uint32(i), Payload: 1}
		}
		for ts := uint64(1); ts <= 50; ts++ {
			h.inject(0, ts, all...)
		}
		h.ok(regmap.OpRun, regmap.AppendU64(nil, 50))
		h.output()
		c = h.ok(regmap.OpSensors, nil)
		s, err = regmap.DecodeSensors(c.Data)
		require.NoError(t, err)
		out = append(out, s)
		h.close()
		return out
	}
	a, b := read(), read()
	require.Equal(t, a, b, "the same workload reads the same")
	idle, busy := a[0], a[1]
	assert.Greater(t, busy.TemperatureMC, idle.TemperatureMC)
	assert.Greater(t, busy.Rails[regmap.RailCore].PowerUW, idle.Rails[regmap.RailCore].PowerUW)
	assert.Greater(t, busy.Rails[regmap.RailDDR].CurrentUA, idle.Rails[regmap.RailDDR].CurrentUA)
	assert.NotZero(t, busy.StepNS)
}

func TestINA226Arithmetic(t *testing.T) {
	m := &ina226Model{shuntOhm: 0.002, cal: 2560}
	// shunt = 1.5 A × 2 mΩ / 2.5 µV = 1200; current = 1200 × 2560 / 2048 = 1500 (mA);
	// bus = 0.85 V / 1.25 mV = 680; power = 1500 × 680 / 20000 = 51 (× 25 mW).
	shunt, bus, current, power, ovf := m.measure(1.5, 0.85)
	require.Equal(t, [4]int32{1200, 680, 1500, 51}, [4]int32{shunt, bus, current, power})
	require.False(t, ovf)
	_, _, current, _, _ = m.measure(-1.5, 0.85)
	require.Equal(t, int32(-1500), current)
	_, bus, _, _, _ = m.measure(0, 100)
	require.Equal(t, int32(32767), bus, "the bus register saturates")
	m.cal = 0x7fff
	_, _, _, _, ovf = m.measure(30, 0.85)
	require.True(t, ovf, "the current register overflows")
}

func TestThrottleHysteresisAndPowerLimit(t *testing.T) {
	s := newSensors(PowerModel{PowerLimitW: 1.5}, ThermalModel{LimitC: 46, HysteresisC: 1, Tau: time.Millisecond})
	busy := emu.Stats{}
	var evs []regmap.Event
	for i := 1; i <= 200; i++ {
		busy.NeuronUpdates += 8192
		busy.SynapticEvents += 200000
		evs = append(evs, s.step(busy, 8, uint64(i))...)
	}
	require.NotEmpty(t, evs)
	require.Equal(t, regmap.EventThrottle, evs[0].Code)
	require.Equal(t, regmap.ThrottleThermal|regmap.ThrottlePower, s.throttle)
	require.Equal(t, 50e6, s.clockHz())
	for i := 201; i <= 2000; i++ {
		evs = append(evs, s.step(busy, 8, uint64(i))...) // idle steps: no new work
	}
	require.Zero(t, s.throttle)
	require.Equal(t, regmap.EventUnthrottle, evs[len(evs)-1].Code)
}

func TestOptsAreChecked(t *testing.T) {
	for _, o := range []Opts{{CoreMem: 3}, {RingCapacity: 1000}, {Bulk: 100}, {Size: chip.Size{Cores: 1000, NeuronsPerCore: 1}}} {
		_, err := New(o)
		require.Error(t, err, "%+v", o)
	}
	b, err := New(Opts{})
	require.NoError(t, err)
	require.Contains(t, b.String(), "emulated board 8×1024, serial 1, firmware 1.0.0")
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	require.Error(t, b.Serve(context.Background(), Link{}))
}
