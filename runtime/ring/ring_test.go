package ring

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// produceTest writes n test records on stream 0 in the given style.
func produceTest(ctx context.Context, p *Producer, n int, seed uint64, style string, maxLen int) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	buf := make([]byte, maxLen)
	for seq := uint64(0); seq < uint64(n); seq++ {
		l := pickLen(rng, maxLen)
		typ := testType(seq)
		switch style {
		case "write":
			fillPayload(buf[:l], 0, seq)
			if err := p.Write(ctx, typ, buf[:l]); err != nil {
				return fmt.Errorf("write %d: %w", seq, err)
			}
		case "batch": // reserve/commit in place, publish every few records
			b, err := p.Reserve(ctx, typ, l)
			if err != nil {
				return fmt.Errorf("reserve %d: %w", seq, err)
			}
			fillPayload(b, 0, seq)
			p.Commit()
			if rng.IntN(8) == 0 {
				p.Publish()
			}
		case "try":
			fillPayload(buf[:l], 0, seq)
			for {
				err := p.TryWrite(typ, buf[:l])
				if err == nil {
					break
				}
				if !errors.Is(err, ErrFull) {
					return fmt.Errorf("trywrite %d: %w", seq, err)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				runtime.Gosched()
			}
		default:
			panic(style)
		}
	}
	p.Publish()
	return nil
}

// consumeTest reads until the producer closes and checks every record.
func consumeTest(ctx context.Context, c *Consumer, style string) (int, error) {
	chk := newStreamChecker()
	recs := make([]Record, 16)
	for {
		var n int
		var err error
		switch style {
		case "read":
			recs[0], err = c.Read(ctx)
			n = 1
		case "batch":
			n, err = c.ReadBatch(ctx, recs)
		case "try":
			recs[0], err = c.TryRead()
			n = 1
			if errors.Is(err, ErrEmpty) {
				if err := ctx.Err(); err != nil {
					return chk.n, err
				}
				runtime.Gosched()
				continue
			}
		default:
			panic(style)
		}
		if errors.Is(err, ErrClosed) {
			return chk.n, nil
		}
		if err != nil {
			return chk.n, err
		}
		for _, r := range recs[:n] {
			if err := chk.add(r); err != nil {
				return chk.n, err
			}
		}
		c.Release()
	}
}

func TestSPSCInMemory(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 3000
	}
	for _, tc := range []struct {
		capacity int
		prod     string
		cons     string
		spin     int
	}{
		{64, "write", "read", 0},
		{256, "batch", "batch", 0},
		{256, "try", "try", 0},
		{4096, "write", "batch", 0},
		{4096, "batch", "read", -1}, // always sleep: exercises the futex path
		{1 << 16, "batch", "batch", 0},
		{1 << 16, "write", "read", -1},
	} {
		t.Run(fmt.Sprintf("cap%d/%s-%s/spin%d", tc.capacity, tc.prod, tc.cons, tc.spin), func(t *testing.T) {
			// A lost wakeup would hang until WakeInterval: make that the
			// test's timeout.
			r := memRing(t, tc.capacity, Opts{SpinPolls: tc.spin, WakeInterval: time.Hour})
			p, c := endpoints(t, r)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			maxLen := min(r.MaxPayload(), 3000)
			errc := make(chan error, 1)
			go func() {
				err := produceTest(ctx, p, n, uint64(tc.capacity), tc.prod, maxLen)
				p.Close()
				errc <- err
			}()
			got, err := consumeTest(ctx, c, tc.cons)
			require.NoError(t, err)
			require.NoError(t, <-errc)
			require.Equal(t, n, got)
		})
	}
}

// TestWrap checks the exact placement of records and padding at the end of
// the data area.
func TestWrap(t *testing.T) {
	r := memRing(t, 256, Opts{})
	p, c := endpoints(t, r)
	ctx := context.Background()
	mem := r.mem
	hdrAt := func(off int) (uint32, uint16, uint16) {
		return splitRecordWord(*word(mem[HeaderSize:], uint64(off)))
	}
	read := func(wantType uint16, wantLen int) {
		t.Helper()
		rec, err := c.TryRead()
		require.NoError(t, err)
		require.Equal(t, wantType, rec.Type)
		require.Len(t, rec.Payload, wantLen)
		c.Release()
	}

	// 200 bytes of records, then one that exactly fills the end (56 bytes:
	// 48 payload): no padding.
	require.NoError(t, p.Write(ctx, 1, make([]byte, 192)))
	read(1, 192)
	require.NoError(t, p.Write(ctx, 2, make([]byte, 48)))
	read(2, 48)
	l, ty, _ := hdrAt(200)
	assert.Equal(t, uint32(56), l)
	assert.Equal(t, uint16(2), ty)
	assert.EqualValues(t, 256, atomic.LoadUint64(&r.h.ProducerPos))

	// Offset 0 again. A 5-byte payload occupies 16 bytes (13 rounded up).
	require.NoError(t, p.Write(ctx, 3, []byte("hello")))
	read(3, 5)
	l, _, _ = hdrAt(0)
	assert.Equal(t, uint32(13), l)

	// At offset 16, a 240-byte record (248 with header) does not fit: the
	// producer pads the 240 bytes to the end and needs offset 0, which the
	// consumer still holds. The padding is published; the consumer skips it
	// and, holding no records, releases it.
	err := p.TryWrite(4, make([]byte, 240))
	require.ErrorIs(t, err, ErrFull)
	l, ty, fl := hdrAt(16)
	assert.Equal(t, uint32(240), l)
	assert.Equal(t, TypePad, ty)
	assert.Equal(t, RecordCommitted, fl)
	assert.EqualValues(t, 512, atomic.LoadUint64(&r.h.ProducerPos))
	_, err = c.TryRead()
	require.ErrorIs(t, err, ErrEmpty)
	assert.EqualValues(t, 512, atomic.LoadUint64(&r.h.ConsumerPos))
	require.NoError(t, p.TryWrite(4, make([]byte, 240)))
	l, ty, _ = hdrAt(0)
	assert.Equal(t, uint32(248), l)
	assert.Equal(t, uint16(4), ty)
	read(4, 240)
	assert.EqualValues(t, 512+248, atomic.LoadUint64(&r.h.ConsumerPos))

	// The largest record fills the whole ring.
	require.Equal(t, 248, r.MaxPayload())
	big := make([]byte, 248)
	big[0], big[247] = 1, 2
	for i := range 3 {
		err := p.TryWrite(5, big)
		if errors.Is(err, ErrFull) { // padding first, as above
			_, err = c.TryRead()
			require.ErrorIs(t, err, ErrEmpty)
			err = p.TryWrite(5, big)
		}
		require.NoError(t, err, i)
		rec, err := c.TryRead()
		require.NoError(t, err)
		require.Equal(t, big, rec.Payload)
		c.Release()
	}
	_, err = p.TryReserve(1, 249)
	require.ErrorIs(t, err, ErrTooLarge)
}

// TestLargeRecordAfterPad checks that a producer that needs the whole ring
// after padding does not deadlock with a consumer that waits for data: the
// consumer releases padding it skips while it holds no records.
func TestLargeRecordAfterPad(t *testing.T) {
	r := memRing(t, 256, Opts{SpinPolls: -1, WakeInterval: time.Hour})
	p, c := endpoints(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for i := range 200 {
			if err := p.Write(ctx, 1, make([]byte, 8+i%3*8)); err != nil {
				done <- err
				return
			}
			if err := p.Write(ctx, 2, make([]byte, r.MaxPayload())); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 400 {
		_, err := c.Read(ctx)
		require.NoError(t, err)
		c.Release()
	}
	require.NoError(t, <-done)
}

func TestBatchPublish(t *testing.T) {
	r := memRing(t, 4096, Opts{})
	p, c := endpoints(t, r)
	for i := range 3 {
		b, err := p.TryReserve(uint16(10+i), 10)
		require.NoError(t, err)
		b[0] = byte(i)
		p.Commit()
	}
	// Committed but not published: invisible, and the position is untouched.
	assert.Zero(t, atomic.LoadUint64(&r.h.ProducerPos))
	_, err := c.TryRead()
	require.ErrorIs(t, err, ErrEmpty)

	// A dropped reservation never shows up.
	_, err = p.TryReserve(99, 100)
	require.NoError(t, err)
	_, err = p.TryReserve(13, 1)
	require.NoError(t, err)
	p.Commit()

	p.Publish() // one store for four records
	assert.EqualValues(t, 3*24+16, atomic.LoadUint64(&r.h.ProducerPos))

	recs := make([]Record, 8)
	n, err := c.ReadBatch(context.Background(), recs)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	for i, rec := range recs[:3] {
		assert.Equal(t, uint16(10+i), rec.Type)
		assert.Equal(t, byte(i), rec.Payload[0])
	}
	assert.Equal(t, uint16(13), recs[3].Type)
	assert.Zero(t, atomic.LoadUint64(&r.h.ConsumerPos), "nothing released before Release")
	c.Release()
	assert.EqualValues(t, 3*24+16, atomic.LoadUint64(&r.h.ConsumerPos))

	assert.PanicsWithValue(t, "ring: Commit without Reserve", p.Commit)
}

func TestArgumentErrors(t *testing.T) {
	r := memRing(t, 1024, Opts{})
	p, c := endpoints(t, r)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		typ  uint16
		n    int
		is   error
	}{
		{"too large", 1, r.MaxPayload() + 1, ErrTooLarge},
		{"negative", 1, -1, ErrTooLarge},
		{"pad type", TypePad, 1, nil},
		{"reserved type", TypeReservedMin, 1, nil},
		{"reserved type max", 0xffff, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Reserve(ctx, tc.typ, tc.n)
			require.Error(t, err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.Regexp(t, "^ring: ", err.Error())
		})
	}

	// Full, then empty.
	for {
		err := p.TryWrite(1, make([]byte, 100))
		if errors.Is(err, ErrFull) {
			break
		}
		require.NoError(t, err)
	}
	for {
		_, err := c.TryRead()
		if errors.Is(err, ErrEmpty) {
			break
		}
		require.NoError(t, err)
	}
	c.Release()
	require.NoError(t, p.TryWrite(1, make([]byte, 100)))
}

func TestCapacityOptions(t *testing.T) {
	for _, c := range []int{-1, 1, 63, 100, 4097, MaxCapacity * 2} {
		_, err := New(make([]byte, HeaderSize+8192), Opts{Capacity: c})
		assert.Error(t, err, "capacity %d", c)
	}
	r, err := New(make([]byte, HeaderSize+5000), Opts{})
	require.NoError(t, err)
	assert.Equal(t, 4096, r.Capacity())
	_, err = New(make([]byte, HeaderSize+10), Opts{})
	assert.Error(t, err)
	_, err = New(make([]byte, HeaderSize+64)[1:], Opts{Capacity: 32})
	assert.Error(t, err)
	_, err = New(make([]byte, HeaderSize+128)[4:], Opts{Capacity: 64})
	assert.ErrorContains(t, err, "aligned")
}

func TestClose(t *testing.T) {
	t.Run("producer close drains then ErrClosed", func(t *testing.T) {
		r := memRing(t, 1024, Opts{})
		p, c := endpoints(t, r)
		b, err := p.TryReserve(1, 3)
		require.NoError(t, err)
		copy(b, "abc")
		p.Commit() // not published: Close publishes it
		require.NoError(t, p.Close())
		require.NoError(t, p.Close())
		rec, err := c.TryRead()
		require.NoError(t, err)
		assert.Equal(t, "abc", string(rec.Payload))
		_, err = c.TryRead()
		require.ErrorIs(t, err, ErrClosed)
		_, err = c.Read(context.Background())
		require.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, c.CheckPeer(), ErrClosed)
		// The closed producer refuses everything.
		assert.ErrorIs(t, p.TryWrite(1, nil), ErrClosed)
		_, err = p.Reserve(context.Background(), 1, 1)
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, p.CheckPeer(), ErrClosed)
	})
	t.Run("consumer close stops a waiting producer", func(t *testing.T) {
		r := memRing(t, 64, Opts{})
		p, c := endpoints(t, r)
		require.NoError(t, p.TryWrite(1, make([]byte, 40)))
		errc := make(chan error, 1)
		go func() { errc <- p.Write(context.Background(), 1, make([]byte, 40)) }()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, c.Close())
		select {
		case err := <-errc:
			require.ErrorIs(t, err, ErrClosed)
			assert.ErrorContains(t, err, "consumer closed")
		case <-time.After(5 * time.Second):
			t.Fatal("producer still blocked")
		}
		assert.ErrorIs(t, p.TryWrite(1, make([]byte, 40)), ErrClosed)
		_, err := c.TryRead()
		assert.ErrorIs(t, err, ErrClosed)
	})
	t.Run("ring close closes endpoints", func(t *testing.T) {
		r, err := New(make([]byte, HeaderSize+1024), Opts{})
		require.NoError(t, err)
		p, c := endpoints(t, r)
		require.NoError(t, r.Close())
		require.NoError(t, r.Close())
		assert.ErrorIs(t, p.TryWrite(1, nil), ErrClosed)
		_, err = c.TryRead()
		assert.ErrorIs(t, err, ErrClosed)
		_, err = r.Consumer()
		assert.ErrorIs(t, err, ErrClosed)
	})
}

func TestRoles(t *testing.T) {
	mem := make([]byte, HeaderSize+1024)
	r, err := New(mem, Opts{})
	require.NoError(t, err)
	defer r.Close()
	p, err := r.Producer()
	require.NoError(t, err)
	_, err = r.Producer()
	assert.Error(t, err)
	_, err = r.MultiProducer()
	assert.Error(t, err)
	_, err = r.Consumer()
	require.NoError(t, err)
	_, err = r.Consumer()
	assert.Error(t, err)

	// A second mapping of the same ring (as another process would have)
	// cannot take the producer role from a live holder...
	r2, err := AttachMem(mem, Opts{})
	require.NoError(t, err)
	defer r2.Close()
	_, err = r2.Producer()
	require.ErrorContains(t, err, "held by live pid")
	// ...but can once it is released, and continues where it stopped.
	require.NoError(t, p.TryWrite(1, []byte("x")))
	require.NoError(t, p.Close())
	p2, err := r2.Producer()
	require.NoError(t, err)
	require.NoError(t, p2.TryWrite(2, []byte("y")))
	c := r.consumer
	for _, want := range []string{"x", "y"} {
		rec, err := c.TryRead()
		require.NoError(t, err)
		assert.Equal(t, want, string(rec.Payload))
	}

	mr := memRing(t, 1024, Opts{MultiProducer: true})
	assert.True(t, mr.IsMultiProducer())
	_, err = mr.Producer()
	assert.ErrorContains(t, err, "MultiProducer")
	_, err = mr.MultiProducer()
	assert.NoError(t, err)
	mr2, err := AttachMem(mr.mem, Opts{})
	require.NoError(t, err)
	defer mr2.Close()
	assert.True(t, mr2.IsMultiProducer())
}

func TestContextCancel(t *testing.T) {
	// WakeInterval is an hour: only the context can end these waits.
	opts := Opts{WakeInterval: time.Hour}
	for _, tc := range []struct {
		name  string
		block func(ctx context.Context, p *Producer, c *Consumer) error
	}{
		{"consumer read", func(ctx context.Context, _ *Producer, c *Consumer) error {
			_, err := c.Read(ctx)
			return err
		}},
		{"consumer batch", func(ctx context.Context, _ *Producer, c *Consumer) error {
			_, err := c.ReadBatch(ctx, make([]Record, 4))
			return err
		}},
		{"producer reserve", func(ctx context.Context, p *Producer, _ *Consumer) error {
			if err := p.TryWrite(1, make([]byte, 1000)); err != nil {
				return err
			}
			_, err := p.Reserve(ctx, 1, 100)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cause := range []string{"cancel", "deadline"} {
				r := memRing(t, 1024, opts)
				p, c := endpoints(t, r)
				var ctx context.Context
				var cancel context.CancelFunc
				want := context.Canceled
				if cause == "cancel" {
					ctx, cancel = context.WithCancel(context.Background())
					time.AfterFunc(100*time.Millisecond, cancel)
				} else {
					ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
					want = context.DeadlineExceeded
				}
				start := time.Now()
				err := tc.block(ctx, p, c)
				el := time.Since(start)
				cancel()
				require.ErrorIs(t, err, want, cause)
				assert.GreaterOrEqual(t, el, 90*time.Millisecond, cause)
				assert.Less(t, el, time.Second, "%s: not unblocked promptly", cause)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		r := memRing(t, 1024, opts)
		_, c := endpoints(t, r)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Read(ctx)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestMPSCInMemory(t *testing.T) {
	const writers = 4
	n := 5000
	if testing.Short() {
		n = 1000
	}
	for _, tc := range []struct {
		capacity int
		spin     int
	}{{256, 0}, {4096, -1}, {1 << 16, 0}} {
		t.Run(fmt.Sprintf("cap%d/spin%d", tc.capacity, tc.spin), func(t *testing.T) {
			r := memRing(t, tc.capacity, Opts{MultiProducer: true, SpinPolls: tc.spin, WakeInterval: time.Hour})
			m, err := r.MultiProducer()
			require.NoError(t, err)
			c, err := r.Consumer()
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			maxLen := min(r.MaxPayload()/2, 1000)
			var wg sync.WaitGroup
			errc := make(chan error, writers)
			for w := range writers {
				wg.Go(func() {
					errc <- mpscWriter(ctx, m, uint32(w), n, maxLen)
				})
			}
			go func() {
				wg.Wait()
				m.Close()
			}()
			chk := newStreamChecker()
			recs := make([]Record, 8)
			for {
				k, err := c.ReadBatch(ctx, recs)
				if errors.Is(err, ErrClosed) {
					break
				}
				require.NoError(t, err)
				for _, rec := range recs[:k] {
					require.NoError(t, chk.add(rec))
				}
				c.Release()
			}
			for range writers {
				require.NoError(t, <-errc)
			}
			require.Equal(t, writers*n, chk.n)
			for w := range uint32(writers) {
				assert.EqualValues(t, n, chk.next[w], "stream %d", w)
			}
		})
	}
}

// mpscWriter writes n test records on one stream, mixing Write,
// Reserve/Commit, TryWrite and aborted reservations (which must never
// arrive).
func mpscWriter(ctx context.Context, m *MultiProducer, stream uint32, n, maxLen int) error {
	rng := rand.New(rand.NewPCG(uint64(stream), 7))
	buf := make([]byte, maxLen)
	for seq := uint64(0); seq < uint64(n); {
		l := pickLen(rng, maxLen)
		typ := testType(seq)
		switch rng.IntN(4) {
		case 0:
			fillPayload(buf[:l], stream, seq)
			if err := m.Write(ctx, typ, buf[:l]); err != nil {
				return err
			}
		case 1:
			fillPayload(buf[:l], stream, seq)
			err := m.TryWrite(typ, buf[:l])
			if errors.Is(err, ErrFull) {
				runtime.Gosched()
				continue
			}
			if err != nil {
				return err
			}
		case 2:
			s, err := m.Reserve(ctx, 77, l)
			if err != nil {
				return err
			}
			s.Payload[0] = 0xee // garbage that must not be delivered
			m.Abort(s)
			continue
		default:
			s, err := m.Reserve(ctx, typ, l)
			if err != nil {
				return err
			}
			fillPayload(s.Payload, stream, seq)
			if rng.IntN(16) == 0 {
				runtime.Gosched() // hold the slot while others go ahead
			}
			m.Commit(s)
		}
		seq++
	}
	return nil
}

func TestMultiProducerClose(t *testing.T) {
	r := memRing(t, 128, Opts{MultiProducer: true, WakeInterval: time.Hour})
	m, err := r.MultiProducer()
	require.NoError(t, err)
	_, err = r.Consumer()
	require.NoError(t, err)
	require.NoError(t, m.TryWrite(1, make([]byte, 100)))
	errc := make(chan error, 2)
	for range 2 {
		go func() { errc <- m.Write(context.Background(), 1, make([]byte, 100)) }()
	}
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, m.Close())
	for range 2 {
		select {
		case err := <-errc:
			require.ErrorIs(t, err, ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("reserve still blocked after Close")
		}
	}
	_, err = m.TryReserve(1, 1)
	require.ErrorIs(t, err, ErrClosed)
}

// An uncommitted multi-producer record holds back the ones after it.
func TestMPSCOrder(t *testing.T) {
	r := memRing(t, 1024, Opts{MultiProducer: true})
	m, err := r.MultiProducer()
	require.NoError(t, err)
	c, err := r.Consumer()
	require.NoError(t, err)
	s1, err := m.TryReserve(1, 4)
	require.NoError(t, err)
	require.NoError(t, m.TryWrite(2, []byte("two")))
	_, err = c.TryRead()
	require.ErrorIs(t, err, ErrEmpty)
	copy(s1.Payload, "one!")
	m.Commit(s1)
	for _, want := range []string{"one!", "two"} {
		rec, err := c.TryRead()
		require.NoError(t, err)
		assert.Equal(t, want, string(rec.Payload))
	}
	_, err = c.TryRead()
	require.ErrorIs(t, err, ErrEmpty)
	// A consumer waiting on an uncommitted record wakes up on the commit.
	s3, err := m.TryReserve(3, 1)
	require.NoError(t, err)
	time.AfterFunc(50*time.Millisecond, func() { m.Commit(s3) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint16(3), rec.Type)
}

func TestMPSCClosedWithUncommitted(t *testing.T) {
	r := memRing(t, 1024, Opts{MultiProducer: true})
	m, err := r.MultiProducer()
	require.NoError(t, err)
	c, err := r.Consumer()
	require.NoError(t, err)
	require.NoError(t, m.CheckPeer())
	require.NoError(t, c.CheckPeer())
	require.NoError(t, m.TryWrite(1, []byte("done")))
	_, err = m.TryReserve(2, 8) // never committed
	require.NoError(t, err)
	require.NoError(t, m.Close())
	rec, err := c.TryRead()
	require.NoError(t, err)
	assert.Equal(t, "done", string(rec.Payload))
	_, err = c.TryRead()
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Read(context.Background())
	require.ErrorIs(t, err, ErrClosed)
}

func TestCheckPeerAlive(t *testing.T) {
	r := memRing(t, 1024, Opts{})
	p, err := r.Producer()
	require.NoError(t, err)
	require.NoError(t, p.CheckPeer(), "no consumer yet")
	c, err := r.Consumer()
	require.NoError(t, err)
	require.NoError(t, p.CheckPeer())
	require.NoError(t, c.CheckPeer())
	require.NoError(t, c.Close())
	require.ErrorIs(t, p.CheckPeer(), ErrClosed)
}
