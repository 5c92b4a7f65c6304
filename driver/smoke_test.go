package driver

import (
	"testing"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/stretchr/testify/require"
)

// TestSmokeEmu is the driver's whole round on the in-process board: identity, a load, spikes
// in, a run, spikes out (each core doubles the payload: see relayImage), sensors.
func TestSmokeEmu(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	info := d.Info()
	require.Equal(t, "emu:", info.URI)
	require.Equal(t, chip.Prototype, d.Size())
	require.True(t, info.Features.Has(regmap.FeatureGraded|regmap.FeatureProbes))
	res, err := d.LoadBytes(ctx, encode(t, relayImage(t, 4)))
	require.NoError(t, err)
	require.Equal(t, LoadResult{Inputs: 1, Outputs: 2, Cores: 2, Bytes: res.Bytes}, res)
	require.NoError(t, d.Inject(ctx, []chip.Spike{{Port: 0, Neuron: 1, Payload: 5}, {Port: 0, Neuron: 3, Payload: 7}}))
	ts, err := runSteps(d, ctx, 3)
	require.NoError(t, err)
	require.Equal(t, uint64(3), ts)
	out, err := read(d, ctx)
	require.NoError(t, err)
	require.Equal(t, []chip.Spike{{Step: 2, Port: 0, Neuron: 1, Payload: 10}, {Step: 2, Port: 0, Neuron: 3, Payload: 14},
		{Step: 3, Port: 1, Neuron: 1, Payload: 20}, {Step: 3, Port: 1, Neuron: 3, Payload: 28}}, out.Spikes)
	s, err := d.Sensors(ctx)
	require.NoError(t, err)
	require.Len(t, s.Rails, 3)
	require.Positive(t, s.Total)
	require.Positive(t, s.Temperature)
}
