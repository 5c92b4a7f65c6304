package ringbench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/runtime/ring"
)

// Keys of Result.Runs, the JSON names of the medians.
const (
	keyRing64   = "ring_msgs_per_s_64"
	keyUDS64    = "uds_msgs_per_s_64"
	keyRingPing = "ring_oneway_p50_ns"
	keyLinePing = "cacheline_oneway_p50_ns"
	keyRing4K   = "ring_gbps_4k"
	keyMemcpy4K = "memcpy_gbps_4k"
)

const (
	batch64 = 64 // 64-byte records per publish
	batch4K = 8  // 4 KiB records per publish
)

// block4K is the payload of the 4 KiB records and the source of memcpy: random words, and
// the XOR of all but the first (which carries the record's sequence number), which the peer
// checks.
type block4K struct {
	data []byte
	xor  uint64
}

func newBlock4K() *block4K {
	b := &block4K{data: make([]byte, 4096)}
	for i := range b.data {
		b.data[i] = byte(rand.Uint32())
	}
	for i := 8; i < len(b.data); i += 8 {
		b.xor ^= binary.LittleEndian.Uint64(b.data[i:])
	}
	return b
}

// A measurement is one figure of a repetition, in the order Run takes them.
type measurement struct {
	key string
	run func(ctx context.Context, s *session, n counts, blk *block4K) (float64, error)
}

var measurements = []measurement{
	{keyRing64, ringThroughput64},
	{keyUDS64, unixSocketThroughput64},
	{keyRingPing, ringPingPong},
	{keyLinePing, cacheLinePingPong},
	{keyRing4K, ringBandwidth4K},
	{keyMemcpy4K, func(_ context.Context, _ *session, n counts, blk *block4K) (float64, error) {
		return memcpyBandwidth4K(blk.data, n.big), nil
	}},
}

// withPeer runs f while the peer plays its side of cmd: it asks the peer, waits until the
// peer is ready, runs f, and waits until the peer is done.
func (s *session) withPeer(ctx context.Context, cmd string, f func() (float64, error)) (float64, error) {
	if err := s.send("%s", cmd); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrPeer, cmd, err)
	}
	if err := s.expect(ctx, "ready"); err != nil {
		return 0, err
	}
	v, err := f()
	if err != nil {
		return 0, err
	}
	if err := s.expect(ctx, "done"); err != nil {
		return 0, err
	}
	return v, nil
}

// ringThroughput64 returns 64-byte records per second from ring A to the peer, until the
// peer has read and checked them all.
func ringThroughput64(ctx context.Context, s *session, n counts, _ *block4K) (float64, error) {
	return s.withPeer(ctx, fmt.Sprintf("ring %d %d", n.msgs, 64), func() (float64, error) {
		t0 := time.Now()
		if err := produce(ctx, s.ap, n.msgs, 64, batch64, nil); err != nil {
			return 0, err
		}
		if err := awaitAck(ctx, s.bc); err != nil {
			return 0, err
		}
		return float64(n.msgs) / time.Since(t0).Seconds(), nil
	})
}

// unixSocketThroughput64 returns 64-byte messages per second through the Unix socket.
func unixSocketThroughput64(ctx context.Context, s *session, n counts, _ *block4K) (float64, error) {
	return s.withPeer(ctx, fmt.Sprintf("uds %d", n.uds), func() (float64, error) {
		return udsSend(s.uds, n.uds)
	})
}

// ringPingPong returns the one-way latency of the ring in ns: half the median round trip
// of an 8-byte record through PA and back through PB.
func ringPingPong(ctx context.Context, s *session, n counts, _ *block4K) (float64, error) {
	return s.withPeer(ctx, fmt.Sprintf("ringping %d", n.pings), func() (float64, error) {
		return ringPing(ctx, s.pap, s.pbc, n.pings)
	})
}

// cacheLinePingPong returns the one-way latency of one cache line in ns: half the median
// round trip of a word bounced with atomic stores.
func cacheLinePingPong(ctx context.Context, s *session, n counts, _ *block4K) (float64, error) {
	return s.withPeer(ctx, fmt.Sprintf("lineping %d", n.pings), func() (float64, error) {
		return linePing(ctx, s.line, n.pings)
	})
}

// ringBandwidth4K returns GB/s of 4 KiB records from ring A to the peer, which checks
// every word.
func ringBandwidth4K(ctx context.Context, s *session, n counts, blk *block4K) (float64, error) {
	return s.withPeer(ctx, fmt.Sprintf("ring %d %d %d", n.big, 4096, blk.xor), func() (float64, error) {
		t0 := time.Now()
		if err := produce(ctx, s.ap, n.big, 4096, batch4K, blk.data); err != nil {
			return 0, err
		}
		if err := awaitAck(ctx, s.bc); err != nil {
			return 0, err
		}
		return float64(n.big) * 4096 / time.Since(t0).Seconds() / 1e9, nil
	})
}

// memcpyBandwidth4K copies n 4 KiB blocks into a working set of ring A's size and returns
// GB/s: the baseline of ringBandwidth4K.
func memcpyBandwidth4K(src []byte, n int) float64 {
	dst := make([]byte, ringCapA)
	t0 := time.Now()
	for i := range n {
		off := (i * 4096) % len(dst)
		copy(dst[off:off+4096], src)
	}
	return float64(n) * 4096 / time.Since(t0).Seconds() / 1e9
}

// produce writes n records of size bytes, publishing every batch records. Each starts with
// its sequence number; a 4 KiB record copies src after it (with ring.CopyNT).
func produce(ctx context.Context, p *ring.Producer, n, size, batch int, src []byte) error {
	for i := range n {
		buf, err := p.Reserve(ctx, recordType, size)
		if err != nil {
			return fmt.Errorf("ringbench: record %d: %w", i, err)
		}
		if src != nil {
			// Streaming stores: the consumer is another process on another core, so plain
			// stores would first pull every line back from its cache (about half the
			// bandwidth on the machines measured).
			ring.CopyNT(buf, src)
		} else {
			clear(buf[8:])
		}
		binary.LittleEndian.PutUint64(buf, uint64(i))
		p.Commit()
		if (i+1)%batch == 0 {
			p.Publish()
		}
	}
	p.Publish()
	return nil
}

// awaitAck waits for the peer's acknowledgement record.
func awaitAck(ctx context.Context, c *ring.Consumer) error {
	if _, err := c.Read(ctx); err != nil {
		return fmt.Errorf("ringbench: waiting for the peer: %w", err)
	}
	c.Release()
	return nil
}

// consume is the peer's side of produce: it reads n records, checks their sequence numbers
// (and, for records over 64 bytes, every word against xor), and acknowledges.
func consume(ctx context.Context, c *ring.Consumer, ack *ring.Producer, n, size int, xor uint64) error {
	// Release every 32 KiB or so: releasing late would stall the producer on a full ring.
	recs := make([]ring.Record, min(max(32<<10/(size+ring.RecordHeaderSize), 1), 256))
	for got := 0; got < n; {
		k, err := c.ReadBatch(ctx, recs)
		if err != nil {
			return err
		}
		for _, r := range recs[:k] {
			if len(r.Payload) != size {
				return fmt.Errorf("record %d has %d bytes, want %d", got, len(r.Payload), size)
			}
			words := unsafe.Slice((*uint64)(unsafe.Pointer(&r.Payload[0])), size/8)
			if words[0] != uint64(got) {
				return fmt.Errorf("record %d carries sequence number %d", got, words[0])
			}
			if size > 64 {
				var x uint64
				for _, w := range words[1:] {
					x ^= w
				}
				if x != xor {
					return fmt.Errorf("record %d: payload checksum %#x, want %#x", got, x, xor)
				}
			}
			got++
		}
		c.Release()
	}
	return ack.Write(ctx, recordType, []byte("ack\x00\x00\x00\x00\x00"))
}

// ringPing runs n round trips of an 8-byte record and returns half the median in ns.
func ringPing(ctx context.Context, p *ring.Producer, c *ring.Consumer, n int) (float64, error) {
	rtt := make([]int64, n)
	var seq [8]byte
	for i := range n {
		binary.LittleEndian.PutUint64(seq[:], uint64(i))
		t0 := time.Now()
		if err := p.Write(ctx, recordType, seq[:]); err != nil {
			return 0, fmt.Errorf("ringbench: ping %d: %w", i, err)
		}
		r, err := c.Read(ctx)
		if err != nil {
			return 0, fmt.Errorf("ringbench: pong %d: %w", i, err)
		}
		if len(r.Payload) != 8 || binary.LittleEndian.Uint64(r.Payload) != uint64(i) {
			return 0, fmt.Errorf("ringbench: pong %d: wrong payload %x", i, r.Payload)
		}
		c.Release()
		rtt[i] = int64(time.Since(t0))
	}
	slices.Sort(rtt)
	return float64(rtt[n/2]) / 2, nil
}

// ringPong is the peer's side of ringPing.
func ringPong(ctx context.Context, c *ring.Consumer, p *ring.Producer, n int) error {
	for range n {
		r, err := c.Read(ctx)
		if err != nil {
			return err
		}
		err = p.Write(ctx, recordType, r.Payload)
		c.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// linePing bounces the first word of line: this side stores odd numbers, the peer answers
// with the next even one. It returns half the median round trip in ns.
func linePing(ctx context.Context, line []byte, n int) (float64, error) {
	w := (*uint64)(unsafe.Pointer(&line[0]))
	atomic.StoreUint64(w, 0)
	rtt := make([]int64, n)
	for i := range n {
		v := uint64(2*i + 1)
		t0 := time.Now()
		atomic.StoreUint64(w, v)
		for spins := 0; atomic.LoadUint64(w) != v+1; spins++ {
			if spins&0xffff == 0xffff && ctx.Err() != nil {
				return 0, fmt.Errorf("ringbench: cache line ping %d: %w", i, context.Cause(ctx))
			}
		}
		rtt[i] = int64(time.Since(t0))
	}
	slices.Sort(rtt)
	return float64(rtt[n/2]) / 2, nil
}

// linePong is the peer's side of linePing.
func linePong(ctx context.Context, line []byte, n int) error {
	w := (*uint64)(unsafe.Pointer(&line[0]))
	for i := range n {
		v := uint64(2*i + 1)
		for spins := 0; atomic.LoadUint64(w) != v; spins++ {
			if spins&0xffff == 0xffff && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		atomic.StoreUint64(w, v+1)
	}
	return nil
}

// udsSend writes n 64-byte messages, one write(2) each, and waits for the peer's one-byte
// acknowledgement; it returns messages per second.
func udsSend(fd, n int) (float64, error) {
	msg := make([]byte, 64)
	t0 := time.Now()
	for i := range n {
		binary.LittleEndian.PutUint64(msg, uint64(i))
		for off := 0; off < len(msg); {
			k, err := unix.Write(fd, msg[off:])
			if err != nil && err != unix.EINTR {
				return 0, fmt.Errorf("ringbench: unix socket write: %w", err)
			}
			off += max(k, 0)
		}
	}
	var ack [1]byte
	if err := readFull(fd, ack[:]); err != nil {
		return 0, fmt.Errorf("ringbench: unix socket ack: %w", err)
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// udsRecv is the peer's side of udsSend.
func udsRecv(fd, n int) error {
	buf := make([]byte, 64<<10)
	want := 64 * n
	for got := 0; got < want; {
		k, err := unix.Read(fd, buf[:min(len(buf), want-got)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return fmt.Errorf("unix socket: end of file after %d of %d bytes", got, want)
		}
		got += k
	}
	_, err := unix.Write(fd, []byte{1})
	return err
}

func readFull(fd int, b []byte) error {
	for off := 0; off < len(b); {
		k, err := unix.Read(fd, b[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return fmt.Errorf("end of file after %d of %d bytes", off, len(b))
		}
		off += k
	}
	return nil
}
