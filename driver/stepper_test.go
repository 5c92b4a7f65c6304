package driver

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
)

// TestStepperMatchesTheChip runs the same network and input on an emu.Chip (LoadImage) and
// through a Stepper over an emulator process, port by port and probe by probe.
func TestStepperMatchesTheChip(t *testing.T) {
	s := startServer(t)
	ctx := ctxT(t)
	img := lifImage(t, 16, 48, 4)
	img.Pops[1].Segments = []image.Segment{{Core: 1, Start: 20, Count: 28}, {Core: 1, Start: 0, Count: 20}} // two blocks
	chip, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	require.NoError(t, chip.LoadImage(img))
	d, err := Open(ctx, s.uri, Opts{})
	require.NoError(t, err)
	st := NewStepper(ctx, d)
	defer st.Close()
	require.NoError(t, st.LoadImage(img))
	type stepper interface {
		Inject(port, neuron int, payload int32) error
		Output(port int, dst []emu.Spike) ([]emu.Spike, error)
		AddProbe(core int, f emu.Field, neurons []int) (int, error)
		ProbeData(probe int) ([][]int32, error)
	}
	for _, c := range []stepper{chip, st} {
		_, err := c.AddProbe(1, emu.Field{Kind: emu.FieldState, Index: 1}, []int{0, 7, 40})
		require.NoError(t, err)
		_, err = c.AddProbe(0, emu.Field{Kind: emu.FieldInput}, []int{3})
		require.NoError(t, err)
	}
	in := randomInput(16, 60, 0.3, 5)
	for step := 1; step <= 60; step++ {
		for _, sp := range in {
			if sp.Timestep == uint64(step) {
				require.NoError(t, chip.Inject(sp.Port, sp.Neuron, sp.Payload))
				require.NoError(t, st.Inject(sp.Port, sp.Neuron, sp.Payload))
			}
		}
		chip.Step()
		require.NoError(t, st.Step())
		for k := 0; k < 3; k++ {
			want, err := chip.Output(k, nil)
			require.NoError(t, err)
			got, err := st.Output(k, nil)
			require.NoError(t, err)
			require.Equal(t, want, got, "step %d, port %d", step, k)
		}
	}
	_, err = st.Output(3, nil)
	require.Error(t, err)
	for p := 0; p < 2; p++ {
		want, _ := chip.ProbeData(p)
		got, _ := st.ProbeData(p)
		require.Equal(t, want, got, "probe %d", p)
		require.Len(t, got, 60)
	}
}
