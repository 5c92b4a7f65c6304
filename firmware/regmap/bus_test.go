package regmap

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBusCodecs(t *testing.T) {
	spi := SPIXferArgs{Bus: 0, Flags: SPIFlagRead | SPIFlagKeepCS, Length: 6, Tx: []byte{0x9f}}
	got, err := DecodeSPIXferArgs(spi.Append(nil))
	require.NoError(t, err)
	require.Equal(t, spi, got)
	i2c := I2CXferArgs{Addr: 0x40, Read: 2, Write: []byte{1}}
	gi, err := DecodeI2CXferArgs(i2c.Append(nil))
	require.NoError(t, err)
	require.Equal(t, i2c, gi)
	st := Stats{Timesteps: 1, SpikesOut: 2, SpikesIn: 3, NeuronUpdates: 4, SynapticEvents: 5, ThrottleEvents: 6, Reboots: 7,
		RingUsed: [4]uint32{1, 2, 3, 4}, RingSize: [4]uint32{8, 8, 8, 8}, BusyNS: 9}
	b := st.Append(nil)
	require.Len(t, b, StatsSize)
	gs, err := DecodeStats(b)
	require.NoError(t, err)
	require.Equal(t, st, gs)
	checkLayout(t, &StatsLayout, b)

	for name, b := range map[string][]byte{
		"spi short":       {0, 0},
		"spi flags":       SPIXferArgs{Flags: 4, Length: 1}.Append(nil),
		"spi too long":    SPIXferArgs{Length: MaxSPIXfer + 1}.Append(nil),
		"spi tx > length": SPIXferArgs{Length: 1, Tx: []byte{1, 2}}.Append(nil),
	} {
		_, err := DecodeSPIXferArgs(b)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	for name, b := range map[string][]byte{
		"i2c short":   {0},
		"i2c addr":    I2CXferArgs{Addr: 0x80, Read: 1}.Append(nil),
		"i2c nothing": I2CXferArgs{Addr: 0x40}.Append(nil),
		"i2c big":     I2CXferArgs{Addr: 0x40, Read: MaxI2CXfer + 1}.Append(nil),
	} {
		_, err := DecodeI2CXferArgs(b)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	st.RingUsed[2] = 9
	_, err = DecodeStats(st.Append(nil))
	require.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeStats(b[:10])
	require.ErrorIs(t, err, ErrMalformed)

	d, ok := OpSPIXfer.Desc()
	require.True(t, ok, "the bus ops are in Ops")
	require.Equal(t, "SPI_XFER", d.Name)
	require.Equal(t, "NACK", ResultNack.String())
	_, err = SensorFor(RailDDR)
	require.NoError(t, err)
	_, err = SensorFor(Rail(9))
	require.Error(t, err)
}

// checkLayout checks that an encoding agrees with its table: every field's bytes are where
// the layout says (a non-zero value was put in each).
func checkLayout(t *testing.T, l *Layout, b []byte) {
	require.Len(t, b, l.Size)
	for _, f := range l.Fields {
		require.Less(t, f.Off, l.Size, f.Name)
		require.NotZero(t, b[f.Off], "field %s at %d", f.Name, f.Off)
	}
}

func FuzzBusDecoders(f *testing.F) {
	f.Add(SPIXferArgs{Length: 4, Tx: []byte{3, 0, 0, 0}}.Append(nil))
	f.Add(I2CXferArgs{Addr: 0x48, Read: 2, Write: []byte{0}}.Append(nil))
	f.Add(Stats{}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeSPIXferArgs(b); err == nil {
			require.LessOrEqual(t, len(a.Tx), int(a.Length))
			require.Equal(t, b, a.Append(nil))
		}
		if a, err := DecodeI2CXferArgs(b); err == nil {
			require.LessOrEqual(t, a.Addr, uint16(0x7f))
			require.Equal(t, b, a.Append(nil))
		}
		if s, err := DecodeStats(b); err == nil {
			require.Equal(t, b, s.Append(nil))
		}
	})
}
