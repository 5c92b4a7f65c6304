package driver

import (
	"testing"

	"github.com/lrchip/lrchip/chip"
	"github.com/stretchr/testify/require"
)

func TestSmokeEmu(t *testing.T) {
	ctx := ctxT(t)
	d, err := Open(ctx, "emu:", Opts{})
	require.NoError(t, err)
	defer d.Close()
	t.Log(d, d.Info())
	res, err := d.LoadBytes(ctx, encode(t, relayImage(t, 4)))
	require.NoError(t, err)
	t.Log(res)
	require.NoError(t, d.Inject(ctx, []chip.Spike{{Port: 0, Neuron: 1, Payload: 5}, {Port: 0, Neuron: 3, Payload: 7}}))
	ts, err := runSteps(d, ctx, 3)
	require.NoError(t, err)
	require.Equal(t, uint64(3), ts)
	out, err := read(d, ctx)
	require.NoError(t, err)
	t.Logf("%+v", out)
	s, err := d.Sensors(ctx)
	require.NoError(t, err)
	t.Logf("%+v", s)
}
