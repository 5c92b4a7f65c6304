package hostlib

import (
	"fmt"
	"slices"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/runtime/sched"
)

// Spike is an input spike of a request: input neuron Neuron fires at step Step, counted from
// 0 at the request's first step (window w holds steps w·Window to (w+1)·Window−1), with
// Payload (1 for a binary network; graded networks use the value).
type Spike struct {
	Step    uint32
	Neuron  uint32
	Payload int32
}

// Input is one inference request: a sample of Windows windows of the model's Window steps.
// The network starts every request from the state of a fresh load, and its state carries from
// one window of the request to the next; so a request of K windows gives what lrctl pipeline
// gives for its first K windows on the same spikes, and a request's result does not depend on
// what else runs.
//
// The spikes are the rate encoding of Rates, plus Spikes. Rates are firing probabilities per
// step, one per input neuron, for each window (window-major: Rates[w·Inputs+i]) or for all of
// them (len(Rates) == Inputs). The encoder is deterministic: input neuron i fires at step s
// of window w when sched.Fires(Seed, w, s, i, sched.Threshold(rate)) — a splitmix64 hash of
// (Seed, w, s, i) below rate·2^64 — with payload 1, exactly as lrctl pipeline's test patterns
// do. An explicit spike on the neuron and step of an encoded one replaces it.
type Input struct {
	// Windows is the number of windows. 0: as many as Rates has rows, else enough for the
	// last spike, at least 1.
	Windows int
	// Rates are firing probabilities in [0, 1] (see above). Optional.
	Rates []float64
	// Spikes are spike events. Optional; need not be sorted.
	Spikes []Spike
	// Seed seeds the rate encoder. 0: the model's (Spec.Seed).
	Seed uint64
}

// Result is what a request gave, window by window.
type Result struct {
	Windows int
	// Class is the readout's argmax (the first largest score) of each window.
	Class []int
	// Scores holds the readout's M scores of each window, window-major: Scores[w·M+m].
	Scores []int64
	// Counts holds the output neurons' spike counts of each window (the readout's input),
	// window-major: Counts[w·N+n].
	Counts []int32
	// Device names the device that ran the request.
	Device string
	// Latency is the time from submission to completion.
	Latency time.Duration
}

// request is an Input checked against a model and prepared for the chip stage.
type request struct {
	windows int
	seed    uint64
	inputs  int
	thr     []uint64 // thresholds of the rates: windows×inputs, inputs, or none
	spikes  []Spike  // sorted by step (stable)
}

// prepare checks in against the model's shape and limits; errors wrap ErrInput and say
// what and where.
func prepare(in Input, inputs, window, maxWindows int, seed uint64) (*request, error) {
	r := &request{windows: in.Windows, seed: in.Seed, inputs: inputs}
	if r.seed == 0 {
		r.seed = seed
	}
	if in.Windows < 0 || in.Windows > maxWindows {
		return nil, fmt.Errorf("%w: %d windows, want 1..%d", ErrInput, in.Windows, maxWindows)
	}
	if len(in.Rates) > 0 {
		if inputs == 0 {
			return nil, fmt.Errorf("%w: rates for a network without an input port", ErrInput)
		}
		if len(in.Rates)%inputs != 0 {
			return nil, fmt.Errorf("%w: %d rates is not a whole number of windows of %d input neurons", ErrInput, len(in.Rates), inputs)
		}
		rows := len(in.Rates) / inputs
		switch {
		case r.windows == 0 && rows > maxWindows:
			return nil, fmt.Errorf("%w: %d windows of rates, at most %d", ErrInput, rows, maxWindows)
		case r.windows == 0:
			r.windows = rows
		case rows != 1 && rows != r.windows:
			return nil, fmt.Errorf("%w: %d windows of rates for a request of %d windows (give 1 or %d)", ErrInput, rows, r.windows, r.windows)
		}
		r.thr = make([]uint64, len(in.Rates))
		for k, p := range in.Rates {
			if !(p >= 0 && p <= 1) { // NaN fails too
				return nil, fmt.Errorf("%w: rate %v of input neuron %d in window %d: want a probability in [0, 1]", ErrInput, p, k%inputs, k/inputs)
			}
			r.thr[k] = sched.Threshold(p)
		}
	}
	var last uint32
	for k, s := range in.Spikes {
		if int64(s.Neuron) >= int64(inputs) {
			return nil, fmt.Errorf("%w: spike %d: neuron %d outside the input port of %d neurons", ErrInput, k, s.Neuron, inputs)
		}
		last = max(last, s.Step)
	}
	if r.windows == 0 {
		r.windows = 1
		if len(in.Spikes) > 0 {
			r.windows = int(last)/window + 1
		}
	}
	if r.windows > maxWindows {
		return nil, fmt.Errorf("%w: spikes up to step %d need %d windows of %d steps, at most %d", ErrInput, last, r.windows, window, maxWindows)
	}
	if len(in.Spikes) > 0 {
		if steps := int64(r.windows) * int64(window); int64(last) >= steps {
			return nil, fmt.Errorf("%w: a spike at step %d, after the request's %d steps (%d windows of %d)", ErrInput, last, steps, r.windows, window)
		}
		r.spikes = slices.Clone(in.Spikes)
		slices.SortStableFunc(r.spikes, func(a, b Spike) int { return int(int64(a.Step) - int64(b.Step)) })
	}
	return r, nil
}

// encoder gives a request's spikes window by window and step by step; it is used by the
// chip stage only, and starts again with each attempt.
type encoder struct {
	r      *request
	window int // steps per window
	next   int // index of the next explicit spike
}

// spikes appends the spikes of step s of window w (the request's own window index).
func (e *encoder) spikes(w, s int, dst []chip.Spike) []chip.Spike {
	r := e.r
	if len(r.thr) > 0 {
		row := r.thr
		if len(row) > r.inputs {
			row = row[w*r.inputs : (w+1)*r.inputs]
		}
		for i, t := range row {
			if sched.Fires(r.seed, w, s, i, t) {
				dst = append(dst, chip.Spike{Neuron: i, Payload: 1})
			}
		}
	}
	step := uint32(w*e.window + s)
	for e.next < len(r.spikes) && r.spikes[e.next].Step < step {
		e.next++ // cannot happen: steps are asked for in order
	}
	for e.next < len(r.spikes) && r.spikes[e.next].Step == step {
		sp := r.spikes[e.next]
		dst = append(dst, chip.Spike{Neuron: int(sp.Neuron), Payload: sp.Payload})
		e.next++
	}
	return dst
}

// Check is what a caller can learn about an input without running it: the number of windows
// it would run, or why the model would refuse it.
func (m *Model) Check(in Input) (windows int, err error) {
	r, err := prepare(in, m.info.Inputs, m.info.Window, m.info.MaxWindows, m.info.Seed)
	if err != nil {
		return 0, err
	}
	return r.windows, nil
}
