package ring

import (
	"context"
	"errors"
	"testing"
	"unsafe"
)

// FuzzDecodeRecords runs a consumer over arbitrary ring memory and
// positions, and over positions that change while it reads. Whatever the
// bytes, the consumer must return records inside the data area, ErrEmpty,
// ErrClosed or an ErrProtocol error; never panic or read out of bounds.
//
//	go test -run='^$' -fuzz=FuzzDecodeRecords -fuzztime=2m -parallel=1 ./runtime/ring
func FuzzDecodeRecords(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed.data, seed.prod, seed.cons, seed.prod2, seed.mode)
	}
	f.Add([]byte{}, uint64(0), uint64(0), uint64(0), uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0}, uint64(8), uint64(0), uint64(16), uint8(1))
	f.Add(make([]byte, 64), uint64(1<<63), uint64(1<<63-64), ^uint64(0), uint8(3))

	f.Fuzz(func(t *testing.T, data []byte, prod, cons, prod2 uint64, mode uint8) {
		capacity := []int{64, 256, 1024, 256}[mode>>6]
		mem := make([]byte, HeaderSize+capacity)
		r, err := New(mem, Opts{Capacity: capacity, MultiProducer: mode&1 != 0, SpinPolls: -1, Heartbeat: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		area := r.data
		copy(area, data)
		r.h.ProducerPos, r.h.ConsumerPos = prod, cons
		if mode&8 != 0 {
			r.h.Producer.State = SideClosed
		}

		c, err := r.Consumer()
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("claim: %v", err)
			}
			return
		}
		lo := uintptr(unsafe.Pointer(&area[0]))
		hi := lo + uintptr(len(area))
		changed := false
		recs := make([]Record, 4)
		for i := 0; i < 2*capacity; i++ {
			var n int
			if mode&4 != 0 {
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // never block: a cancelled context fails the wait
				n, err = c.ReadBatch(ctx, recs)
				if errors.Is(err, context.Canceled) {
					err = ErrEmpty
				}
			} else {
				recs[0], err = c.TryRead()
				if err == nil {
					n = 1
				}
			}
			switch {
			case err == nil:
			case errors.Is(err, ErrEmpty), errors.Is(err, ErrClosed):
				if changed {
					return
				}
				// The producer moves on, perhaps to garbage, and rewrites
				// the memory.
				changed = true
				r.h.ProducerPos = prod2
				if mode&2 != 0 {
					for j := range area {
						area[j] ^= byte(j) | 1
					}
				}
				continue
			case errors.Is(err, ErrProtocol):
				if _, err2 := c.TryRead(); err2 != err {
					t.Fatalf("error not sticky: %v, then %v", err, err2)
				}
				return
			default:
				t.Fatalf("unexpected error: %v", err)
			}
			for _, rec := range recs[:n] {
				if len(rec.Payload) == 0 {
					continue
				}
				p := uintptr(unsafe.Pointer(&rec.Payload[0]))
				if p < lo || p+uintptr(len(rec.Payload)) > hi {
					t.Fatalf("payload [%#x, +%d) outside data area [%#x, %#x)", p, len(rec.Payload), lo, hi)
				}
				if rec.Type == TypePad || rec.Type >= TypeReservedMin {
					t.Fatalf("record of type %#x delivered", rec.Type)
				}
			}
			if mode&16 == 0 || i%3 == 0 {
				c.Release()
			}
		}
	})
}

type fuzzSeed struct {
	data              []byte
	prod, cons, prod2 uint64
	mode              uint8
}

// fuzzSeeds are snapshots of real rings: records of assorted sizes with
// padding at the end, consumed partway.
func fuzzSeeds(tb testing.TB) []fuzzSeed {
	var seeds []fuzzSeed
	for _, tc := range []struct {
		capacity int
		mode     uint8
		lens     []int
		skip     int
	}{
		{256, 0x40, []int{20, 100, 5, 60, 0, 40}, 2},
		{64, 0x00, []int{8, 16, 0}, 1},
		{1024, 0x80 | 1, []int{300, 300, 300, 1, 2, 3}, 3},
		{256, 0x40 | 4, []int{240, 10, 10}, 1},
	} {
		r := memRing(tb, tc.capacity, Opts{Heartbeat: -1, MultiProducer: tc.mode&1 != 0})
		c, _ := r.Consumer()
		write := func(typ uint16, b []byte) error {
			if r.multi {
				return r.mproducer.TryWrite(typ, b)
			}
			return r.producer.TryWrite(typ, b)
		}
		if r.multi {
			r.MultiProducer()
		} else {
			r.Producer()
		}
		for i, l := range tc.lens {
			for write(uint16(i+1), make([]byte, l)) != nil {
				c.TryRead()
				c.Release()
			}
			if i < tc.skip {
				c.TryRead()
				c.Release()
			}
		}
		prod, cons := r.h.ProducerPos, r.h.ConsumerPos
		seeds = append(seeds, fuzzSeed{
			data: append([]byte(nil), r.data...),
			prod: prod, cons: cons, prod2: prod + 16, mode: tc.mode,
		})
	}
	return seeds
}
