package board

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func TestRegisterAccessSemantics(t *testing.T) {
	b, err := New(Opts{Serial: 1<<32 | 5})
	require.NoError(t, err)
	defer b.Close()
	v, err := b.ReadReg(regmap.RegMagic)
	require.NoError(t, err)
	assert.Equal(t, regmap.Magic, v)
	s, err := b.ReadReg64(regmap.RegSerialLo)
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<32|5), s)

	for _, tc := range []struct {
		name      string
		off       uint32
		before, v uint32
		want      uint32
	}{
		{"RW stores", regmap.RegScratch, 0xffff, 0x1234, 0x1234},
		{"RO ignored", regmap.RegMagic, regmap.Magic, 0, regmap.Magic},
		{"W1S sets", regmap.RegDoorbell, 0b0001, 0b0100, 0b0101},
		{"W1C clears", regmap.RegIRQStatus, 0b0111, 0b0010, 0b0101},
		{"unnamed offset ignored", 0xF00, 0, 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.regs.store(tc.off, tc.before)
			require.NoError(t, b.WriteReg(tc.off, tc.v))
			got, err := b.ReadReg(tc.off)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, off := range []uint32{2, regmap.BARSize, 0xFFFF_FFFC} {
		_, err := b.ReadReg(off)
		assert.ErrorIs(t, err, ErrRegister, "%#x", off)
		assert.ErrorIs(t, b.WriteReg(off, 1), ErrRegister, "%#x", off)
	}
	_, err = b.ReadReg64(regmap.RegSerialHi)
	assert.ErrorIs(t, err, ErrRegister, "a pair starts 8-byte aligned")

	b.SetTransportRegs(TransportRegs{RingSize: [regmap.NumRings]uint32{4096, 8192, 4096, 1 << 20}, RingBase: [regmap.NumRings]uint64{0, 1 << 40}})
	v, _ = b.ReadReg(regmap.RingSize(regmap.RingOut))
	assert.Equal(t, uint32(1<<20), v)
	s, _ = b.ReadReg64(regmap.RingBaseLo(regmap.RingCpl))
	assert.Equal(t, uint64(1<<40), s)
	v, _ = b.ReadReg(regmap.RegBulkSize)
	assert.Zero(t, v)
}
