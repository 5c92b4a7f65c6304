package sched

import (
	"fmt"
	"math"

	"github.com/lrchip/lrchip/chip"
)

// Patterns is a labelled test input: window w shows class w mod Classes. Input neuron i
// belongs to class i mod Classes and fires at each step with probability High when its class
// is shown, Low otherwise. The spikes come from a hash of (Seed, window, step, neuron), so
// every run, and every consumer of the same Patterns, sees the same spikes.
type Patterns struct {
	Inputs  int     // input neurons
	Classes int     // classes, at least 1
	High    float64 // firing probability per step of the shown class's neurons
	Low     float64 // firing probability per step of the other neurons
	Seed    uint64
}

// Validate checks the pattern's parameters.
func (p Patterns) Validate() error {
	switch {
	case p.Inputs < 1:
		return fmt.Errorf("%w: patterns over %d input neurons", ErrConfig, p.Inputs)
	case p.Classes < 1 || p.Classes > p.Inputs:
		return fmt.Errorf("%w: %d classes over %d input neurons", ErrConfig, p.Classes, p.Inputs)
	case !(p.High >= 0 && p.High <= 1 && p.Low >= 0 && p.Low <= 1):
		return fmt.Errorf("%w: firing probabilities %v and %v outside [0, 1]", ErrConfig, p.High, p.Low)
	}
	return nil
}

// Class returns the class window w shows.
func (p Patterns) Class(w int) int { return w % p.Classes }

// Source returns the spikes as a Source (binary spikes, payload 1): the rate encoding (see
// Fires) of rates High for the shown class's neurons and Low for the others.
func (p Patterns) Source() Source {
	hi, lo := Threshold(p.High), Threshold(p.Low)
	return func(w, s int, dst []chip.Spike) []chip.Spike {
		c := p.Class(w)
		for i := range p.Inputs {
			t := lo
			if i%p.Classes == c {
				t = hi
			}
			if Fires(p.Seed, w, s, i, t) {
				dst = append(dst, chip.Spike{Neuron: i, Payload: 1})
			}
		}
		return dst
	}
}

// Fires is the deterministic rate encoder of input spikes that Patterns and hostlib share:
// input neuron i fires at step s of window w when the splitmix64 hash of (seed, w, s, i) is
// below t, the Threshold of its firing probability per step.
func Fires(seed uint64, w, s, i int, t uint64) bool {
	return mix(seed, uint64(w), uint64(s), uint64(i)) < t
}

// Threshold maps a firing probability per step (in [0, 1]) to the bound on a uniform
// uint64 that Fires compares with: ⌊p·2^64⌋, and 2^64−1 for p ≥ 1.
func Threshold(p float64) uint64 {
	if p >= 1 {
		return math.MaxUint64
	}
	return uint64(p * (1 << 63) * 2)
}

// mix hashes four words (splitmix64 steps).
func mix(a, b, c, d uint64) uint64 {
	h := a
	for _, x := range [...]uint64{b, c, d} {
		h += x + 0x9e3779b97f4a7c15
		h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
		h = (h ^ h>>27) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}
