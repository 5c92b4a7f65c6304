package ringbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Defaults of Opts.
const (
	DefaultReps    = 5
	DefaultScale   = 1.0
	DefaultTimeout = 10 * time.Minute
)

// Targets the ring is held to (Result.Targets says which were met).
const (
	TargetRingOverUDS       = 20  // 64-byte messages per second, ring ÷ Unix socket, at least
	TargetRingOverCacheline = 3   // one-way latency, ring ÷ cache line, at most
	TargetRingOverMemcpy4K  = 0.3 // 4 KiB bandwidth, ring ÷ memcpy, at least
)

// Sentinel errors; the errors Run and Peer return wrap one of them or the error of the
// ring or system call that failed.
var (
	// ErrOpts reports an Opts field out of range.
	ErrOpts = errors.New("ringbench: bad options")
	// ErrPeer reports that the peer process failed (its message is included) or went away.
	ErrPeer = errors.New("ringbench: peer failed")
	// ErrNotPeer is returned by Peer in a process that Run did not start.
	ErrNotPeer = errors.New("ringbench: not started as the peer of Run")
)

// Opts configures Run. The zero value runs the full benchmark with the peer re-executing
// this program.
type Opts struct {
	// Reps is how many times each measurement runs; Result has the medians. Default
	// DefaultReps.
	Reps int
	// Scale multiplies the message counts of every measurement (at 1, about a second per
	// repetition; each count has a floor so that a tiny scale still measures something).
	// Default DefaultScale.
	Scale float64
	// Command is the peer's command line, program first. The program must call Peer (see
	// the package documentation). Default: this program, os.Executable(), with no
	// arguments. Either way the peer finds PeerEnv in its environment.
	Command []string
	// Stderr receives the peer's standard output and error. Default os.Stderr.
	Stderr io.Writer
	// Timeout bounds the whole run; the peer is killed when it passes. Default
	// DefaultTimeout.
	Timeout time.Duration
}

func (o Opts) withDefaults() (Opts, error) {
	if o.Reps == 0 {
		o.Reps = DefaultReps
	}
	if o.Scale == 0 {
		o.Scale = DefaultScale
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	switch {
	case o.Reps < 0:
		return o, fmt.Errorf("%w: Reps %d is negative", ErrOpts, o.Reps)
	case !(o.Scale > 0) || o.Scale > 1e6: // also refuses NaN
		return o, fmt.Errorf("%w: Scale %v is not in (0, 1e6]", ErrOpts, o.Scale)
	case o.Timeout < 0:
		return o, fmt.Errorf("%w: Timeout %v is negative", ErrOpts, o.Timeout)
	}
	if len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("ringbench: the peer's program: %w", err)
		}
		o.Command = []string{exe}
	}
	return o, nil
}

// Message counts at Scale 1, and the floors of a scaled count.
const (
	baseMsgs   = 2_000_000 // 64-byte records through the ring
	baseUDS    = 200_000   // 64-byte messages through the Unix socket
	basePings  = 20_000    // round trips, ring and cache line
	base4K     = 50_000    // 4 KiB records through the ring (200 MB)
	leastMsgs  = 1000
	leastPings = 100
)

// counts are the sizes of one repetition.
type counts struct {
	msgs, uds, pings, big int
}

func (o Opts) counts() counts {
	n := func(base, least int) int { return max(int(float64(base)*o.Scale), least) }
	return counts{msgs: n(baseMsgs, leastMsgs), uds: n(baseUDS, leastMsgs), pings: n(basePings, leastPings), big: n(base4K, leastPings)}
}

// Result is the outcome of Run: medians over the repetitions, their ratios, which targets
// they meet, and every repetition's value. Its JSON form is what `lrctl bench ring --json`
// prints.
type Result struct {
	Reps                 int     `json:"reps"`
	RingMsgsPerS64       float64 `json:"ring_msgs_per_s_64"`      // 64-byte records per second through the ring
	UDSMsgsPerS64        float64 `json:"uds_msgs_per_s_64"`       // 64-byte messages per second through the Unix socket
	RingOverUDS          float64 `json:"ring_over_uds"`           // RingMsgsPerS64 / UDSMsgsPerS64
	RingOnewayP50NS      float64 `json:"ring_oneway_p50_ns"`      // half the median ring round trip, ns
	CachelineOnewayP50NS float64 `json:"cacheline_oneway_p50_ns"` // half the median cache-line round trip, ns
	RingOverCacheline    float64 `json:"ring_over_cacheline"`     // RingOnewayP50NS / CachelineOnewayP50NS
	RingGBps4K           float64 `json:"ring_gbps_4k"`            // 4 KiB records through the ring, GB/s
	MemcpyGBps4K         float64 `json:"memcpy_gbps_4k"`          // memcpy of 4 KiB blocks in one process, GB/s
	RingOverMemcpy4K     float64 `json:"ring_over_memcpy_4k"`     // RingGBps4K / MemcpyGBps4K
	Targets              Targets `json:"targets_met"`
	// Every repetition's value, in order, by the JSON name of its median.
	Runs map[string][]float64 `json:"runs"`
}

// Targets says which targets a Result meets.
type Targets struct {
	Throughput bool `json:"ring_over_uds_ge_20"`        // RingOverUDS ≥ TargetRingOverUDS
	Latency    bool `json:"ring_over_cacheline_le_3"`   // RingOverCacheline ≤ TargetRingOverCacheline
	Bandwidth  bool `json:"ring_over_memcpy_4k_ge_0_3"` // RingOverMemcpy4K ≥ TargetRingOverMemcpy4K
}

// Met reports whether every target is met.
func (t Targets) Met() bool { return t.Throughput && t.Latency && t.Bandwidth }

// Run starts the peer and runs every measurement opts.Reps times, in the order of the
// package documentation. It returns when they are done, on the first failure (the peer's
// included), or when ctx ends or opts.Timeout passes; the peer is gone when it returns.
func Run(ctx context.Context, opts Opts) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, fmt.Errorf("ringbench: took over %v", opts.Timeout))
	defer cancel()
	s, err := start(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()

	n := opts.counts()
	blk := newBlock4K()
	runs := map[string][]float64{}
	for range opts.Reps {
		for _, m := range measurements {
			v, err := m.run(ctx, s, n, blk)
			if err != nil {
				return nil, err
			}
			runs[m.key] = append(runs[m.key], v)
		}
	}
	return summarize(opts.Reps, runs), nil
}

// summarize takes the medians of runs and compares them with the targets.
func summarize(reps int, runs map[string][]float64) *Result {
	r := &Result{
		Reps:                 reps,
		RingMsgsPerS64:       median(runs[keyRing64]),
		UDSMsgsPerS64:        median(runs[keyUDS64]),
		RingOnewayP50NS:      median(runs[keyRingPing]),
		CachelineOnewayP50NS: median(runs[keyLinePing]),
		RingGBps4K:           median(runs[keyRing4K]),
		MemcpyGBps4K:         median(runs[keyMemcpy4K]),
		Runs:                 runs,
	}
	r.RingOverUDS = r.RingMsgsPerS64 / r.UDSMsgsPerS64
	r.RingOverCacheline = r.RingOnewayP50NS / r.CachelineOnewayP50NS
	r.RingOverMemcpy4K = r.RingGBps4K / r.MemcpyGBps4K
	r.Targets.Throughput = r.RingOverUDS >= TargetRingOverUDS
	r.Targets.Latency = r.RingOverCacheline <= TargetRingOverCacheline
	r.Targets.Bandwidth = r.RingOverMemcpy4K >= TargetRingOverMemcpy4K
	return r
}

// median returns the median of v (the mean of the middle two for an even count), 0 for
// none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
