package ring

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Test records carry their own identity and checksum:
//
//	[0:8] sequence number  [8:12] stream  [12:n-4] filler  [n-4:n] CRC32 of [0:n-4]
//
// and the record type is derived from the sequence number.
const minTestPayload = 16

func testType(seq uint64) uint16 { return uint16(1 + seq%1000) }

// fillPayload writes a test record for (stream, seq) into buf.
func fillPayload(buf []byte, stream uint32, seq uint64) {
	n := len(buf)
	binary.LittleEndian.PutUint64(buf[0:], seq)
	binary.LittleEndian.PutUint32(buf[8:], stream)
	x := seq*0x9e3779b97f4a7c15 + uint64(stream) + 1
	i := 12
	for ; i+8 <= n-4; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(buf[i:], x)
	}
	for ; i < n-4; i++ {
		buf[i] = byte(x >> (8 * (i % 8)))
	}
	binary.LittleEndian.PutUint32(buf[n-4:], crc32.ChecksumIEEE(buf[:n-4]))
}

// checkPayload validates a test record and returns its identity.
func checkPayload(typ uint16, p []byte) (stream uint32, seq uint64, err error) {
	n := len(p)
	if n < minTestPayload {
		return 0, 0, fmt.Errorf("payload of %d bytes is too short", n)
	}
	if got, want := crc32.ChecksumIEEE(p[:n-4]), binary.LittleEndian.Uint32(p[n-4:]); got != want {
		return 0, 0, fmt.Errorf("crc %#x, want %#x (len %d)", got, want, n)
	}
	seq = binary.LittleEndian.Uint64(p)
	stream = binary.LittleEndian.Uint32(p[8:])
	if typ != testType(seq) {
		return 0, 0, fmt.Errorf("type %d for seq %d, want %d", typ, seq, testType(seq))
	}
	return stream, seq, nil
}

// pickLen draws a payload length: mostly small, sometimes up to max, and now
// and then the extremes, so records of every size meet the end of the ring.
func pickLen(rng *rand.Rand, max int) int {
	switch r := rng.IntN(100); {
	case r < 3:
		return max
	case r < 6:
		return minTestPayload
	case r < 25:
		return minTestPayload + rng.IntN(max-minTestPayload+1)
	default:
		return minTestPayload + rng.IntN(min(max, 200)-minTestPayload+1)
	}
}

// streamChecker verifies that each stream arrives complete and in order.
type streamChecker struct {
	next map[uint32]uint64
	n    int
}

func newStreamChecker() *streamChecker { return &streamChecker{next: map[uint32]uint64{}} }

func (s *streamChecker) add(rec Record) error {
	stream, seq, err := checkPayload(rec.Type, rec.Payload)
	if err != nil {
		return fmt.Errorf("record %d: %w", s.n, err)
	}
	if want := s.next[stream]; seq != want {
		return fmt.Errorf("record %d: stream %d seq %d, want %d (lost, duplicated or reordered)", s.n, stream, seq, want)
	}
	s.next[stream] = seq + 1
	s.n++
	return nil
}

// memRing makes a ring in ordinary memory.
func memRing(t testing.TB, capacity int, opts Opts) *Ring {
	t.Helper()
	opts.Capacity = capacity
	r, err := New(make([]byte, HeaderSize+capacity), opts)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// endpoints claims a single-producer ring's producer and consumer.
func endpoints(t testing.TB, r *Ring) (*Producer, *Consumer) {
	t.Helper()
	p, err := r.Producer()
	require.NoError(t, err)
	c, err := r.Consumer()
	require.NoError(t, err)
	return p, c
}
