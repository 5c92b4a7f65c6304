package health

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/register"
)

func TestReadAndRates(t *testing.T) {
	ctx := context.Background()
	b, err := board.New(board.Opts{})
	require.NoError(t, err)
	defer b.Close()
	l, err := register.Attach(ctx, b, driver.Opts{}, nil)
	require.NoError(t, err)
	d, err := driver.OpenLink(ctx, "emu:", l, driver.Opts{})
	require.NoError(t, err)
	defer d.Close()
	s, err := Read(ctx, d)
	require.NoError(t, err)
	require.Len(t, s.Rails, 3)
	require.Equal(t, []string{"core", "io", "ddr"}, []string{s.Rails[0].Rail, s.Rails[1].Rail, s.Rails[2].Rail})
	require.Equal(t, s.Rails[0].Power+s.Rails[1].Power+s.Rails[2].Power, s.Total)
	require.Positive(t, s.Temperature)
	require.Len(t, s.Stats.Rings, 4)

	a := Sample{Time: time.Unix(10, 0), Stats: driver.Stats{Timesteps: 100, SpikesOut: 10}}
	c := Sample{Time: time.Unix(12, 0), Stats: driver.Stats{Timesteps: 300, SpikesOut: 50}}
	require.Equal(t, Rates{Steps: 100, Spikes: 20}, RatesBetween(a, c))
	require.Equal(t, Rates{}, RatesBetween(c, a), "counters went back: a reboot")

	b.FaultSensor(0x44, board.SensorAbsent)
	_, err = Read(ctx, d)
	require.ErrorIs(t, err, ErrSensor)
	require.ErrorIs(t, err, driver.ErrNack)
	require.Contains(t, err.Error(), "rail ddr")
}
