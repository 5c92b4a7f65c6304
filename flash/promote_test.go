package flash_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

func TestPromoteAndInvalidate(t *testing.T) {
	m, s := newFlash(t)
	_, err := s.Write(flash.A, 2, firmware(1, 3000))
	require.NoError(t, err)
	_, err = s.Write(flash.B, 3, firmware(2, 3000))
	require.NoError(t, err)
	st, _ := s.Boot()
	require.Equal(t, flash.B, st.Slot)
	h, err := s.Promote(flash.A)
	require.NoError(t, err)
	require.Equal(t, uint32(3), h.Seq)
	st, _ = s.Boot()
	require.Equal(t, flash.A, st.Slot)
	require.Equal(t, regmap.FWVersion(2), st.Header.Version)
	// A cut at every operation of promoting B: B's new header is either wholly in (B boots)
	// or B is invalid or unchanged (A boots); A is never lost.
	for k := 0; ; k++ {
		m.PowerOn()
		before := m.Bytes()
		m.CutPowerAfter(k, true)
		_, err := s.Promote(flash.B)
		m.PowerOn()
		st, ok := s.Boot()
		require.True(t, ok)
		if err == nil {
			require.Equal(t, flash.B, st.Slot)
			// Put the flash back as it was for the rest of the test.
			require.NoError(t, m.Erase(0, len(before)))
			require.NoError(t, m.Program(0, before))
			break
		}
		require.Contains(t, []flash.Slot{flash.A, flash.B}, st.Slot, "cut after %d", k)
		if st.Slot == flash.A {
			require.Equal(t, regmap.FWVersion(2), st.Header.Version)
		}
		require.NoError(t, m.Erase(0, len(before)))
		require.NoError(t, m.Program(0, before))
	}
	require.NoError(t, s.Invalidate(flash.B))
	st, _ = s.Boot()
	require.Equal(t, flash.A, st.Slot)
	_, err = s.Promote(flash.B)
	require.ErrorIs(t, err, flash.ErrInvalid)
	_, err = s.Promote(flash.Golden)
	require.ErrorIs(t, err, flash.ErrRange)
	require.ErrorIs(t, s.Invalidate(flash.Golden), flash.ErrProtected)
	require.NoError(t, s.Invalidate(flash.A))
	st, _ = s.Boot()
	require.Equal(t, flash.Golden, st.Slot)
}
