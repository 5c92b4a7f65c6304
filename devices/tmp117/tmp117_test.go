package tmp117

import (
	"testing"

	"github.com/stretchr/testify/require"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

func rd(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: 0x48, W: []byte{reg}, R: []byte{byte(v >> 8), byte(v)}}
}

func wr(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: 0x48, W: []byte{reg, byte(v >> 8), byte(v)}}
}

func TestSense(t *testing.T) {
	for _, tc := range []struct {
		raw  uint16
		want physic.Temperature
		err  error
	}{
		{0x0000, physic.ZeroCelsius, nil},
		{0x1900, physic.ZeroCelsius + 50*physic.Celsius, nil},         // 6400 × 7.8125 m°C
		{0xff80, physic.ZeroCelsius - physic.Celsius, nil},            // -128
		{0x0001, physic.ZeroCelsius + 7812500*physic.NanoKelvin, nil}, // one count
		{0x8000, 0, ErrNotReady},                                      // before the first conversion
		{0x4b00, physic.ZeroCelsius + 150*physic.Celsius, nil},        // the top of the range
		{0x4b01, 0, ErrRange},                                         // above it
		{0xe480, physic.ZeroCelsius - 55*physic.Celsius, nil},         // the bottom of the range
		{0xe47f, 0, ErrRange},                                         // below it
	} {
		p := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{rd(RegDeviceID, 0x1117), wr(RegConfig, 4<<7|1<<5), rd(RegTemp, tc.raw)}}
		d, err := New(p, nil)
		require.NoError(t, err)
		got, err := d.Sense()
		if tc.err != nil {
			require.ErrorIs(t, err, tc.err, "%#04x", tc.raw)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%#04x", tc.raw)
		require.NoError(t, p.Close())
	}
}

func TestLimitsAndAlerts(t *testing.T) {
	p := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{rd(RegDeviceID, 0x0117), wr(RegConfig, 2<<7|3<<5),
		wr(RegLow, 0x0a00), wr(RegHigh, 0x2a80), rd(RegConfig, ConfigHighAlert|2<<7)}}
	d, err := New(p, &Opts{Average: 64, Cycle: 2})
	require.NoError(t, err)
	require.NoError(t, d.SetLimits(physic.ZeroCelsius+20*physic.Celsius, physic.ZeroCelsius+85*physic.Celsius))
	hi, lo, err := d.Alerts()
	require.NoError(t, err)
	require.True(t, hi)
	require.False(t, lo)
	require.NoError(t, p.Close())
	require.ErrorIs(t, d.SetLimits(physic.ZeroCelsius+90*physic.Celsius, physic.ZeroCelsius), ErrConfig)
	require.ErrorIs(t, d.SetLimits(physic.ZeroCelsius, physic.ZeroCelsius+1000*physic.Celsius), ErrConfig)
	require.Contains(t, d.String(), "TMP117")
}

func TestRefusals(t *testing.T) {
	p := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{rd(RegDeviceID, 0x0190)}}
	_, err := New(p, nil)
	require.ErrorIs(t, err, ErrNotTMP117)
	_, err = New(p, &Opts{Average: 3})
	require.ErrorIs(t, err, ErrConfig)
	_, err = New(&i2ctest.Playback{DontPanic: true}, nil)
	require.Error(t, err, "nothing answers")
	for _, raw := range []uint16{0, 1, 0x7fff, 0x8001, 0xffff} {
		back, ok := FromTemperature(ToTemperature(raw))
		require.True(t, ok)
		require.Equal(t, raw, back)
	}
}
