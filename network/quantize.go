package network

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/syn"
)

// ErrQuantized is wrapped by QuantizationError: mapping would change some of a description's
// weights (see Network.Quantization).
var ErrQuantized = errors.New("weights changed by quantization")

// Quantization says how mapping changes the weights of one connection. The chip keeps
// num_weight_bits bits of each weight (docs/chip.md §5): with the default MIXED sign mode and
// 8 bits, the sign takes one, so odd weights lose their lowest bit (1 becomes 0, 3 becomes 2).
// Weights outside the sign mode's range are not quantized but rejected (Validate).
type Quantization struct {
	Connection string   `json:"connection"`
	SignMode   string   `json:"sign_mode"`
	WeightBits int      `json:"num_weight_bits"`
	Synapses   int64    `json:"synapses"`
	Changed    int64    `json:"changed"`    // weights whose effective value differs from the description's
	Zeroed     int64    `json:"zeroed"`     // nonzero weights that became 0 (synapses that do nothing)
	MaxChange  int32    `json:"max_change"` // the largest |weight − effective weight|
	Example    [2]int32 `json:"example"`    // a weight with that change, and what it became
}

// String says what changed, e.g. `connection "in->exc": 3 of 32 weights changed by
// quantization to MIXED 8 bits (1 zeroed), largest change 1 (e.g. 1 → 0)`.
func (q Quantization) String() string {
	zeroed := ""
	if q.Zeroed > 0 {
		zeroed = fmt.Sprintf(" (%d zeroed)", q.Zeroed)
	}
	return fmt.Sprintf("connection %s: %d of %d weights changed by quantization to %s %d bits%s, largest change %d (e.g. %d → %d)",
		quote(q.Connection), q.Changed, q.Synapses, q.SignMode, q.WeightBits, zeroed, q.MaxChange, q.Example[0], q.Example[1])
}

// Quantization validates the network and reports, for every connection whose weights mapping
// changes, how many changed, how many became zero and the largest change; connections that
// keep every weight are left out. Mapping always uses the effective weights; this says where
// they differ from the description, so that a tool can warn, or refuse (QuantizationError).
func (n *Network) Quantization() ([]Quantization, error) {
	c, err := n.compile()
	if err != nil {
		return nil, err
	}
	return c.quantization(), nil
}

func (c *compiled) quantization() []Quantization {
	var out []Quantization
	for i := range c.conns {
		x := &c.conns[i]
		q := Quantization{Connection: x.name, SignMode: x.mode.String(), WeightBits: x.bits}
		see := func(w int32, count int64) {
			q.Synapses += count
			e := syn.Effective(w, x.mode, x.bits)
			if e == w {
				return
			}
			q.Changed += count
			if e == 0 {
				q.Zeroed += count
			}
			if d := abs32(w - e); d > q.MaxChange {
				q.MaxChange, q.Example = d, [2]int32{w, e}
			}
		}
		switch {
		case x.dense != nil && x.dense.Rows != nil:
			for _, row := range x.dense.Rows {
				for _, w := range row {
					see(w, 1)
				}
			}
		case x.sparse != nil:
			for k := range x.sparse.Pre {
				see(x.sparse.Weights.At(k), 1)
			}
		case x.dense != nil:
			see(x.dense.All, int64(x.fromSize)*int64(x.toSize))
		}
		if q.Changed > 0 {
			out = append(out, q)
		}
	}
	return out
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// QuantizationError returns nil when qs is empty, else an error wrapping ErrQuantized that
// lists them.
func QuantizationError(qs []Quantization) error {
	if len(qs) == 0 {
		return nil
	}
	var b strings.Builder
	for i, q := range qs {
		if i == maxErrors {
			fmt.Fprintf(&b, "; and %d more connections", len(qs)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(q.String())
	}
	return fmt.Errorf("network: %w: %s (choose weights the sign mode and num_weight_bits keep, or more bits)", ErrQuantized, b.String())
}
