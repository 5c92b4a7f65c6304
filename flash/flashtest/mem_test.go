package flashtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/flash"
)

func TestMemIsNOR(t *testing.T) {
	TestDevice(t, func(t *testing.T) flash.Device {
		m, err := NewMem(4*4096, 4096)
		require.NoError(t, err)
		return m
	})
}

func TestNewMem(t *testing.T) {
	for _, tc := range []struct {
		size, sector int
		ok           bool
	}{
		{16384, 4096, true}, {4096, 4096, true}, {16384, 1024, true},
		{0, 4096, false}, {16384, 0, false}, {16384, 3000, false}, {10000, 4096, false}, {-4096, 4096, false}, {2 << 30, 4096, false},
	} {
		m, err := NewMem(tc.size, tc.sector)
		if !tc.ok {
			require.Error(t, err, "%d/%d", tc.size, tc.sector)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, flash.Geometry{Size: tc.size, SectorSize: tc.sector}, m.Geometry())
	}
}

func TestPowerCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		torn bool
	}{
		{"clean", false},
		{"torn", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMem(4*4096, 2048)
			require.NoError(t, err)
			require.NoError(t, m.Program(0, make([]byte, 3*4096)))
			m.CutPowerAfter(1, tc.torn)
			require.NoError(t, m.Read(0, make([]byte, 4)), "op 1 applies")
			require.Equal(t, 1, m.Ops())
			require.False(t, m.PoweredOff())
			err = m.Erase(4096, 8192) // op 2: cut
			require.ErrorIs(t, err, ErrPowerCut)
			require.True(t, m.PoweredOff())
			require.ErrorIs(t, m.Program(0, make([]byte, 8)), ErrPowerCut, "nothing applies after the cut")
			require.ErrorIs(t, m.Read(0, make([]byte, 8)), ErrPowerCut)
			m.PowerOn()
			b := m.Bytes()
			if tc.torn {
				// Half of the erase applied: [4096, 8192) is 0xFF, [8192, 12288) still 0.
				require.Equal(t, byte(0xff), b[4096])
				require.Equal(t, byte(0xff), b[8191])
				require.Equal(t, byte(0x00), b[8192])
			} else {
				require.Equal(t, byte(0x00), b[4096], "a clean cut applies nothing of the op")
				require.Equal(t, byte(0x00), b[8192])
			}
			require.NoError(t, m.Read(0, make([]byte, 8)), "power is back")
		})
	}

	t.Run("torn program", func(t *testing.T) {
		m, err := NewMem(4096, 4096)
		require.NoError(t, err)
		m.CutPowerAfter(0, true)
		require.ErrorIs(t, m.Program(0, []byte{0, 0, 0, 0}), ErrPowerCut)
		m.PowerOn()
		require.Equal(t, []byte{0, 0, 0xff, 0xff}, m.Bytes()[:4])
	})
	t.Run("corrupt", func(t *testing.T) {
		m, err := NewMem(4096, 4096)
		require.NoError(t, err)
		m.Corrupt(10)
		m.Corrupt(-1)
		m.Corrupt(4096)
		require.Equal(t, byte(0xfe), m.Bytes()[10])
		require.Zero(t, m.Ops(), "corruption is no operation")
	})
}
