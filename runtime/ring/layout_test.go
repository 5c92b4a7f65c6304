package ring

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLayout pins the binary layout: changing any of these numbers changes
// the ABI shared with the C side and needs a new Version.
func TestLayout(t *testing.T) {
	assert.Equal(t, uint64(0x00474e495243524c), Magic)
	var m [8]byte
	binary.LittleEndian.PutUint64(m[:], Magic)
	assert.Equal(t, "LRCRING\x00", string(m[:]))

	assert.EqualValues(t, 4096, unsafe.Sizeof(Header{}))
	assert.EqualValues(t, 64, unsafe.Sizeof(Side{}))
	assert.EqualValues(t, 8, unsafe.Sizeof(RecordHeader{}))

	for _, tc := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"Magic", OffMagic, 0x000},
		{"Version", OffVersion, 0x008},
		{"HeaderSize", OffHeaderSize, 0x00c},
		{"Capacity", OffCapacity, 0x010},
		{"Flags", OffFlags, 0x018},
		{"ProducerPos", OffProducerPos, 0x040},
		{"ConsumerPos", OffConsumerPos, 0x080},
		{"DataFutex", OffDataFutex, 0x0c0},
		{"ConsumerSleeping", OffConsumerSleeping, 0x0c4},
		{"SpaceFutex", OffSpaceFutex, 0x100},
		{"ProducerSleeping", OffProducerSleeping, 0x104},
		{"Producer", OffProducer, 0x140},
		{"Consumer", OffConsumer, 0x180},
		{"Side.PID", OffSidePID, 0x00},
		{"Side.State", OffSideState, 0x04},
		{"Side.PIDNS", OffSidePIDNS, 0x08},
		{"Side.Heartbeat", OffSideHeartbeat, 0x10},
		{"Record.Length", OffRecordLength, 0},
		{"Record.Type", OffRecordType, 4},
		{"Record.Flags", OffRecordFlags, 6},
	} {
		assert.Equal(t, tc.want, tc.got, tc.name)
	}

	// The two positions and the parties' lines never share a cache line with
	// anything written by the other side.
	lines := map[uintptr]string{}
	for name, off := range map[string]uintptr{
		"ProducerPos": OffProducerPos, "ConsumerPos": OffConsumerPos,
		"DataFutex": OffDataFutex, "SpaceFutex": OffSpaceFutex,
		"Producer": OffProducer, "Consumer": OffConsumer, "Magic": OffMagic,
	} {
		line := off / CacheLine
		require.NotContains(t, lines, line, "%s shares a cache line with %s", name, lines[line])
		lines[line] = name
	}
}

func TestRecordWord(t *testing.T) {
	w := recordWord(0x11223344, 0x5566, 0x7788)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], w)
	// The in-memory bytes match RecordHeader field by field.
	h := (*RecordHeader)(unsafe.Pointer(&b[0]))
	assert.Equal(t, RecordHeader{Length: 0x11223344, Type: 0x5566, Flags: 0x7788}, *h)
	l, ty, f := splitRecordWord(w)
	assert.Equal(t, uint32(0x11223344), l)
	assert.Equal(t, uint16(0x5566), ty)
	assert.Equal(t, uint16(0x7788), f)
	for n, want := range map[uint64]uint64{0: 0, 1: 8, 7: 8, 8: 8, 9: 16, 4095: 4096} {
		assert.Equal(t, want, align(n), "align(%d)", n)
	}
}
