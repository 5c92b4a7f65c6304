package regmap

import (
	"encoding/binary"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegisterFileIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for i, r := range Registers {
		assert.Zero(t, r.Offset%4, "%s is not 4-byte aligned", r.Name)
		assert.Less(t, r.Offset, uint32(BARSize), r.Name)
		assert.False(t, seen[r.Name], "duplicate %s", r.Name)
		seen[r.Name] = true
		assert.NotZero(t, r.Access, r.Name)
		assert.NotEmpty(t, r.Doc, r.Name)
		if i > 0 {
			assert.Greater(t, r.Offset, Registers[i-1].Offset, "%s is not after %s", r.Name, Registers[i-1].Name)
		}
		var used uint32
		for _, f := range r.Fields {
			require.True(t, f.Width > 0 && f.Lsb >= 0 && f.Lsb+f.Width <= 32, "%s.%s", r.Name, f.Name)
			assert.Zero(t, used&f.Mask(), "%s.%s overlaps", r.Name, f.Name)
			used |= f.Mask()
		}
	}
	for _, pair := range [][2]uint32{{RegTimestepLo, RegTimestepHi}, {RegSerialLo, RegSerialHi}, {RingBaseLo(RingOut), RingBaseHi(RingOut)}} {
		assert.Zero(t, pair[0]%8, "64-bit pair at %#x is not 8-byte aligned", pair[0])
		assert.Equal(t, pair[0]+4, pair[1])
	}
	r, ok := RegisterAt(RegStatus)
	require.True(t, ok)
	assert.Equal(t, "STATUS", r.Name)
	_, ok = RegisterAt(0xffc)
	assert.False(t, ok)
	assert.Equal(t, "LRCH", string(binary.LittleEndian.AppendUint32(nil, Magic)))
}

func allLayouts() []*Layout {
	ls := []*Layout{&SpikeLayout, &RailLayout, &SlotLayout, &SlotHeaderLayout, &HelloLayout, &HelloReplyLayout}
	for _, r := range RecordTypes {
		ls = append(ls, r.Layout)
	}
	for _, o := range Ops {
		if o.Args != nil {
			ls = append(ls, o.Args)
		}
		if o.Result != nil {
			ls = append(ls, o.Result)
		}
	}
	return ls
}

// fieldSize returns the size of a field type: u16, u32[4], u8[16]...
func fieldSize(t *testing.T, typ string) int {
	base, n := typ, 1
	if i := strings.IndexByte(typ, '['); i >= 0 {
		base = typ[:i]
		var err error
		n, err = strconv.Atoi(strings.TrimSuffix(typ[i+1:], "]"))
		require.NoError(t, err, typ)
	}
	bits, err := strconv.Atoi(base[1:])
	require.NoError(t, err, typ)
	require.Contains(t, "ui", base[:1], typ)
	return bits / 8 * n
}

func TestLayoutsAreConsistent(t *testing.T) {
	names := map[string]*Layout{}
	for _, l := range allLayouts() {
		if prev, ok := names[l.Name]; ok {
			require.Same(t, prev, l, "two layouts named %s", l.Name)
		}
		names[l.Name] = l
		end := 0
		for _, f := range l.Fields {
			sz := fieldSize(t, f.Type)
			assert.Equal(t, end, f.Off, "%s.%s: fields must be contiguous", l.Name, f.Name)
			assert.Zero(t, f.Off%min(sz, 8), "%s.%s is not aligned", l.Name, f.Name)
			end = f.Off + sz
		}
		assert.Equal(t, l.Size, end, "%s: size", l.Name)
		assert.Zero(t, l.Size%4, "%s: size is not a multiple of 4", l.Name)
	}
}

// field reads a field of a layout from b.
func field(t *testing.T, l *Layout, name string, b []byte) uint64 {
	for _, f := range l.Fields {
		if f.Name == name {
			switch fieldSize(t, f.Type) {
			case 2:
				return uint64(le.Uint16(b[f.Off:]))
			case 4:
				return uint64(le.Uint32(b[f.Off:]))
			case 8:
				return le.Uint64(b[f.Off:])
			}
		}
	}
	t.Fatalf("%s has no field %s", l.Name, name)
	return 0
}

// TestEncodersFollowTheTables encodes a value of every layout with distinct field values
// and reads each field back at the offset its table gives.
func TestEncodersFollowTheTables(t *testing.T) {
	b := make([]byte, CommandSize(3))
	PutCommand(b, Command{Tag: 0x11223344, Op: OpRun, Flags: CmdFlagQuiet, Args: []byte{7, 8, 9}})
	assert.Equal(t, uint64(0x11223344), field(t, &CommandLayout, "tag", b))
	assert.Equal(t, uint64(OpRun), field(t, &CommandLayout, "op", b))
	assert.Equal(t, uint64(CmdFlagQuiet), field(t, &CommandLayout, "flags", b))
	assert.Equal(t, []byte{7, 8, 9}, b[CommandLayout.Size:])

	b = make([]byte, CompletionSize(2))
	PutCompletion(b, Completion{Tag: 5, Op: OpLoadEnd, Result: ResultVerify, Timestep: 1 << 40, Data: []byte("ab")})
	assert.Equal(t, uint64(5), field(t, &CompletionLayout, "tag", b))
	assert.Equal(t, uint64(OpLoadEnd), field(t, &CompletionLayout, "op", b))
	assert.Equal(t, uint64(ResultVerify), field(t, &CompletionLayout, "result", b))
	assert.Equal(t, uint64(1<<40), field(t, &CompletionLayout, "timestep", b))

	b = make([]byte, EventSize)
	PutEvent(b, Event{Code: EventThrottle, Arg: 3, Timestep: 99, Value: -7})
	assert.Equal(t, uint64(EventThrottle), field(t, &EventLayout, "code", b))
	assert.Equal(t, uint64(3), field(t, &EventLayout, "arg", b))
	assert.Equal(t, uint64(99), field(t, &EventLayout, "timestep", b))
	assert.Equal(t, int64(-7), int64(field(t, &EventLayout, "value", b)))

	b = make([]byte, SpikesSize(2))
	PutSpikes(b, 3, 42, []Spike{{1, -5}, {9, 1}})
	assert.Equal(t, uint64(3), field(t, &SpikesLayout, "port", b))
	assert.Equal(t, uint64(2), field(t, &SpikesLayout, "count", b))
	assert.Equal(t, uint64(42), field(t, &SpikesLayout, "timestep", b))
	s1 := b[SpikesLayout.Size+SpikeLayout.Size:]
	assert.Equal(t, uint64(9), field(t, &SpikeLayout, "neuron", s1))
	assert.Equal(t, uint64(1), field(t, &SpikeLayout, "payload", s1))

	b = make([]byte, ProbeSize(1))
	PutProbe(b, 4, 8, []int32{-1})
	assert.Equal(t, uint64(4), field(t, &ProbeLayout, "probe", b))
	assert.Equal(t, uint64(1), field(t, &ProbeLayout, "count", b))
	assert.Equal(t, uint64(8), field(t, &ProbeLayout, "timestep", b))

	b = LoadEndArgs{Size: 1 << 33, CRC32: 0xabcd, Flags: LoadFlagDryRun}.Append(nil)
	assert.Equal(t, uint64(1<<33), field(t, &LoadEndLayout, "size", b))
	assert.Equal(t, uint64(0xabcd), field(t, &LoadEndLayout, "crc32", b))
	assert.Equal(t, uint64(LoadFlagDryRun), field(t, &LoadEndLayout, "flags", b))

	b = LoadResult{1, 2, 3, 4}.Append(nil)
	for i, n := range []string{"inputs", "outputs", "probes", "cores"} {
		assert.Equal(t, uint64(i+1), field(t, &LoadResultLayout, n, b))
	}
	b = MemReadArgs{Core: 1, Offset: 2, Length: 3}.Append(nil)
	for i, n := range []string{"core", "offset", "length", "reserved"} {
		assert.Equal(t, uint64((i+1)%4), field(t, &MemReadLayout, n, b))
	}
	b = AppendDataArgsHeader(nil, OpLoadData, 0, 1<<35)
	assert.Equal(t, uint64(1<<35), field(t, &LoadDataLayout, "offset", b))
	b = AppendDataArgsHeader(nil, OpMemWrite, 6, 7)
	assert.Equal(t, uint64(6), field(t, &MemWriteLayout, "core", b))
	assert.Equal(t, uint64(7), field(t, &MemWriteLayout, "offset", b))
	b = AppendDataArgsHeader(nil, OpFlashData, 2, 9)
	assert.Equal(t, uint64(2), field(t, &FlashDataLayout, "slot", b))
	assert.Equal(t, uint64(9), field(t, &FlashDataLayout, "offset", b))

	b = Sensors{TemperatureMC: -3, Throttle: 1, ClockKHz: 100, StepNS: 77, Rails: []RailReading{{RailDDR, 5, -6, 7}}}.Append(nil)
	assert.Equal(t, int32(-3), int32(field(t, &SensorsLayout, "temperature", b)))
	assert.Equal(t, uint64(1), field(t, &SensorsLayout, "throttle", b))
	assert.Equal(t, uint64(100), field(t, &SensorsLayout, "clock_khz", b))
	assert.Equal(t, uint64(1), field(t, &SensorsLayout, "rails", b))
	assert.Equal(t, uint64(77), field(t, &SensorsLayout, "step_ns", b))
	r := b[SensorsLayout.Size:]
	assert.Equal(t, uint64(RailDDR), field(t, &RailLayout, "rail", r))
	assert.Equal(t, uint64(5), field(t, &RailLayout, "bus_uv", r))
	assert.Equal(t, int32(-6), int32(field(t, &RailLayout, "current_ua", r)))
	assert.Equal(t, uint64(7), field(t, &RailLayout, "power_uw", r))

	b = FlashInfo{Booted: 2, SlotSize: 4096, Slots: []SlotInfo{{1, 2, 3, 4, 5, 6}}}.Append(nil)
	assert.Equal(t, uint64(2), field(t, &FlashInfoLayout, "booted", b))
	assert.Equal(t, uint64(1), field(t, &FlashInfoLayout, "slots", b))
	assert.Equal(t, uint64(4096), field(t, &FlashInfoLayout, "slot_size", b))
	for i, n := range []string{"slot", "flags", "version", "seq", "size", "crc32"} {
		assert.Equal(t, uint64(i+1), field(t, &SlotLayout, n, b[FlashInfoLayout.Size:]))
	}
	b = FlashBeginArgs{1, 2, 3, 4}.Append(nil)
	for i, n := range []string{"slot", "size", "version", "crc32"} {
		assert.Equal(t, uint64(i+1), field(t, &FlashBeginLayout, n, b))
	}
	b = AppendFlashEndArgs(nil, 2)
	assert.Equal(t, uint64(2), field(t, &FlashEndLayout, "slot", b))

	b = ProbeAddArgs{Core: 3, Kind: ProbeState, Index: 2, Neurons: []uint32{9}}.Append(nil)
	assert.Equal(t, uint64(3), field(t, &ProbeAddLayout, "core", b))
	assert.Equal(t, uint64(ProbeState), field(t, &ProbeAddLayout, "kind", b))
	assert.Equal(t, uint64(2), field(t, &ProbeAddLayout, "index", b))
	assert.Equal(t, uint64(1), field(t, &ProbeAddLayout, "count", b))
	pa, err := DecodeProbeAddArgs(b)
	require.NoError(t, err)
	assert.Equal(t, []uint32{9}, pa.Neurons)
	b = AppendProbeAddResult(nil, 5)
	assert.Equal(t, uint64(5), field(t, &ProbeAddResultLayout, "probe", b))

	b = make([]byte, SlotHeaderSize)
	SlotHeader{Slot: 2, Version: 3, Seq: 4, Size: 5, CRC32: 6}.Put(b)
	assert.Equal(t, uint64(SlotMagic), field(t, &SlotHeaderLayout, "magic", b))
	assert.Equal(t, uint64(SlotHeaderVersion), field(t, &SlotHeaderLayout, "version", b))
	for i, n := range []string{"slot", "fw_version", "seq", "size", "crc32"} {
		assert.Equal(t, uint64(i+2), field(t, &SlotHeaderLayout, n, b))
	}

	b = AppendLoadDMAArgs(nil, 1<<33, 5)
	assert.Equal(t, uint64(1<<33), field(t, &LoadDMALayout, "offset", b))
	assert.Equal(t, uint64(5), field(t, &LoadDMALayout, "length", b))
	off, n, err := DecodeLoadDMAArgs(b)
	require.NoError(t, err)
	assert.Equal(t, [2]uint64{1 << 33, 5}, [2]uint64{off, n})

	b = Hello{Version: ProtocolVersion, Flags: HelloQuery, PID: 77, RingCap: [4]uint32{1, 2, 4, 8}, Bulk: 8192}.Append(nil)
	assert.Equal(t, uint64(8192), field(t, &HelloLayout, "bulk", b))
	assert.Len(t, b, HelloLayout.Size)
	assert.Equal(t, uint64(HelloMagic), field(t, &HelloLayout, "magic", b))
	assert.Equal(t, uint64(ProtocolVersion), field(t, &HelloLayout, "version", b))
	assert.Equal(t, uint64(HelloQuery), field(t, &HelloLayout, "flags", b))
	assert.Equal(t, uint64(77), field(t, &HelloLayout, "pid", b))
	b = HelloReply{Status: SetupBusy, Version: 2, BoardID: 3, Serial: 4, FWVersion: 5, HolderPID: 6, HolderComm: "lrctl", NFds: 8, Cores: 9, Neurons: 10, Attached: true}.Append(nil)
	assert.Len(t, b, HelloReplyLayout.Size)
	for i, n := range []string{"status", "version", "board_id", "serial", "fw_version", "holder_pid"} {
		assert.Equal(t, uint64(i+1), field(t, &HelloReplyLayout, n, b))
	}
	for i, n := range []string{"nfds", "cores", "neurons", "attached"} {
		assert.Equal(t, uint64([]int{8, 9, 10, 1}[i]), field(t, &HelloReplyLayout, n, b))
	}
	assert.Equal(t, "lrctl", strings.TrimRight(string(b[32:48]), "\x00"))
}

func TestRoundTrips(t *testing.T) {
	b := make([]byte, SpikesSize(3))
	in := []Spike{{0, 1}, {1023, -(1 << 23)}, {7, 1<<23 - 1}}
	PutSpikes(b, 2, 5, in)
	h, out, err := DecodeSpikes(b, nil)
	require.NoError(t, err)
	assert.Equal(t, SpikesHeader{Port: 2, Count: 3, Timestep: 5}, h)
	assert.Equal(t, in, out)

	b = make([]byte, ProbeSize(2))
	PutProbe(b, 1, 9, []int32{-1, 1 << 30})
	ph, vals, err := DecodeProbe(b, nil)
	require.NoError(t, err)
	assert.Equal(t, ProbeHeader{Probe: 1, Count: 2, Timestep: 9}, ph)
	assert.Equal(t, []int32{-1, 1 << 30}, vals)

	s := Sensors{TemperatureMC: 45000, ClockKHz: 100000, StepNS: 10, Rails: []RailReading{{RailCore, 850000, 1500000, 1275000}, {RailIO, 1, 2, 3}}}
	got, err := DecodeSensors(s.Append(nil))
	require.NoError(t, err)
	assert.Equal(t, s, got)

	f := FlashInfo{Booted: 1, SlotSize: 1 << 20, Slots: []SlotInfo{{0, SlotValid | SlotFlagGolden, 0x01000000, 0, 10, 11}}}
	gf, err := DecodeFlashInfo(f.Append(nil))
	require.NoError(t, err)
	assert.Equal(t, f, gf)

	hr := HelloReply{Status: SetupError, Version: ProtocolVersion, Message: "no room"}
	ghr, err := DecodeHelloReply(hr.Append(nil))
	require.NoError(t, err)
	assert.Equal(t, hr, ghr)

	hb := make([]byte, SlotHeaderSize)
	sh := SlotHeader{Slot: 1, Version: MakeFWVersion(1, 2, 3), Seq: 4, Size: 100, CRC32: 5}
	sh.Put(hb)
	gsh, err := DecodeSlotHeader(hb, 1, 8192)
	require.NoError(t, err)
	assert.Equal(t, sh, gsh)
	_, err = DecodeSlotHeader(hb, 2, 8192)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeSlotHeader(hb, 1, 4096+99)
	assert.ErrorContains(t, err, "does not fit")
	hb[9] ^= 1
	_, err = DecodeSlotHeader(hb, 1, 8192)
	assert.ErrorContains(t, err, "header CRC")
}

func TestDecodersRejectMalformedRecords(t *testing.T) {
	spikes := make([]byte, SpikesSize(2))
	PutSpikes(spikes, 0, 0, []Spike{{1, 1}, {2, 1}})
	tests := []struct {
		name string
		dec  func() error
		want string
	}{
		{"short completion", func() error { _, err := DecodeCompletion(make([]byte, 15)); return err }, "shorter than its 16-byte header"},
		{"long message", func() error {
			b := make([]byte, CompletionSize(MaxMessage+1))
			PutCompletion(b, Completion{Result: ResultInternal})
			_, err := DecodeCompletion(b)
			return err
		}, "failure message of 257 bytes"},
		{"event size", func() error { _, err := DecodeEvent(make([]byte, 25)); return err }, "25 bytes, want 24"},
		{"spikes count too big", func() error {
			b := append([]byte(nil), spikes...)
			le.PutUint32(b[4:], 3)
			_, _, err := DecodeSpikes(b, nil)
			return err
		}, "count 3 needs 40 bytes, record has 32"},
		{"spikes count huge", func() error {
			b := append([]byte(nil), spikes...)
			le.PutUint32(b[4:], 0xffffffff)
			_, _, err := DecodeSpikes(b, nil)
			return err
		}, "count 4294967295"},
		{"spikes trailing byte", func() error { _, _, err := DecodeSpikes(append(spikes, 0), nil); return err }, "record has 33"},
		{"spikes flags", func() error {
			b := append([]byte(nil), spikes...)
			b[2] = 1
			_, _, err := DecodeSpikes(b, nil)
			return err
		}, "reserved flags"},
		{"probe count", func() error { b := make([]byte, ProbeSize(1)); _, _, err := DecodeProbe(b, nil); return err }, "count 0 needs 16 bytes, record has 20"},
		{"sensors rails", func() error {
			b := Sensors{Rails: make([]RailReading, 2)}.Append(nil)
			_, err := DecodeSensors(b[:len(b)-1])
			return err
		}, "2 rails need 56 bytes"},
		{"flash slots", func() error {
			b := FlashInfo{Slots: make([]SlotInfo, 1)}.Append(nil)
			le.PutUint32(b[4:], 1<<30)
			_, err := DecodeFlashInfo(b)
			return err
		}, "1073741824 slots"},
		{"command flags", func() error { _, err := DecodeCommand([]byte{0, 0, 0, 0, 1, 0, 2, 0}); return err }, "unknown flags"},
		{"hello magic", func() error { _, err := DecodeHello(make([]byte, HelloSize)); return err }, "magic"},
		{"hello cap", func() error {
			b := Hello{RingCap: [4]uint32{3}}.Append(nil)
			_, err := DecodeHello(b)
			return err
		}, "not a power of two"},
		{"reply fds", func() error {
			_, err := DecodeHelloReply(HelloReply{NFds: 2}.Append(nil))
			return err
		}, "2 descriptors"},
		{"reply tail", func() error {
			_, err := DecodeHelloReply(append(HelloReply{}.Append(nil), 1))
			return err
		}, "1 bytes after"},
		{"mem read reserved", func() error {
			b := MemReadArgs{}.Append(nil)
			b[12] = 1
			_, err := DecodeMemReadArgs(b)
			return err
		}, "reserved"},
		{"load end flags", func() error { _, err := DecodeLoadEndArgs(LoadEndArgs{Flags: 2}.Append(nil)); return err }, "unknown flags"},
		{"u64 args", func() error { _, err := DecodeU64Args(OpRun, make([]byte, 9)); return err }, "RUN arguments: 9 bytes, want 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.dec()
			require.ErrorIs(t, err, ErrMalformed)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestNegotiate(t *testing.T) {
	v, err := Negotiate(MakeVersion(1, 3), MakeVersion(1, 1))
	require.NoError(t, err)
	assert.Equal(t, MakeVersion(1, 1), v)
	v, err = Negotiate(MakeVersion(1, 0), MakeVersion(1, 4))
	require.NoError(t, err)
	assert.Equal(t, MakeVersion(1, 0), v)
	_, err = Negotiate(MakeVersion(1, 0), MakeVersion(2, 0))
	require.ErrorIs(t, err, ErrVersion)
	assert.EqualError(t, err, "regmap: board speaks protocol 2.0, host speaks 1.0: version mismatch")
	require.NoError(t, CheckCaps(CapVersion, 1))
	assert.ErrorContains(t, CheckCaps(1, 2), "capability layout is version 2, host knows 1 to 1")
	assert.ErrorIs(t, CheckCaps(1, 0), ErrVersion)
	assert.Equal(t, "1.2.3", MakeFWVersion(1, 2, 3).String())
}

func TestNamesAreUnique(t *testing.T) {
	var ops []int
	for _, o := range Ops {
		ops = append(ops, int(o.Op))
		assert.Equal(t, o.Name, o.Op.String())
	}
	assert.True(t, sort.IntsAreSorted(ops))
	assert.Equal(t, "Op(0x99)", Op(0x99).String())
	for _, r := range Results {
		assert.Equal(t, r.Name, r.Result.String())
	}
	for _, e := range Events {
		assert.Equal(t, e.Name, e.Code.String())
	}
	for _, rt := range RecordTypes {
		assert.NotZero(t, rt.Type)
		assert.Less(t, rt.Type, uint16(0xff00))
	}
	assert.Equal(t, "OUT", RingOut.String())
	assert.Equal(t, "emulator", BoardEmulator.String())
}

func TestPrintable(t *testing.T) {
	assert.Equal(t, "a\uFFFDb\uFFFD", Printable([]byte("a\nb\xff")))
	assert.Len(t, []rune(Printable(make([]byte, 1000))), MaxMessage)
}

func TestMSIXVectorsCoverEveryCause(t *testing.T) {
	var all uint32
	for i, v := range MSIXVectors {
		require.Equal(t, i, v.Vector, "vectors are listed in order")
		require.Zero(t, all&v.Causes, "cause on two vectors")
		all |= v.Causes
	}
	require.Equal(t, IRQAll, all, "every IRQ_STATUS cause has a vector")
	require.Len(t, MSIXVectors, NumMSIXVectors)
	for _, tc := range []struct {
		causes, want uint32
	}{
		{IRQCompletion, 1 << MSIXVectorRings},
		{IRQOutput | IRQCompletion, 1 << MSIXVectorRings},
		{IRQError, 1 << MSIXVectorError},
		{IRQAll, 1<<MSIXVectorRings | 1<<MSIXVectorError},
		{0, 1 << MSIXVectorRings},
	} {
		require.Equal(t, tc.want, VectorsFor(tc.causes), "causes %#x", tc.causes)
	}
}

func TestPCIeLayoutFits(t *testing.T) {
	require.Less(t, MSIXCapOffset+MSIXCapSize, PCIConfigSize)
	require.Less(t, MSIXPBAOffset, PCIBarMSIXSize)
	require.GreaterOrEqual(t, MSIXPBAOffset-MSIXTableOffset, 16*NumMSIXVectors, "the table (16 bytes a vector) ends before the PBA")
	require.Zero(t, ControlAttach&(ControlReset|ControlStart|ControlStop|ControlReboot))
	r, ok := RegisterAt(RegControl)
	require.True(t, ok)
	names := map[string]bool{}
	for _, f := range r.Fields {
		names[f.Name] = true
	}
	require.True(t, names["ATTACH"])
}
