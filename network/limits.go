package network

import "math"

// Range is an inclusive range of allowed values.
type Range struct{ Lo, Hi int64 }

const (
	sat24  = 1<<23 - 1 // the symmetric 24-bit range of a saturated register
	vth17  = 1<<17 - 1 // thresholds: vth << 6 must fit 24 bits
	i32min = math.MinInt32
	i32max = math.MaxInt32
)

var (
	decay12 = Range{0, 4095}           // Loihi's 12-bit decay constants
	mant13  = Range{-4096, 4095}       // Loihi's 13-bit signed bias mantissa
	exp3    = Range{0, 7}              // Loihi's 3-bit bias exponent
	thresh  = Range{0, vth17}          // a threshold mantissa
	state24 = Range{-sat24, sat24}     // a 24-bit saturated state register
	wrap24  = Range{-sat24, sat24 + 1} // a 24-bit wrapped register (wrap keeps +2^23)
	anyI32  = Range{i32min, i32max}
	flag    = Range{0, 1}
)

// limits gives, for each standard program, the range of each constant, parameter and state
// register: the values for which the program computes what its documentation says (docs/chip.md
// §9), as Lava's bit-accurate models allow them. Programs from source have no limits beyond
// 32 bits.
var limits = map[string]map[string]Range{
	"lif": {
		"du": decay12, "dv": decay12, "vth": thresh,
		"bias_mant": mant13, "bias_exp": exp3,
		"u": wrap24, "v": state24,
	},
	"lif_reset": {
		"du": decay12, "dv": decay12, "vth": thresh, "interval": {1, i32max}, "offset": {0, i32max - 1},
		"bias_mant": mant13, "bias_exp": exp3,
		"u": wrap24, "v": state24,
	},
	"ternary_lif": {
		"du": decay12, "dv": decay12, "vth_hi": thresh, "vth_lo": {-vth17, 0},
		"bias_mant": mant13, "bias_exp": exp3,
		"u": wrap24, "v": state24,
	},
	"alif": {
		"du": decay12, "dv": decay12, "vth": thresh, "dth": decay12, "th_inc": thresh,
		"bias_mant": mant13, "bias_exp": exp3,
		"u": wrap24, "v": state24, "theta": state24,
	},
	"sigma_delta": {
		"vth": {0, i32max}, "state_exp": {0, 31}, "relu": flag, "cum_error": flag,
		"bias":  anyI32,
		"sigma": anyI32, "act": anyI32, "residue": anyI32, "error": anyI32,
	},
	"rf": {
		"cos_d": {-4096, 4096}, "sin_d": {-4096, 4096}, "vth": thresh,
		"re": state24, "im": state24,
	},
}

// Limits returns the allowed range of a constant, parameter or state register of a standard
// program, and whether there is one.
func Limits(program, register string) (Range, bool) {
	r, ok := limits[program][register]
	return r, ok
}
