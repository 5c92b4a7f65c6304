package board

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func TestRegisterAccessHasMMIOSemantics(t *testing.T) {
	b, err := New(Opts{})
	require.NoError(t, err)
	defer b.Close()
	for _, tc := range []struct {
		name   string
		off, v uint32
		pre    func()
		want   uint32
		effect Effect
		bad    bool
	}{
		{name: "RW stores", off: regmap.RegScratch, v: 0xabcd, want: 0xabcd},
		{name: "RO ignores", off: regmap.RegMagic, v: 0, want: regmap.Magic},
		{name: "W1C clears", off: regmap.RegIRQStatus, v: regmap.IRQCompletion, pre: func() { b.regs.store(regmap.RegIRQStatus, regmap.IRQAll) }, want: regmap.IRQOutput | regmap.IRQError},
		{name: "W1S sets and wakes", off: regmap.RegDoorbell, v: 1 << regmap.RingCmd, pre: func() { b.regs.store(regmap.RegDoorbell, 1<<regmap.RingOut) }, want: 1<<regmap.RingCmd | 1<<regmap.RingOut, effect: EffectWake},
		{name: "arming with nothing pending", off: regmap.RegIRQMask, v: regmap.IRQAll, pre: func() { b.regs.store(regmap.RegIRQStatus, 0) }, want: regmap.IRQAll},
		{name: "arming with a cause pending interrupts and disarms", off: regmap.RegIRQMask, v: regmap.IRQAll, pre: func() { b.regs.store(regmap.RegIRQStatus, regmap.IRQOutput) }, want: 0, effect: EffectInterrupt},
		{name: "arming another cause", off: regmap.RegIRQMask, v: regmap.IRQError, pre: func() { b.regs.store(regmap.RegIRQStatus, regmap.IRQOutput) }, want: regmap.IRQError},
		{name: "W1S of nothing", off: regmap.RegControl, v: 0, want: 0},
		{name: "no register", off: 0x0F0, v: 7, want: 0},
		{name: "unaligned", off: 0x2, v: 7, bad: true},
		{name: "outside", off: regmap.BARSize, v: 7, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pre != nil {
				tc.pre()
			}
			e, ok := b.WriteReg(tc.off, tc.v)
			require.Equal(t, !tc.bad, ok)
			require.Equal(t, tc.effect, e)
			got, ok := b.ReadReg(tc.off)
			require.Equal(t, !tc.bad, ok)
			if !tc.bad {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestRegisterFileIsReadOnlyForTheHost(t *testing.T) {
	b, err := New(Opts{})
	require.NoError(t, err)
	defer b.Close()
	f, err := b.RegisterFile()
	require.NoError(t, err)
	defer f.Close()
	_, err = unix.Mmap(int(f.Fd()), 0, regmap.BARSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.Error(t, err)
	mem, err := unix.Mmap(int(f.Fd()), 0, regmap.BARSize, unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(mem)
	b.WriteReg(regmap.RegScratch, 0x55aa)
	require.Equal(t, uint32(0x55aa), le32(mem[regmap.RegScratch:]))
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func TestResetFunctionRestoresPowerOn(t *testing.T) {
	b, err := New(Opts{})
	require.NoError(t, err)
	defer b.Close()
	for _, off := range []uint32{regmap.RegScratch, regmap.RegHostVersion, regmap.RegIRQMask, regmap.RingBaseLo(regmap.RingOut), regmap.RegBulkSize} {
		b.WriteReg(off, 0x1000)
	}
	b.RefuseAttach(regmap.ResultRange)
	b.regs.setStatus(regmap.StatusAttached|regmap.StatusLoaded, true)
	b.t, b.loaded = 77, true
	b.ResetFunction()
	for _, off := range []uint32{regmap.RegScratch, regmap.RegHostVersion, regmap.RegIRQMask, regmap.RingBaseLo(regmap.RingOut), regmap.RegBulkSize, regmap.RegErrorCode, regmap.RegTimestepLo} {
		v, _ := b.ReadReg(off)
		require.Zero(t, v, "register %#x", off)
	}
	st, _ := b.ReadReg(regmap.RegStatus)
	require.Equal(t, regmap.StatusReady, st&^regmap.StatusGolden)
	require.False(t, b.loaded)
	require.Zero(t, b.t)
	m, _ := b.ReadReg(regmap.RegMagic)
	require.Equal(t, regmap.Magic, m)
}
