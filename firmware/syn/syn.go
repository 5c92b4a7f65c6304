// Package syn defines the chip's synapse formats: sign modes, weight precision, and the rule
// that turns a weight as a user gives it into the weight the chip stores (Lava's Dense
// semantics, bit for bit).
package syn

import (
	"errors"
	"fmt"
	"strings"
)

// SignMode says which signs a connection's weights may take.
type SignMode uint8

// Sign modes, with their encodings in network images.
const (
	Mixed         SignMode = 1 // weights in [-256, 255]
	Excitatory    SignMode = 2 // weights in [0, 255]
	Inhibitory    SignMode = 3 // weights in [-255, 0]
	MaxExp                 = 15
	MinExp                 = -16
	MaxWeightBits          = 8
)

// ErrRange is wrapped by errors about out-of-range synapse settings.
var ErrRange = errors.New("out of range")

func (m SignMode) String() string {
	switch m {
	case Mixed:
		return "MIXED"
	case Excitatory:
		return "EXCITATORY"
	case Inhibitory:
		return "INHIBITORY"
	}
	return fmt.Sprintf("SignMode(%d)", uint8(m))
}

// ParseSignMode accepts the names Lava uses (case-insensitive).
func ParseSignMode(s string) (SignMode, error) {
	switch strings.ToUpper(s) {
	case "MIXED":
		return Mixed, nil
	case "EXCITATORY":
		return Excitatory, nil
	case "INHIBITORY":
		return Inhibitory, nil
	}
	return 0, fmt.Errorf("syn: unknown sign mode %q (want MIXED, EXCITATORY or INHIBITORY)", s)
}

// Valid reports whether m is a defined sign mode.
func (m SignMode) Valid() bool { return m >= Mixed && m <= Inhibitory }

// CheckWeightBits validates num_weight_bits (1..8).
func CheckWeightBits(n int) error {
	if n < 1 || n > MaxWeightBits {
		return fmt.Errorf("syn: num_weight_bits %d: %w [1, %d]", n, ErrRange, MaxWeightBits)
	}
	return nil
}

// CheckExp validates a weight exponent.
func CheckExp(e int) error {
	if e < MinExp || e > MaxExp {
		return fmt.Errorf("syn: weight_exp %d: %w [%d, %d]", e, ErrRange, MinExp, MaxExp)
	}
	return nil
}

// Effective returns the weight the chip uses for a given weight: clipped to the sign mode's
// range, then its low 8 − bits bits (one more for Mixed, whose sign takes a bit) cleared.
// Mixed and Excitatory clear them by arithmetic shift (rounding toward −∞); Inhibitory
// weights are magnitudes, so they round toward zero. This is what Lava's clip_weights and
// truncate_weights compute, once, when the connection is loaded.
func Effective(w int32, m SignMode, bits int) int32 {
	t := uint(MaxWeightBits - bits)
	switch m {
	case Excitatory:
		w = max(0, min(255, w))
		return (w >> t) << t
	case Inhibitory:
		w = max(-255, min(0, w))
		return -((-w >> t) << t)
	default:
		w = max(-256, min(255, w))
		t++
		return (w >> t) << t
	}
}
