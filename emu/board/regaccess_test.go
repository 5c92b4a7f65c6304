package board

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func TestRegisterPairsAndTransportRegs(t *testing.T) {
	b, err := New(Opts{Serial: 1<<32 | 5})
	require.NoError(t, err)
	defer b.Close()
	s, ok := b.ReadReg64(regmap.RegSerialLo)
	require.True(t, ok)
	assert.Equal(t, uint64(1<<32|5), s)
	for _, off := range []uint32{regmap.RegSerialHi, 2, regmap.BARSize} {
		_, ok = b.ReadReg64(off)
		assert.False(t, ok, "%#x: a pair starts 8-byte aligned in the register file", off)
	}
	b.SetTransportRegs(TransportRegs{RingSize: [regmap.NumRings]uint32{4096, 8192, 4096, 1 << 20}, RingBase: [regmap.NumRings]uint64{0, 1 << 40}})
	v, _ := b.ReadReg(regmap.RingSize(regmap.RingOut))
	assert.Equal(t, uint32(1<<20), v)
	s, _ = b.ReadReg64(regmap.RingBaseLo(regmap.RingCpl))
	assert.Equal(t, uint64(1<<40), s)
	v, _ = b.ReadReg(regmap.RegBulkSize)
	assert.Zero(t, v)
}
