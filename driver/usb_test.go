package driver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// The USB link's logic over a scripted usbDevice, without libusb: the framing and its order,
// how the writer batches and streams, what the reader does with what comes, how errors are
// named. The link through the real libusb is usb_e2e_test.go's (lab build).

type fakeControl struct {
	rType, req uint8
	idx        uint16
	data       []byte
}

type fakeIn struct {
	data []byte
	err  error
}

type fakeUSB struct {
	mu       sync.Mutex
	controls []fakeControl
	answer   func(c fakeControl, data []byte) (int, error) // nil: a plain success
	claimErr error
	in       chan fakeIn
	writes   [][]byte   // exact-length transfers
	streams  [][][]byte // the chunks of each stream
	inStream bool
	wrote    chan struct{}
	closed   bool
}

func newFakeUSB() *fakeUSB {
	return &fakeUSB{in: make(chan fakeIn, 16), wrote: make(chan struct{}, 64)}
}

func (f *fakeUSB) claim() error { return f.claimErr }

func (f *fakeUSB) control(rType, req uint8, val, idx uint16, data []byte, timeout time.Duration) (int, error) {
	c := fakeControl{rType, req, idx, append([]byte(nil), data...)}
	f.mu.Lock()
	f.controls = append(f.controls, c)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(c, data)
	}
	return len(data), nil
}

func (f *fakeUSB) read(ctx context.Context, p []byte) (int, error) {
	select {
	case x := <-f.in:
		return copy(p, x.data), x.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (f *fakeUSB) write(ctx context.Context, p []byte) error {
	f.mu.Lock()
	f.writes = append(f.writes, append([]byte(nil), p...))
	f.mu.Unlock()
	f.wrote <- struct{}{}
	return nil
}

type fakeStream struct{ f *fakeUSB }

func (f *fakeUSB) stream() (usbStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inStream {
		return nil, errors.New("two streams at once")
	}
	f.inStream = true
	f.streams = append(f.streams, nil)
	return fakeStream{f}, nil
}

func (s fakeStream) write(ctx context.Context, p []byte) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if len(p) != regmap.USBHostTransfer {
		return fmt.Errorf("a stream transfer of %d bytes", len(p))
	}
	i := len(s.f.streams) - 1
	s.f.streams[i] = append(s.f.streams[i], append([]byte(nil), p...))
	return nil
}

func (s fakeStream) close(ctx context.Context) error {
	s.f.mu.Lock()
	s.f.inStream = false
	s.f.mu.Unlock()
	s.f.wrote <- struct{}{}
	return nil
}

func (f *fakeUSB) close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

// fakeUSBLink makes a link over f with small rings; start attaches and starts the pumps.
func fakeUSBLink(t *testing.T, f *fakeUSB, start bool) *usbLink {
	l, err := newUSBLink(f, "usb:1209:0001:T", Opts{Timeout: time.Second, RingCapacity: 1 << 20}.withDefaults())
	require.NoError(t, err)
	if start {
		require.NoError(t, l.start(context.Background(), Opts{}))
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// publish writes one record into a host → board ring of the link and notifies.
func publish(t *testing.T, l *usbLink, r regmap.Ring, typ uint16, payload []byte) {
	p := l.Producer(r)
	b, err := p.TryReserve(typ, len(payload))
	require.NoError(t, err)
	copy(b, payload)
	p.Commit()
	p.Publish()
	l.Notify(r)
}

type frameOut struct {
	ring regmap.Ring
	p    []byte
}

// framesOf decodes what went out on bulk OUT.
func framesOf(t *testing.T, chunks ...[]byte) []frameOut {
	d := regmap.FrameDecoder{Rings: 1<<regmap.RingCmd | 1<<regmap.RingSpkIn, Max: [4]int{1 << 20, 0, 1 << 20}}
	var out []frameOut
	for _, c := range chunks {
		_, err := d.Feed(c, func(h regmap.FrameHeader, p []byte) error {
			out = append(out, frameOut{h.Ring, append([]byte(nil), p...)})
			return nil
		})
		require.NoError(t, err)
	}
	require.False(t, d.Partial())
	return out
}

func TestUSBLinkStartsASession(t *testing.T) {
	f := newFakeUSB()
	fakeUSBLink(t, f, true)
	require.Len(t, f.controls, 1)
	c := f.controls[0]
	assert.Equal(t, uint8(regmap.USBVendorOut), c.rType)
	assert.Equal(t, uint8(regmap.USBReqAttach), c.req)
	a, err := regmap.DecodeUSBAttach(c.data)
	require.NoError(t, err)
	assert.Equal(t, [4]uint32{1 << 20, 1 << 20, 1 << 20, 1 << 20}, a.RingCap, "the board's rings as large as ours")
	assert.Equal(t, regmap.ProtocolVersion, a.Version)
}

// TestUSBLinkSendsSpikesBeforeTheCommandsAfterThem: the board takes the spikes published
// before a command before the command.
func TestUSBLinkSendsSpikesBeforeTheCommandsAfterThem(t *testing.T) {
	f := newFakeUSB()
	l := fakeUSBLink(t, f, false)
	publish(t, l, regmap.RingSpkIn, regmap.TypeSpikes, []byte("spikes 1"))
	publish(t, l, regmap.RingCmd, regmap.TypeCommand, []byte("command"))
	publish(t, l, regmap.RingSpkIn, regmap.TypeSpikes, []byte("spikes 2"))
	require.NoError(t, l.start(context.Background(), Opts{}))
	<-f.wrote
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.writes, 1, "one transfer of exactly the batch")
	got := framesOf(t, f.writes...)
	require.Len(t, got, 3)
	assert.Equal(t, []frameOut{{regmap.RingSpkIn, []byte("spikes 1")}, {regmap.RingSpkIn, []byte("spikes 2")}, {regmap.RingCmd, []byte("command")}}, got)
}

// TestUSBLinkStreamsLargeBatches: more than two transfers' worth goes as a stream of full
// transfers, then the rest as one transfer.
func TestUSBLinkStreamsLargeBatches(t *testing.T) {
	f := newFakeUSB()
	l := fakeUSBLink(t, f, false)
	var want []frameOut
	for i := 0; i < 5; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 100<<10)
		publish(t, l, regmap.RingCmd, regmap.TypeCommand, p)
		want = append(want, frameOut{regmap.RingCmd, p})
	}
	require.NoError(t, l.start(context.Background(), Opts{}))
	<-f.wrote // the stream closed
	<-f.wrote // the rest
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.streams, 1)
	total := 5 * regmap.FrameSize(100<<10)
	assert.Len(t, f.streams[0], total/regmap.USBHostTransfer)
	require.Len(t, f.writes, 1)
	assert.Len(t, f.writes[0], total%regmap.USBHostTransfer)
	assert.Equal(t, want, framesOf(t, append(f.streams[0], f.writes[0])...))
	assert.Equal(t, int64(1), l.stats.Streams.Load())
}

// inFrames frames records for bulk IN.
func inFrames(recs ...frameOut) []byte {
	var b []byte
	for _, r := range recs {
		typ := regmap.TypeCompletion
		if r.ring == regmap.RingOut {
			typ = regmap.TypeSpikes
		}
		b = regmap.AppendFrame(b, r.ring, typ, r.p)
	}
	return b
}

func drainAll(t *testing.T, l *usbLink, r regmap.Ring) ([][]byte, error) {
	c := l.Consumer(r)
	var got [][]byte
	for {
		rec, err := c.TryRead()
		if errors.Is(err, ring.ErrEmpty) {
			c.Release()
			return got, nil
		}
		if err != nil {
			c.Release()
			return got, err
		}
		got = append(got, append([]byte(nil), rec.Payload...))
	}
}

func TestUSBLinkReader(t *testing.T) {
	good := inFrames(frameOut{regmap.RingOut, []byte("output")}, frameOut{regmap.RingCpl, []byte("completion")})
	big := bytes.Repeat([]byte{7}, regmap.USBHostTransfer)
	for _, tc := range []struct {
		name      string
		in        []fakeIn
		out, cpl  int
		err       error
		msg, gone string
	}{
		{"records", []fakeIn{{data: good}}, 1, 1, nil, "", ""},
		{"a record over full transfers", []fakeIn{
			{data: inFrames(frameOut{regmap.RingOut, big})[:regmap.USBHostTransfer]},
			{data: inFrames(frameOut{regmap.RingOut, big})[regmap.USBHostTransfer:]}}, 1, 0, nil, "", ""},
		{"garbage after records", []fakeIn{{data: append(append([]byte(nil), good...), "garbage!"...)}}, 1, 1, regmap.ErrMalformed, "sync byte", ""},
		{"short frame", []fakeIn{{data: good[:20]}}, 1, 0, regmap.ErrMalformed, "the burst ended 4 bytes into a frame header", ""},
		{"stall", []fakeIn{{data: good}, {err: fmt.Errorf("pipe: %w", errUSBStall)}}, 1, 1, ring.ErrProtocol, "stalled bulk IN", ""},
		{"gone", []fakeIn{{data: good}, {err: fmt.Errorf("no device: %w", ErrGone)}}, 1, 1, nil, "", "bulk IN: no device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeUSB()
			l := fakeUSBLink(t, f, true)
			for _, x := range tc.in {
				f.in <- x
			}
			if tc.err != nil || tc.gone != "" {
				<-l.dead
			} else {
				for i := 0; i < len(tc.in); i++ {
					require.NoError(t, l.Wait(5*time.Second))
				}
			}
			out, err := drainAll(t, l, regmap.RingOut)
			assert.Len(t, out, tc.out)
			cpl, err2 := drainAll(t, l, regmap.RingCpl)
			assert.Len(t, cpl, tc.cpl)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "the records before the violation, then the violation")
				require.ErrorIs(t, err, ring.ErrProtocol)
				require.ErrorIs(t, err2, ring.ErrProtocol)
				assert.Contains(t, err.Error(), tc.msg)
				assert.NoError(t, l.Alive(), "a protocol violation is not a board gone")
			} else {
				require.NoError(t, err)
				require.NoError(t, err2)
			}
			if tc.gone != "" {
				require.ErrorIs(t, l.Alive(), ErrGone)
				require.ErrorIs(t, l.Wait(time.Second), ErrGone)
				assert.Contains(t, l.Alive().Error(), tc.gone)
			}
		})
	}
}

func TestUSBLinkRegisters(t *testing.T) {
	f := newFakeUSB()
	l := fakeUSBLink(t, f, true)
	f.mu.Lock()
	f.answer = func(c fakeControl, data []byte) (int, error) {
		switch {
		case c.req == uint8(regmap.USBReqRegRead) && c.idx == regmap.RegStatus:
			binary.LittleEndian.PutUint32(data, 0x123)
			return 4, nil
		case c.req == uint8(regmap.USBReqRegRead) && c.idx == regmap.RegScratch:
			return 0, fmt.Errorf("libusb: timeout: %w", ErrTimeout)
		case c.req == uint8(regmap.USBReqRegRead) && c.idx == regmap.RegMagic:
			return 2, nil
		case c.req == uint8(regmap.USBReqRegWrite) && c.idx == regmap.RegControl:
			return 0, fmt.Errorf("libusb: no device: %w", ErrGone)
		}
		return len(data), nil
	}
	f.controls = nil
	f.mu.Unlock()
	v, err := l.ReadReg(regmap.RegStatus)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x123), v)
	_, err = l.ReadReg(regmap.RegScratch)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "reading register SCRATCH (0x05c): no answer in 1s")
	_, err = l.ReadReg(regmap.RegMagic)
	require.ErrorIs(t, err, ErrProtocol, "a short answer")
	require.NoError(t, l.WriteReg(regmap.RegIRQStatus, regmap.IRQAll))
	require.NoError(t, l.WriteReg(regmap.RegIRQMask, 0))
	require.NoError(t, l.WriteReg(regmap.RegScratch, 9))
	f.mu.Lock()
	require.Len(t, f.controls, 4, "the interrupt registers stay here")
	assert.Equal(t, []byte{9, 0, 0, 0}, f.controls[3].data)
	f.mu.Unlock()
	_, err = l.ReadReg(2)
	require.Error(t, err)

	err = l.WriteReg(regmap.RegControl, regmap.ControlReset)
	require.ErrorIs(t, err, ErrGone)
	assert.Contains(t, err.Error(), "usb:1209:0001:T: writing register CONTROL (0x044)")
	require.ErrorIs(t, l.Alive(), ErrGone)
	_, err = l.ReadReg(regmap.RegStatus)
	require.ErrorIs(t, err, ErrGone, "gone stays gone")
}

func TestUSBLinkBusyNamesTheHolder(t *testing.T) {
	f := newFakeUSB()
	f.claimErr = fmt.Errorf("libusb: busy: %w", ErrBusy)
	f.answer = func(c fakeControl, data []byte) (int, error) {
		if c.req == uint8(regmap.USBReqIdentity) {
			return copy(data, regmap.USBIdentity{Version: regmap.ProtocolVersion, Attached: true, HolderPID: 4321, HolderComm: "lrctl"}.Append(nil)), nil
		}
		return len(data), nil
	}
	l := fakeUSBLink(t, f, false)
	err := l.start(context.Background(), Opts{})
	require.ErrorIs(t, err, ErrBusy)
	assert.Contains(t, err.Error(), "usb:1209:0001:T is held by pid 4321 (lrctl)")

	// A board of another protocol major refuses the session.
	f = newFakeUSB()
	f.answer = func(c fakeControl, data []byte) (int, error) {
		switch c.req {
		case uint8(regmap.USBReqAttach):
			return 0, fmt.Errorf("pipe: %w", errUSBStall)
		case uint8(regmap.USBReqIdentity):
			return copy(data, regmap.USBIdentity{Version: regmap.MakeVersion(9, 0)}.Append(nil)), nil
		}
		return len(data), nil
	}
	l = fakeUSBLink(t, f, false)
	err = l.start(context.Background(), Opts{})
	require.ErrorIs(t, err, ErrVersion)
	assert.Contains(t, err.Error(), "speaks protocol 9.0")
}

func TestUSBLinkCloseEndsTheSession(t *testing.T) {
	f := newFakeUSB()
	l := fakeUSBLink(t, f, true)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.True(t, f.closed)
	assert.Equal(t, uint8(regmap.USBReqDetach), f.controls[len(f.controls)-1].req)
}
