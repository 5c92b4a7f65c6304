package sched

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"tiny exact", func() time.Duration { return time.Duration(rng.IntN(64)) }},
		{"uniform µs", func() time.Duration { return time.Duration(rng.IntN(1_000_000)) }},
		{"log-normal", func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*2 + 12)) }},
		{"constant", func() time.Duration { return 12345 * time.Nanosecond }},
		{"huge", func() time.Duration { return time.Duration(math.MaxInt64 - rng.Int64N(1<<40)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h Histogram
			vals := make([]time.Duration, 5000)
			for i := range vals {
				vals[i] = c.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 1} {
				rank := max(int(math.Ceil(q*float64(len(vals)))), 1)
				want := float64(vals[rank-1])
				got := float64(h.Quantile(q))
				require.InDelta(t, want, got, want*0.032+1, "q=%v", q)
			}
			s := h.Summary()
			require.Equal(t, len(vals), s.Count)
			require.Equal(t, vals[0], s.Min)
			require.Equal(t, vals[len(vals)-1], s.Max)
			require.LessOrEqual(t, s.P50, s.P90)
			require.LessOrEqual(t, s.P90, s.P99)
			require.NotEmpty(t, s.String())
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	require.Equal(t, time.Duration(0), h.Quantile(0.5))
	require.Equal(t, Summary{}, h.Summary())
	require.Equal(t, "no samples", h.Summary().String())
	h.Record(-5)
	require.Equal(t, time.Duration(0), h.Quantile(1))
	var o Histogram
	o.Record(time.Second)
	h.Merge(&o)
	require.Equal(t, 2, h.Count())
	require.Equal(t, time.Second, h.Quantile(1))
	for i := range histBuckets {
		require.Equal(t, i, bucketOf(bucketMid(i)), "bucket %d", i)
	}
}
