package ring

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A hostile or broken peer scribbles over the shared memory. Every case must
// end in an error wrapping ErrProtocol that names the bad value, never in a
// panic or an access out of bounds, and the error must stick.

func TestHostileProducer(t *testing.T) {
	type env struct {
		h    *Header
		data []byte
		c    *Consumer
	}
	setRec := func(e env, off int, length uint32, typ, flags uint16) {
		*word(e.data, uint64(off)) = recordWord(length, typ, flags)
	}
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, e env)
		want    string
	}{
		{"producer far ahead", func(t *testing.T, e env) {
			atomic.StoreUint64(&e.h.ProducerPos, 9000)
		}, "ring: producer position 9000 is 9000 bytes ahead of consumer 0, capacity 4096"},
		{"producer ahead of released", func(t *testing.T, e env) {
			_, err := e.c.TryRead() // consumer at 32, nothing released
			require.NoError(t, err)
			atomic.StoreUint64(&e.h.ProducerPos, 4096+8)
		}, "producer position 4104 is 4104 bytes ahead of consumer 0, capacity 4096"},
		{"producer unaligned", func(t *testing.T, e env) {
			atomic.StoreUint64(&e.h.ProducerPos, 123)
		}, "producer position 123 is not a multiple of 8"},
		{"producer behind consumer", func(t *testing.T, e env) {
			for range 3 {
				_, err := e.c.TryRead()
				require.NoError(t, err)
			}
			e.c.Release()
			atomic.StoreUint64(&e.h.ProducerPos, 32)
		}, "producer position 32 is behind consumer 96"},
		{"producer wraps negative", func(t *testing.T, e env) {
			for range 3 {
				_, err := e.c.TryRead()
				require.NoError(t, err)
			}
			atomic.StoreUint64(&e.h.ProducerPos, ^uint64(7))
		}, "is behind consumer 96"},
		{"producer moved back", func(t *testing.T, e env) {
			_, err := e.c.TryRead()
			require.NoError(t, err)
			atomic.StoreUint64(&e.h.ProducerPos, 64) // was 96
			for range 2 {
				_, err := e.c.TryRead()
				require.NoError(t, err)
			}
			atomic.StoreUint64(&e.h.ProducerPos, 72)
		}, "producer position 72 is behind consumer 96"},
		{"length below header", func(t *testing.T, e env) {
			setRec(e, 0, 4, 1, RecordCommitted)
		}, "record at position 0 (offset 0) has length 4, less than the 8-byte header"},
		{"zero length", func(t *testing.T, e env) {
			setRec(e, 32, 0, 1, RecordCommitted)
		}, "record at position 32 (offset 32) has length 0"},
		{"length beyond published", func(t *testing.T, e env) {
			setRec(e, 64, 100, 1, RecordCommitted)
		}, "record at position 64 (offset 64) has length 100, more than the 32 published bytes left"},
		{"straddles the end", func(t *testing.T, e env) {
			atomic.StoreUint64(&e.h.ProducerPos, 4096)
			setRec(e, 0, 5000, 1, RecordCommitted)
		}, "record at position 0 (offset 0) has length 5000 and straddles the end of the data area (capacity 4096)"},
		{"max length", func(t *testing.T, e env) {
			setRec(e, 0, 0xffffffff, 1, RecordCommitted)
		}, "has length 4294967295 and straddles the end"},
		{"padding beyond published", func(t *testing.T, e env) {
			setRec(e, 32, 512, TypePad, RecordCommitted)
		}, "record at position 32 (offset 32) has length 512, more than the 64 published bytes left"},
		{"not committed", func(t *testing.T, e env) {
			setRec(e, 0, 28, 1, 0)
		}, "record at position 0 (offset 0) is not committed"},
		{"unknown flags", func(t *testing.T, e env) {
			setRec(e, 32, 28, 1, RecordCommitted|0x8000)
		}, "record at position 32 (offset 32) has unknown flags 0x8001"},
		{"reserved type", func(t *testing.T, e env) {
			setRec(e, 64, 28, 0xff00, RecordCommitted)
		}, "record at position 64 (offset 64) has reserved type 0xff00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := memRing(t, 4096, Opts{WakeInterval: 10 * time.Millisecond})
			p, c := endpoints(t, r)
			for i := range 3 {
				require.NoError(t, p.TryWrite(uint16(1+i), make([]byte, 20))) // 32 bytes each
			}
			e := env{h: r.h, data: r.data, c: c}
			tc.corrupt(t, e)
			var err error
			for range 10 {
				if _, err = c.TryRead(); err != nil {
					break
				}
			}
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tc.want)
			assert.Regexp(t, "^ring: ", err.Error())
			// Sticky, for every call.
			_, err2 := c.TryRead()
			assert.Equal(t, err, err2)
			_, err2 = c.Read(context.Background())
			assert.Equal(t, err, err2)
			_, err2 = c.ReadBatch(context.Background(), make([]Record, 2))
			assert.Equal(t, err, err2)
			assert.Equal(t, err, c.CheckPeer())
			c.Release()
		})
	}
}

// A blocked Read sees corruption that happens while it waits.
func TestHostileProducerWhileWaiting(t *testing.T) {
	r := memRing(t, 4096, Opts{SpinPolls: -1, WakeInterval: time.Hour})
	_, c := endpoints(t, r)
	time.AfterFunc(50*time.Millisecond, func() {
		atomic.StoreUint64(&r.h.ProducerPos, 1<<20)
		wake(&r.h.DataFutex)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Read(ctx)
	require.ErrorIs(t, err, ErrProtocol)
	assert.Contains(t, err.Error(), "producer position 1048576 is 1048576 bytes ahead of consumer 0, capacity 4096")
}

func TestHostileConsumer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(h *Header, c *Consumer)
		want    string
	}{
		{"unaligned", func(h *Header, _ *Consumer) {
			atomic.StoreUint64(&h.ConsumerPos, 13)
		}, "consumer position 13 is not a multiple of 8"},
		{"ahead of producer", func(h *Header, _ *Consumer) {
			atomic.StoreUint64(&h.ConsumerPos, 1<<20)
		}, "consumer position 1048576 is 1048320 bytes ahead of producer 256"},
		{"moved back", func(h *Header, c *Consumer) {
			_, err := c.TryRead()
			if err == nil {
				c.Release() // 64
			}
		}, "consumer position 32 moved back from 64"},
		{"huge", func(h *Header, _ *Consumer) {
			atomic.StoreUint64(&h.ConsumerPos, ^uint64(7))
		}, "consumer position 18446744073709551608 moved back from 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := memRing(t, 256, Opts{WakeInterval: 10 * time.Millisecond})
			p, c := endpoints(t, r)
			// Fill the ring with 64-byte records, so the next write needs
			// the consumer position.
			for range 4 {
				require.NoError(t, p.TryWrite(1, make([]byte, 56)))
			}
			if tc.name == "moved back" {
				tc.corrupt(r.h, c)
				require.NoError(t, p.TryWrite(1, make([]byte, 56))) // sees 64
				atomic.StoreUint64(&r.h.ConsumerPos, 32)
				// full again: the next write reloads the position
			} else {
				tc.corrupt(r.h, c)
			}
			err := p.TryWrite(1, make([]byte, 56))
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tc.want)
			_, err2 := p.Reserve(context.Background(), 1, 8)
			assert.Equal(t, err, err2, "sticky")
			assert.Equal(t, err, p.CheckPeer())
		})
	}

	t.Run("multi-producer", func(t *testing.T) {
		r := memRing(t, 256, Opts{MultiProducer: true})
		m, err := r.MultiProducer()
		require.NoError(t, err)
		for range 4 {
			require.NoError(t, m.TryWrite(1, make([]byte, 56)))
		}
		atomic.StoreUint64(&r.h.ConsumerPos, 1<<20)
		err = m.Write(context.Background(), 1, make([]byte, 8))
		require.ErrorIs(t, err, ErrProtocol)
		assert.Contains(t, err.Error(), "consumer position 1048576 is 1048320 bytes ahead of producer 256")
		_, err = m.TryReserve(1, 1)
		assert.ErrorIs(t, err, ErrProtocol)
		assert.ErrorIs(t, m.CheckPeer(), ErrProtocol)
	})
}

// Positions found in the header when a role is claimed.
func TestHostileClaim(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prod, cons uint64
		want       string
	}{
		{"producer far ahead", 9000, 0, "producer position 9000 is 9000 bytes ahead of consumer 0, capacity 4096"},
		{"producer behind", 64, 128, "producer position 64 is behind consumer 128"},
		{"producer unaligned", 3, 0, "producer position 3 is not a multiple of 8"},
		{"consumer unaligned", 64, 60, "consumer position 60 is not a multiple of 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := memRing(t, 4096, Opts{})
			r.h.ProducerPos, r.h.ConsumerPos = tc.prod, tc.cons
			_, err := r.Consumer()
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tc.want)
			_, err = r.Producer()
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tc.want)
			// A failed claim leaves the role free.
			assert.Zero(t, r.h.Producer.PID)
			assert.Zero(t, r.h.Consumer.PID)
		})
	}
}

func TestHostileHeader(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name    string
		corrupt func(mem []byte) []byte
		want    string
	}{
		{"magic", func(m []byte) []byte { le.PutUint64(m[OffMagic:], 0x1234); return m },
			"bad magic 0x1234 at offset 0x0, want 0x474e495243524c"},
		{"version", func(m []byte) []byte { le.PutUint32(m[OffVersion:], 7); return m },
			"layout version 7 at offset 0x8, want 1"},
		{"header size", func(m []byte) []byte { le.PutUint32(m[OffHeaderSize:], 64); return m },
			"header size 64 at offset 0xc, want 4096"},
		{"capacity not a power of two", func(m []byte) []byte { le.PutUint64(m[OffCapacity:], 1000); return m },
			"capacity 1000 at offset 0x10 is not a power of two"},
		{"capacity zero", func(m []byte) []byte { le.PutUint64(m[OffCapacity:], 0); return m },
			"capacity 0 at offset 0x10"},
		{"capacity beyond memory", func(m []byte) []byte { le.PutUint64(m[OffCapacity:], 1<<30); return m },
			"memory of 8192 bytes is smaller than header plus capacity 1073741824"},
		{"flags", func(m []byte) []byte { le.PutUint32(m[OffFlags:], 6); return m },
			"unknown header flags 0x6 at offset 0x18"},
		{"truncated", func(m []byte) []byte { return m[:100] },
			"memory of 100 bytes is smaller than the 4096-byte header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := make([]byte, HeaderSize+4096)
			_, err := New(mem, Opts{})
			require.NoError(t, err)
			_, err = AttachMem(tc.corrupt(mem), Opts{})
			require.ErrorIs(t, err, ErrProtocol)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	mem := make([]byte, HeaderSize+4096)
	_, err := New(mem, Opts{})
	require.NoError(t, err)
	_, err = AttachMem(mem, Opts{Capacity: 1024})
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrProtocol))
}
