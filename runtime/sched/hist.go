package sched

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets: exact below 64 ns, then 32 buckets per
// power of two, so a quantile is within about 3% of the true value. The zero value is empty
// and ready; a Histogram is not safe for concurrent use.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64
	min, max uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits // buckets per power of two
	histLinear  = 2 * histSub      // values below this are their own bucket
	histBuckets = histLinear + (64-histSubBits-1)*histSub
)

func bucketOf(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2·histSub)
	return histLinear + (shift-1)*histSub + int(v>>shift) - histSub
}

// bucketMid returns the middle of bucket i's range.
func bucketMid(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	i -= histLinear
	shift := i/histSub + 1
	lo := uint64(histSub+i%histSub) << shift
	return lo + (uint64(1)<<shift)/2
}

// Record adds one duration (negative ones count as 0).
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count returns the number of durations recorded.
func (h *Histogram) Count() int { return int(h.n) }

// Quantile returns the q-quantile (0 ≤ q ≤ 1): the smallest recorded value v, to the
// bucket's precision, such that at least a fraction q of the values are ≤ v. It is 0 for
// an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	switch rank {
	case 1:
		return time.Duration(h.min)
	case h.n:
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketMid(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Summary returns the count, extremes, mean and the usual quantiles.
func (h *Histogram) Summary() Summary {
	if h.n == 0 {
		return Summary{}
	}
	return Summary{
		Count: int(h.n),
		Min:   time.Duration(h.min),
		Mean:  time.Duration(h.sum / float64(h.n)),
		P50:   h.Quantile(0.50),
		P90:   h.Quantile(0.90),
		P99:   h.Quantile(0.99),
		Max:   time.Duration(h.max),
	}
}

// Summary is a latency distribution in brief.
type Summary struct {
	Count                         int
	Min, Mean, P50, P90, P99, Max time.Duration
}

func (s Summary) String() string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  max %v  (n=%d)", round(s.P50), round(s.P90), round(s.P99), round(s.Max), s.Count)
}

// round keeps three significant digits.
func round(d time.Duration) time.Duration {
	for _, u := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= 100*u {
			return d.Round(u)
		}
		if d >= 10*u {
			return d.Round(u / 10)
		}
		if d >= u {
			return d.Round(u / 100)
		}
	}
	return d
}
