package chip_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]chip.Size{
		"prototype": chip.Prototype, "": chip.Prototype, "Full": chip.Full, " full ": chip.Full,
		"4x256": {Cores: 4, NeuronsPerCore: 256}, "2×16": {Cores: 2, NeuronsPerCore: 16},
		"128x8192": chip.Full, "1x1": {Cores: 1, NeuronsPerCore: 1},
	} {
		got, err := chip.ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"big", "3y4", "4x", "x4", "0x4", "4x0", "129x1", "1x8193", "4x256x2", "04x1", "+4x1", "-1x4"} {
		_, err := chip.ParseSize(in)
		require.ErrorIs(t, err, chip.ErrSize, in)
	}
}

func TestSizeHoldsAndCheck(t *testing.T) {
	require.True(t, chip.Full.Holds(chip.Prototype))
	require.False(t, chip.Prototype.Holds(chip.Size{Cores: 9, NeuronsPerCore: 1}))
	require.False(t, chip.Prototype.Holds(chip.Size{Cores: 1, NeuronsPerCore: 1025}))
	require.NoError(t, chip.Prototype.Check())
	require.ErrorIs(t, chip.Size{}.Check(), chip.ErrSize)
	require.ErrorIs(t, chip.Size{Cores: 129, NeuronsPerCore: 1}.Check(), chip.ErrSize)
	require.Equal(t, "8×1024", chip.Prototype.String())
	require.Equal(t, 8192, chip.Prototype.Neurons())
}

func TestFieldNames(t *testing.T) {
	state := []string{"u", "v"}
	for name, want := range map[string]chip.Field{
		"u": {Kind: chip.FieldState, Index: 0}, "v": {Kind: chip.FieldState, Index: 1},
		"a": {Kind: chip.FieldInput}, "input": {Kind: chip.FieldInput},
		"spike": {Kind: chip.FieldSpike}, "s": {Kind: chip.FieldSpike},
	} {
		f, err := chip.ParseField(name, state)
		require.NoError(t, err, name)
		require.Equal(t, want, f, name)
	}
	require.Equal(t, "v", chip.Field{Kind: chip.FieldState, Index: 1}.Name(state))
	require.Equal(t, "a", chip.Field{Kind: chip.FieldInput}.Name(state))
	require.Equal(t, "spike", chip.Field{Kind: chip.FieldSpike}.Name(state))
	require.Equal(t, "state[7]", chip.Field{Kind: chip.FieldState, Index: 7}.Name(state))
	_, err := chip.ParseField("w", state)
	require.ErrorIs(t, err, chip.ErrField)
	require.ErrorContains(t, err, "state u, v")
	for _, n := range []string{"a", "input", "spike", "s"} {
		require.True(t, chip.ReservedField(n), n)
	}
	require.False(t, chip.ReservedField("v"))
}
