package ring

import (
	"context"
	"testing"
)

// The ring benchmarks move b.N payloads from a producer goroutine to the
// consumer (the benchmark goroutine) through a 1 MiB memfd ring: the
// producer copies each payload in, the consumer copies it out. SetBytes
// counts payload bytes. The memcpy baselines make one copy of the same size
// per operation, from a rolling 1 MiB source, so both walk the same amount
// of memory.

const benchCapacity = 1 << 20

// benchRing runs the producer with a Publish every pubBatch records and the
// consumer with ReadBatch of up to readBatch records.
func benchRing(b *testing.B, size, pubBatch, readBatch int) {
	benchRingCopy(b, size, pubBatch, readBatch, false)
}

// benchRingCopy is benchRing; nt fills the records with CopyNT.
func benchRingCopy(b *testing.B, size, pubBatch, readBatch int, nt bool) {
	r, err := Create(Opts{Capacity: benchCapacity, Heartbeat: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	p, err := r.Producer()
	if err != nil {
		b.Fatal(err)
	}
	c, err := r.Consumer()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]byte, size)
	recs := make([]Record, readBatch)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()

	errc := make(chan error, 1)
	go func() {
		for i := 1; i <= b.N; i++ {
			buf, err := p.Reserve(ctx, 1, size)
			if err != nil {
				errc <- err
				return
			}
			if nt {
				CopyNT(buf, src)
			} else {
				copy(buf, src)
			}
			p.Commit()
			if i%pubBatch == 0 {
				p.Publish()
			}
		}
		p.Publish()
		errc <- nil
	}()
	for n := 0; n < b.N; {
		k, err := c.ReadBatch(ctx, recs)
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range recs[:k] {
			copy(dst, rec.Payload)
		}
		c.Release()
		n += k
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

func benchMemcpy(b *testing.B, size int) {
	src := make([]byte, benchCapacity)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]byte, size)
	b.SetBytes(int64(size))
	off := 0
	for b.Loop() {
		copy(dst, src[off:off+size])
		off += size
		if off+size > len(src) {
			off = 0
		}
	}
}

// BenchmarkRingSPSC64: 64-byte payloads (72 bytes in the ring), published
// and consumed in batches of 64.
func BenchmarkRingSPSC64(b *testing.B) { benchRing(b, 64, 64, 64) }

// BenchmarkRing4K: 4 KiB payloads, each published on its own; the consumer
// takes up to 16 at a time.
func BenchmarkRing4K(b *testing.B) { benchRing(b, 4096, 1, 16) }

// BenchmarkRing4KNT is BenchmarkRing4K with the payloads written by CopyNT. Producer and
// consumer are goroutines of one process, which the scheduler may run on one core, where
// streaming stores lose; `lrctl bench ring` measures two processes.
func BenchmarkRing4KNT(b *testing.B) { benchRingCopy(b, 4096, 1, 16, true) }

// BenchmarkRing4KBatch8 and BenchmarkRing4KBatch8NT publish every 8 records, as `lrctl bench
// ring` does.
func BenchmarkRing4KBatch8(b *testing.B)   { benchRingCopy(b, 4096, 8, 16, false) }
func BenchmarkRing4KBatch8NT(b *testing.B) { benchRingCopy(b, 4096, 8, 16, true) }

func BenchmarkCopyNT4K(b *testing.B) {
	src := make([]byte, 4096)
	dst := make([]byte, benchCapacity+64)
	b.SetBytes(4096)
	off := 8
	for b.Loop() {
		CopyNT(dst[off:off+4096], src)
		off += 4096 + 8
		if off+4096 > len(dst) {
			off = 8
		}
	}
}

func BenchmarkMemcpy64(b *testing.B) { benchMemcpy(b, 64) }

func BenchmarkMemcpy4K(b *testing.B) { benchMemcpy(b, 4096) }
