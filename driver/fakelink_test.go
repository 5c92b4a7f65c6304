package driver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// fakeLink is a Link whose board is the test: plain-memory rings, a register map, and a
// script that sees every command the moment the host rings the doorbell and answers (or
// not) by writing records into CPL and OUT. The protocol core runs unchanged over it, with
// no process, no emulator and no sleeps.
type fakeLink struct {
	mu       sync.Mutex
	regs     map[uint32]uint32
	readErr  error // every ReadReg fails with it
	cmd, in  *ring.Producer
	cpl, out *ring.Consumer
	bCmd     *ring.Consumer // the board's ends
	bCpl     *ring.Producer
	bOut     *ring.Producer
	irq      chan struct{}
	gone     chan struct{}
	goneOnce sync.Once
	script   func(l *fakeLink, c regmap.Command)
	closed   bool
}

func newFakeLink(t *testing.T, script func(l *fakeLink, c regmap.Command)) *fakeLink {
	l := &fakeLink{irq: make(chan struct{}, 1), gone: make(chan struct{}), script: script, regs: map[uint32]uint32{
		regmap.RegMagic: regmap.Magic, regmap.RegProtoVersion: uint32(regmap.ProtocolVersion), regmap.RegCapVersion: regmap.CapVersion,
		regmap.RegBoardID: uint32(regmap.BoardEmulator), regmap.RegCapCores: 2, regmap.RegCapNeurons: 16,
		regmap.RegCapPayload: 4096, regmap.RegCapCoreMem: 4096,
	}}
	mk := func() *ring.Ring {
		r, err := ring.New(make([]byte, ring.HeaderSize+1<<16), ring.Opts{Capacity: 1 << 16, Heartbeat: -1})
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		return r
	}
	var err error
	cmd, in, cpl, out := mk(), mk(), mk(), mk()
	l.cmd, err = cmd.Producer()
	require.NoError(t, err)
	l.bCmd, err = cmd.Consumer()
	require.NoError(t, err)
	l.in, err = in.Producer()
	require.NoError(t, err)
	l.bCpl, err = cpl.Producer()
	require.NoError(t, err)
	l.cpl, err = cpl.Consumer()
	require.NoError(t, err)
	l.bOut, err = out.Producer()
	require.NoError(t, err)
	l.out, err = out.Consumer()
	require.NoError(t, err)
	return l
}

func (l *fakeLink) ReadReg(off uint32) (uint32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readErr != nil {
		return 0, l.readErr
	}
	return l.regs[off], nil
}

func (l *fakeLink) WriteReg(off, v uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch regmap.AccessOf(off) {
	case regmap.W1C:
		l.regs[off] &^= v
	case regmap.W1S:
		l.regs[off] |= v
	default:
		l.regs[off] = v
	}
	return nil
}

func (l *fakeLink) Producer(r regmap.Ring) RecordProducer {
	if r == regmap.RingSpkIn {
		return l.in
	}
	return l.cmd
}

func (l *fakeLink) Consumer(r regmap.Ring) RecordConsumer {
	if r == regmap.RingOut {
		return l.out
	}
	return l.cpl
}

// Notify runs the script on every command published so far.
func (l *fakeLink) Notify(r regmap.Ring) {
	if r != regmap.RingCmd {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		rec, err := l.bCmd.TryRead()
		if err != nil {
			break
		}
		c, err := regmap.DecodeCommand(rec.Payload)
		if err == nil {
			c.Args = append([]byte(nil), c.Args...)
			l.script(l, c)
		}
		l.bCmd.Release()
	}
}

func (l *fakeLink) Arm(bool) {}

func (l *fakeLink) Wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.irq:
	case <-l.gone:
		return errorf("the fake board is gone: %w", ErrGone)
	case <-t.C:
	}
	return nil
}

func (l *fakeLink) Wake() { l.interrupt() }

func (l *fakeLink) Alive() error {
	select {
	case <-l.gone:
		return errorf("the fake board is gone: %w", ErrGone)
	default:
		return nil
	}
}

func (l *fakeLink) Bulk() []byte { return nil }

func (l *fakeLink) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return nil
}

func (l *fakeLink) interrupt() {
	select {
	case l.irq <- struct{}{}:
	default:
	}
}

// complete writes a completion (the script holds l.mu).
func (l *fakeLink) complete(c regmap.Command, res regmap.Result, ts uint64, data []byte) {
	b, err := l.bCpl.TryReserve(regmap.TypeCompletion, regmap.CompletionSize(len(data)))
	if err != nil {
		panic(err)
	}
	regmap.PutCompletion(b, regmap.Completion{Tag: c.Tag, Op: c.Op, Result: res, Timestep: ts, Data: data})
	l.bCpl.Commit()
	l.bCpl.Publish()
	l.interrupt()
}

// record writes any record into a board → host ring (the script holds l.mu).
func (l *fakeLink) record(p *ring.Producer, typ uint16, payload []byte) {
	b, err := p.TryReserve(typ, len(payload))
	if err != nil {
		panic(err)
	}
	copy(b, payload)
	p.Commit()
	p.Publish()
	l.interrupt()
}

func (l *fakeLink) goAway() { l.goneOnce.Do(func() { close(l.gone) }) }

func openFake(t *testing.T, l *fakeLink, opts Opts) *Device {
	d, err := OpenLink(ctxT(t), "emu:", l, opts)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// echo answers NOPs with their data.
func echo(l *fakeLink, c regmap.Command) { l.complete(c, regmap.ResultOK, 0, c.Args) }

// Completions are matched to their commands by tag, in whatever order they come.
func TestFakeOutOfOrderCompletions(t *testing.T) {
	var held []regmap.Command
	l := newFakeLink(t, func(l *fakeLink, c regmap.Command) {
		held = append(held, c)
		if len(held) == 3 {
			for i := len(held) - 1; i >= 0; i-- {
				echo(l, held[i])
			}
		}
	})
	d := openFake(t, l, Opts{})
	ctx := ctxT(t)
	errs := make(chan error, 3)
	for _, s := range []string{"a", "bb", "ccc"} {
		go func() { errs <- d.Echo(ctx, []byte(s)) }() // Echo checks that its own data comes back
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
}

func TestFakeProtocolViolations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(l *fakeLink, c regmap.Command)
		want   string
	}{
		{"unknown tag", func(l *fakeLink, c regmap.Command) { c.Tag += 100; echo(l, c) }, "completion for tag 101, which is not outstanding"},
		{"wrong op", func(l *fakeLink, c regmap.Command) { c.Op = regmap.OpSensors; echo(l, c) }, "says SENSORS, the command was NOP"},
		{"garbage in CPL", func(l *fakeLink, c regmap.Command) { l.record(l.bCpl, 0x77, []byte{1, 2, 3}) }, "record type 0x77 in CPL"},
		{"short completion", func(l *fakeLink, c regmap.Command) { l.record(l.bCpl, regmap.TypeCompletion, []byte{1}) }, "completion"},
		{"garbage in OUT", func(l *fakeLink, c regmap.Command) { l.record(l.bOut, regmap.TypeSpikes, []byte{9}); echo(l, c) }, "spikes"},
		{"wrong echo", func(l *fakeLink, c regmap.Command) { c.Args = []byte("xyz"); echo(l, c) }, "NOP echoed 3 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newFakeLink(t, tc.script)
			d := openFake(t, l, Opts{})
			err := d.Echo(ctxT(t), []byte("hi"))
			require.ErrorIs(t, err, ErrProtocol)
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "driver: "), err.Error())
			if strings.HasPrefix(tc.name, "short") || strings.HasPrefix(tc.name, "garbage in OUT") {
				require.ErrorIs(t, err, regmap.ErrMalformed, "the decoder's error is wrapped too")
			}
			// The device is done for: every call says why.
			err = d.Echo(ctxT(t), nil)
			require.ErrorIs(t, err, ErrProtocol)
		})
	}
}

// A board that goes while a command waits fails it, and every later call, with ErrGone.
func TestFakeBoardGone(t *testing.T) {
	got := make(chan struct{})
	l := newFakeLink(t, func(l *fakeLink, c regmap.Command) { close(got) })
	d := openFake(t, l, Opts{Timeout: time.Hour})
	errc := make(chan error)
	go func() { errc <- d.Echo(ctxT(t), nil) }()
	<-got
	l.goAway()
	err := <-errc
	require.ErrorIs(t, err, ErrGone)
	require.ErrorContains(t, err, "the fake board is gone")
	_, err = d.Sensors(ctxT(t))
	require.ErrorIs(t, err, ErrGone)
}

// Spikes and samples come out in device terms, stamped with their steps; output beyond
// OutputLimit is counted as dropped, not kept.
func TestFakeOutput(t *testing.T) {
	l := newFakeLink(t, func(l *fakeLink, c regmap.Command) {
		if c.Op != regmap.OpRun {
			echo(l, c)
			return
		}
		for ts := uint64(1); ts <= 3; ts++ {
			b := make([]byte, regmap.SpikesSize(2))
			regmap.PutSpikes(b, 1, ts, []regmap.Spike{{Neuron: 4, Payload: 1}, {Neuron: 9, Payload: -int32(ts)}})
			l.record(l.bOut, regmap.TypeSpikes, b)
			p := make([]byte, regmap.ProbeSize(1))
			regmap.PutProbe(p, 0, ts, []int32{int32(10 * ts)})
			l.record(l.bOut, regmap.TypeProbe, p)
		}
		l.complete(c, regmap.ResultOK, 3, nil)
	})
	d := openFake(t, l, Opts{})
	ctx := ctxT(t)
	require.NoError(t, d.Run(ctx, 3))
	require.Equal(t, uint64(3), d.Time())
	var out chip.Output
	require.NoError(t, d.Read(ctx, &out))
	require.Equal(t, chip.Output{
		Spikes: []chip.Spike{{Step: 1, Port: 1, Neuron: 4, Payload: 1}, {Step: 1, Port: 1, Neuron: 9, Payload: -1},
			{Step: 2, Port: 1, Neuron: 4, Payload: 1}, {Step: 2, Port: 1, Neuron: 9, Payload: -2},
			{Step: 3, Port: 1, Neuron: 4, Payload: 1}, {Step: 3, Port: 1, Neuron: 9, Payload: -3}},
		Samples: []chip.Sample{{Probe: 0, Step: 1, Values: []int32{10}}, {Probe: 0, Step: 2, Values: []int32{20}}, {Probe: 0, Step: 3, Values: []int32{30}}},
	}, out)

	// Room for two spike records' bytes: the first spike and probe records fit, the other
	// four are dropped and counted.
	small := newFakeLink(t, l.script)
	d = openFake(t, small, Opts{OutputLimit: 2 * regmap.SpikesSize(2)})
	require.NoError(t, d.Run(ctx, 3))
	out = chip.Output{}
	require.NoError(t, d.Read(ctx, &out))
	require.Len(t, out.Spikes, 2)
	require.Len(t, out.Samples, 1)
	require.Equal(t, uint64(4), out.Dropped)
}

// A board that cannot be reached at Open says so, wrapping the link's error.
func TestFakeUnreachableAtOpen(t *testing.T) {
	l := newFakeLink(t, echo)
	l.readErr = errorf("usb: control transfer: %w", ErrGone)
	_, err := OpenLink(ctxT(t), "emu:", l, Opts{})
	require.ErrorIs(t, err, ErrGone)
	require.ErrorContains(t, err, "reading the identity registers")
	require.True(t, l.closed, "the link is closed on failure")

	l = newFakeLink(t, echo)
	l.regs[regmap.RegMagic] = 0xdead
	_, err = OpenLink(ctxT(t), "emu:", l, Opts{})
	require.ErrorIs(t, err, ErrProtocol)
	require.True(t, errors.Is(err, ErrProtocol))
}

// A command the board never answers times out naming itself, and leaves the device usable.
func TestFakeTimeout(t *testing.T) {
	answer := false
	l := newFakeLink(t, func(l *fakeLink, c regmap.Command) {
		if answer {
			echo(l, c)
		}
	})
	d := openFake(t, l, Opts{Timeout: time.Millisecond})
	err := d.Echo(context.Background(), nil)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "NOP: no completion in 1ms")
	answer = true
	d.opts.Timeout = time.Hour
	require.NoError(t, d.Echo(context.Background(), []byte("again")))
}
