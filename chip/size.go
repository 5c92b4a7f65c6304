package chip

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of the chip design. A board reports its own size (at most these) in its
// capability registers.
const (
	// MaxCores and MaxNeuronsPerCore are the full design's size (Full).
	MaxCores          = 128
	MaxNeuronsPerCore = 8192
	// MaxBanksPerCore is how many incoming connections with a negative weight exponent a
	// core accepts: each needs its own dendritic accumulator bank, because the floor shift of
	// a sum is not the sum of floor shifts. Connections with a non-negative exponent add
	// straight into the dendritic input (a left shift distributes over a wrapping sum) and
	// are not limited.
	MaxBanksPerCore = 16
)

// ErrSize is wrapped by errors about a chip size that is malformed or beyond the design.
var ErrSize = errors.New("bad chip size")

// Size is the shape of a chip: Cores cores of NeuronsPerCore neuron slots each. As the
// size an image needs, it is the smallest chip the image runs on.
type Size struct {
	Cores          int `json:"cores"`
	NeuronsPerCore int `json:"neurons_per_core"`
}

// Chip sizes.
var (
	Prototype = Size{Cores: 8, NeuronsPerCore: 1024}                     // the FPGA board build
	Full      = Size{Cores: MaxCores, NeuronsPerCore: MaxNeuronsPerCore} // the full design (Loihi 2's size)
)

// String writes "8×1024".
func (s Size) String() string { return fmt.Sprintf("%d×%d", s.Cores, s.NeuronsPerCore) }

// Neurons is the number of neuron slots.
func (s Size) Neurons() int { return s.Cores * s.NeuronsPerCore }

// Holds reports whether a chip of size s has room for one of size need.
func (s Size) Holds(need Size) bool {
	return need.Cores <= s.Cores && need.NeuronsPerCore <= s.NeuronsPerCore
}

// Check returns an error wrapping ErrSize unless s is a chip the design allows: at least
// one core of one neuron, at most Full.
func (s Size) Check() error {
	if s.Cores < 1 || s.NeuronsPerCore < 1 || !Full.Holds(s) {
		return fmt.Errorf("chip: size %s: %w: want at least 1×1 and at most %s", s, ErrSize, Full)
	}
	return nil
}

// ParseSize reads a chip size: "prototype" (8×1024), "full" (128×8192) or CORESxNEURONS
// ("4x256"; '×' works too). An empty string is the prototype. Errors wrap ErrSize.
func ParseSize(s string) (Size, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "prototype", "":
		return Prototype, nil
	case "full":
		return Full, nil
	}
	a, b, ok := strings.Cut(strings.ReplaceAll(strings.ToLower(s), "×", "x"), "x")
	var z Size
	if ok {
		var err1, err2 error
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		z.Cores, err1 = strconv.Atoi(a)
		z.NeuronsPerCore, err2 = strconv.Atoi(b)
		// Only plain decimals: "04x1" or "+4x1" is more likely a typo than a size.
		ok = err1 == nil && err2 == nil && strconv.Itoa(z.Cores) == a && strconv.Itoa(z.NeuronsPerCore) == b
	}
	if !ok || z.Check() != nil {
		return Size{}, fmt.Errorf("chip: size %q: %w: want prototype, full or CORESxNEURONS within %s", s, ErrSize, Full)
	}
	return z, nil
}
