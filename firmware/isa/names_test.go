package isa_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lrchip/lrchip/firmware/isa"
)

func TestValidName(t *testing.T) {
	for _, s := range []string{"a", "_", "u", "bias_mant", "X9", "_0", "s", "sa", "L5"} {
		assert.True(t, isa.ValidName(s), s)
	}
	for _, s := range []string{"", "9", "9a", "a-b", "a b", "ü", "a.b", "a\x00"} {
		assert.False(t, isa.ValidName(s), s)
	}
}

func TestReservedName(t *testing.T) {
	for _, s := range []string{"a", "t", "s0", "s7", "s8", "r01", "p3", "c15", "c16", "k0", "k99"} {
		assert.True(t, isa.ReservedName(s), s)
	}
	for _, s := range []string{"", "s", "k", "sx", "s0x", "S0", "A", "T", "x0", "at", "ta", "_s0"} {
		assert.False(t, isa.ReservedName(s), s)
	}
}

// A state register named like a probe field that is not a register would be recorded under
// that name by a probe of the other field: CheckNames refuses it (parameters and constants
// are not probed, so they may use the names).
func TestCheckNamesReservesProbeFields(t *testing.T) {
	for _, name := range []string{"a", "s", "spike", "input"} {
		p := &isa.Program{State: []string{"v", name}}
		err := p.CheckNames()
		assert.ErrorIs(t, err, isa.ErrInvalid, name)
		if name != "a" { // "a" is a register name, refused as such
			assert.ErrorContains(t, err, "probes read it as", name)
		}
	}
	ok := &isa.Program{State: []string{"v", "spiked", "sigma"}, Params: []string{"spike"}, Consts: []string{"input", "s"}}
	assert.NoError(t, ok.CheckNames())
}

// rand is the documented function: golden values computed apart from this code (MurmurHash3's
// fmix32 written out in Python), so that a change of the generator cannot pass unseen.
func TestRandGolden(t *testing.T) {
	for _, c := range []struct{ a, b, want int32 }{
		{0, 0, 0}, {0, 1, 1364076727}, {1, 1, 1032769583}, {12345, 7, -1812237964},
		{-1, 2147483647, -1837252587}, {-2147483648, -5, 1180956799},
	} {
		assert.Equal(t, c.want, isa.Rand(c.a, c.b), "rand(%d, %d)", c.a, c.b)
		assert.Equal(t, c.want, isa.ALU(isa.OpRand, c.a, c.b, 0, 0))
	}
	assert.Equal(t, "rand", isa.OpRand.String())
}
