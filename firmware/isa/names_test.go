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
