package board

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// testHost drives a board through a Link over rings in ordinary memory, so that the race
// detector sees both sides.
type testHost struct {
	t        *testing.T
	b        *Board
	rings    [regmap.NumRings]*ring.Ring
	mems     [regmap.NumRings][]byte
	cmd, in  *ring.Producer
	cpl, out *ring.Consumer
	irqs     atomic.Int32
	doorbell chan struct{}
	gone     atomic.Bool
	done     chan error
	cancel   context.CancelFunc
	tag      uint32
	events   []regmap.Event
	outRecs  [][]byte // OUT records taken while waiting for a completion
	outTypes []uint16
}

type hostOpts struct {
	caps [regmap.NumRings]int
	bulk []byte
}

func newTestHost(t *testing.T, opts Opts, ho hostOpts) *testHost {
	t.Helper()
	b, err := New(opts)
	require.NoError(t, err)
	h := &testHost{t: t, b: b, doorbell: make(chan struct{}, 1), done: make(chan error, 1)}
	for i := range h.rings {
		c := ho.caps[i]
		if c == 0 {
			c = 64 << 10
		}
		h.mems[i] = make([]byte, ring.HeaderSize+c)
		h.rings[i], err = ring.New(h.mems[i], ring.Opts{Heartbeat: -1})
		require.NoError(t, err)
	}
	var l Link
	h.cmd, _ = h.rings[regmap.RingCmd].Producer()
	l.Cmd, _ = h.rings[regmap.RingCmd].Consumer()
	h.in, _ = h.rings[regmap.RingSpkIn].Producer()
	l.SpkIn, _ = h.rings[regmap.RingSpkIn].Consumer()
	l.Cpl, _ = h.rings[regmap.RingCpl].Producer()
	h.cpl, _ = h.rings[regmap.RingCpl].Consumer()
	l.Out, _ = h.rings[regmap.RingOut].Producer()
	h.out, _ = h.rings[regmap.RingOut].Consumer()
	l.OutMax = h.rings[regmap.RingOut].MaxPayload()
	l.Payload = h.rings[0].Capacity() / 4
	for _, r := range h.rings {
		l.Payload = min(l.Payload, r.Capacity()/4)
	}
	l.Bulk = ho.bulk
	l.Interrupt = func() { h.irqs.Add(1) }
	l.Wait = func(d time.Duration) bool {
		select {
		case <-h.doorbell:
		case <-time.After(d):
		}
		return !h.gone.Load()
	}
	l.Alive = func() bool { return !h.gone.Load() }
	l.Host = Host{PID: 42, Comm: "test"}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- b.Serve(ctx, l) }()
	t.Cleanup(h.close)
	return h
}

// close makes the host leave and waits for Serve.
func (h *testHost) close() {
	if h.gone.Swap(true) {
		return
	}
	h.kick()
	select {
	case err := <-h.done:
		require.NoError(h.t, err)
	case <-time.After(5 * time.Second):
		h.t.Fatal("Serve did not return after the host left")
	}
	h.cancel()
	h.b.Close()
}

func (h *testHost) kick() {
	select {
	case h.doorbell <- struct{}{}:
	default:
	}
}

// ring tells the board ring r changed, kicking it if it sleeps.
func (h *testHost) ring(r regmap.Ring) {
	h.b.regs.or(regmap.RegDoorbell, 1<<r)
	if h.b.regs.load(regmap.RegStatus)&regmap.StatusSleeping != 0 {
		h.kick()
	}
}

// send writes a command and returns its tag.
func (h *testHost) send(op regmap.Op, flags uint16, args []byte) uint32 {
	h.tag++
	buf, err := h.cmd.Reserve(context.Background(), regmap.TypeCommand, regmap.CommandSize(len(args)))
	require.NoError(h.t, err)
	regmap.PutCommand(buf, regmap.Command{Tag: h.tag, Op: op, Flags: flags, Args: args})
	h.cmd.Commit()
	h.cmd.Publish()
	h.ring(regmap.RingCmd)
	return h.tag
}

// next returns the next CPL record, taking events aside, until a completion.
func (h *testHost) completion() regmap.Completion {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.takeOutput() // the board waits for room in OUT before it completes
		r, err := h.cpl.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			if time.Now().After(deadline) {
				h.t.Fatal("no completion")
			}
			time.Sleep(50 * time.Microsecond)
			continue
		}
		require.NoError(h.t, err)
		switch r.Type {
		case regmap.TypeEvent:
			ev, err := regmap.DecodeEvent(r.Payload)
			require.NoError(h.t, err)
			h.events = append(h.events, ev)
			h.cpl.Release()
		case regmap.TypeCompletion:
			c, err := regmap.DecodeCompletion(r.Payload)
			require.NoError(h.t, err)
			c.Data = append([]byte(nil), c.Data...)
			h.cpl.Release()
			h.ring(regmap.RingCpl)
			return c
		default:
			h.t.Fatalf("record type %#x in CPL", r.Type)
		}
	}
}

// do sends a command and returns its completion.
func (h *testHost) do(op regmap.Op, args []byte) regmap.Completion {
	tag := h.send(op, 0, args)
	c := h.completion()
	require.Equal(h.t, tag, c.Tag)
	require.Equal(h.t, op, c.Op)
	return c
}

// ok sends a command that must succeed.
func (h *testHost) ok(op regmap.Op, args []byte) regmap.Completion {
	c := h.do(op, args)
	require.Equal(h.t, regmap.ResultOK, c.Result, "%s: %s", op, c.Message())
	return c
}

// takeOutput copies the records in OUT aside.
func (h *testHost) takeOutput() {
	n := 0
	for {
		r, err := h.out.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			break
		}
		require.NoError(h.t, err)
		h.outRecs = append(h.outRecs, append([]byte(nil), r.Payload...))
		h.outTypes = append(h.outTypes, r.Type)
		n++
	}
	if n > 0 {
		h.out.Release()
		h.ring(regmap.RingOut)
	}
}

// output returns the output since the last call.
func (h *testHost) output() (spikes []regmap.Spike, steps []uint64, probes [][]int32) {
	h.takeOutput()
	recs, types := h.outRecs, h.outTypes
	h.outRecs, h.outTypes = nil, nil
	for i, p := range recs {
		r := struct {
			Type    uint16
			Payload []byte
		}{types[i], p}
		switch r.Type {
		case regmap.TypeSpikes:
			hd, s, err := regmap.DecodeSpikes(r.Payload, nil)
			require.NoError(h.t, err)
			spikes = append(spikes, s...)
			for range s {
				steps = append(steps, hd.Timestep)
			}
		case regmap.TypeProbe:
			_, v, err := regmap.DecodeProbe(r.Payload, nil)
			require.NoError(h.t, err)
			probes = append(probes, v)
		}
	}
	return
}

func (h *testHost) inject(port uint16, ts uint64, s ...regmap.Spike) {
	buf, err := h.in.Reserve(context.Background(), regmap.TypeSpikes, regmap.SpikesSize(len(s)))
	require.NoError(h.t, err)
	regmap.PutSpikes(buf, port, ts, s)
	h.in.Commit()
	h.in.Publish()
	h.ring(regmap.RingSpkIn)
}
