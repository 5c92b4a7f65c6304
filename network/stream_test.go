package network

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The streams are SplitMix64 as documented (docs/description.md): a stream keyed 0 gives
// SplitMix64's published first outputs for seed 0, and a stream's key is
// mix64(seed XOR FNV-1a-64(label)).
func TestStreamIsSplitMix64(t *testing.T) {
	s := stream{key: 0}
	require.Equal(t, uint64(0xe220a8397b1dcdaf), s.at(0))
	require.Equal(t, uint64(0x6e789e6aa1b965f4), s.at(1))
	require.Equal(t, uint64(0x06c45d188009454f), s.at(2))
	require.Equal(t, uint64(0xaf63dc4c8601ec8c), fnv1a64("a"))
	require.Equal(t, stream{key: mix64(7 ^ fnv1a64("input x"))}, newStream(7, "input x"))
}

// below is uniform without bias, and never loops for ever: a bound of 1 gives 0, a bound of
// 2^63+1 rejects about half the draws.
func TestBelow(t *testing.T) {
	q := seq{s: newStream(1, "t")}
	for range 100 {
		require.Equal(t, uint64(0), q.below(1))
	}
	counts := make([]int, 3)
	for range 30000 {
		counts[q.below(3)]++
	}
	for _, c := range counts {
		require.InDelta(t, 10000, c, 500)
	}
	for range 100 {
		require.Less(t, q.below(1<<63+1), uint64(1<<63+1))
	}
	require.Equal(t, uint64(1<<53), threshold(1))
	require.Equal(t, uint64(0), threshold(0))
}
