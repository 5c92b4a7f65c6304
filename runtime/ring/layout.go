package ring

import "unsafe"

// This file is the single definition of the ring's binary layout. The C
// header for the GPU-side peer is generated from it: Header, Side and
// RecordHeader give every field, the Off* constants below are derived from
// them, and layout_test.go pins the numbers so that an accidental change of
// the ABI fails the tests. All multi-byte fields are little-endian.

// Identity of the layout.
const (
	// Magic is the first word of every ring: the bytes "LRCRING\x00" read as
	// a little-endian uint64.
	Magic uint64 = 0x00474e495243524c
	// Version is the layout version described here. A peer refuses any
	// other version.
	Version uint32 = 1

	// HeaderSize is the size of Header and the offset of the data area from
	// the start of the shared memory. It is a whole page, so the data area
	// is page-aligned.
	HeaderSize = 4096
	// CacheLine is the unit of separation between fields written by
	// different parties.
	CacheLine = 64
)

// Capacity limits and default, in bytes of data area. Capacities are powers
// of two.
const (
	MinCapacity     = 64
	MaxCapacity     = 1 << 40
	DefaultCapacity = 1 << 20
)

// Header flags (Header.Flags).
const (
	// FlagMultiProducer marks a ring written by several producer threads:
	// records inside the published range may still lack RecordCommitted, and
	// the consumer waits for the flag instead of treating it as an error.
	FlagMultiProducer uint32 = 1 << 0

	knownHeaderFlags = FlagMultiProducer
)

// Side states (Side.State).
const (
	// SideClosed is set by a party that has closed its end for good; it is
	// cleared when a new party claims the role.
	SideClosed uint32 = 1 << 0
)

// Records.
const (
	// RecordHeaderSize is the size of RecordHeader; the payload follows it.
	RecordHeaderSize = 8
	// RecordAlign is the alignment of every record: a record occupies
	// RecordHeader.Length rounded up to a multiple of RecordAlign bytes.
	RecordAlign = 8

	// TypePad marks padding: the consumer skips it. The producer writes one
	// from the current offset to the end of the data area when the next
	// record does not fit there (records never straddle the end), and a
	// multi-producer writes one in place of an aborted reservation.
	TypePad uint16 = 0
	// TypeReservedMin is the first of the types 0xff00..0xffff reserved for
	// the ring itself; a consumer rejects them.
	TypeReservedMin uint16 = 0xff00

	// RecordCommitted is set in RecordHeader.Flags when the record is
	// complete. Every record, padding included, carries it; on
	// single-producer rings it is redundant with the position, on
	// multi-producer rings it is what the consumer waits for. Other flag
	// bits are reserved and must be zero.
	RecordCommitted uint16 = 1 << 0

	knownRecordFlags = RecordCommitted
)

// Header is the layout of the first HeaderSize bytes of the shared memory.
// Fields written by different parties sit on different cache lines:
//
//	offset  size  field             written by
//	0x000   8     Magic             creator, once
//	0x008   4     Version           creator, once
//	0x00c   4     HeaderSize        creator, once (offset of the data area)
//	0x010   8     Capacity          creator, once (bytes of data, power of 2)
//	0x018   4     Flags             creator, once (FlagMultiProducer)
//	0x040   8     ProducerPos       producer (free-running byte count)
//	0x080   8     ConsumerPos       consumer (free-running byte count)
//	0x0c0   4     DataFutex         producer, incremented (also the consumer)
//	0x0c4   4     ConsumerSleeping  consumer sets 1 to sleep, producer clears
//	0x100   4     SpaceFutex        consumer, incremented (also producers)
//	0x104   4     ProducerSleeping  producer sets 1 to sleep, consumer clears
//	0x140   64    Producer          producer (Side: pid, state, heartbeat)
//	0x180   64    Consumer          consumer (Side)
//	0x1000        data area, Capacity bytes
//
// Everything else is reserved and zero.
type Header struct {
	Magic      uint64
	Version    uint32
	HeaderSize uint32
	Capacity   uint64
	Flags      uint32
	_          [CacheLine - 28]byte

	ProducerPos uint64
	_           [CacheLine - 8]byte

	ConsumerPos uint64
	_           [CacheLine - 8]byte

	DataFutex        uint32
	ConsumerSleeping uint32
	_                [CacheLine - 8]byte

	SpaceFutex       uint32
	ProducerSleeping uint32
	_                [CacheLine - 8]byte

	Producer Side
	Consumer Side

	_ [HeaderSize - 7*CacheLine]byte
}

// Side is one cache line describing a party (the producer or the consumer)
// for liveness checks.
//
//	offset  size  field
//	0x00    4     PID        process id in the party's pid namespace, 0: none
//	0x04    4     State      SideClosed
//	0x08    8     PIDNS      inode of the party's /proc/self/ns/pid, 0: unknown
//	0x10    8     Heartbeat  counter the party increases while it lives
type Side struct {
	PID       uint32
	State     uint32
	PIDNS     uint64
	Heartbeat uint64
	_         [CacheLine - 24]byte
}

// RecordHeader starts every record in the data area, at an offset that is a
// multiple of RecordAlign.
//
//	offset  size  field
//	0x0     4     Length  header plus payload bytes, at least RecordHeaderSize
//	0x4     2     Type    TypePad, a user type, or reserved (>= TypeReservedMin)
//	0x6     2     Flags   RecordCommitted
//
// Read as one little-endian uint64 it is
// Length | Type<<32 | Flags<<48; both sides access it that way, atomically.
type RecordHeader struct {
	Length uint32
	Type   uint16
	Flags  uint16
}

// Offsets of the header fields, derived from Header.
const (
	OffMagic            = unsafe.Offsetof(Header{}.Magic)
	OffVersion          = unsafe.Offsetof(Header{}.Version)
	OffHeaderSize       = unsafe.Offsetof(Header{}.HeaderSize)
	OffCapacity         = unsafe.Offsetof(Header{}.Capacity)
	OffFlags            = unsafe.Offsetof(Header{}.Flags)
	OffProducerPos      = unsafe.Offsetof(Header{}.ProducerPos)
	OffConsumerPos      = unsafe.Offsetof(Header{}.ConsumerPos)
	OffDataFutex        = unsafe.Offsetof(Header{}.DataFutex)
	OffConsumerSleeping = unsafe.Offsetof(Header{}.ConsumerSleeping)
	OffSpaceFutex       = unsafe.Offsetof(Header{}.SpaceFutex)
	OffProducerSleeping = unsafe.Offsetof(Header{}.ProducerSleeping)
	OffProducer         = unsafe.Offsetof(Header{}.Producer)
	OffConsumer         = unsafe.Offsetof(Header{}.Consumer)

	OffSidePID       = unsafe.Offsetof(Side{}.PID)
	OffSideState     = unsafe.Offsetof(Side{}.State)
	OffSidePIDNS     = unsafe.Offsetof(Side{}.PIDNS)
	OffSideHeartbeat = unsafe.Offsetof(Side{}.Heartbeat)

	OffRecordLength = unsafe.Offsetof(RecordHeader{}.Length)
	OffRecordType   = unsafe.Offsetof(RecordHeader{}.Type)
	OffRecordFlags  = unsafe.Offsetof(RecordHeader{}.Flags)
)

// Compile-time layout checks: these fail to compile if a size is off.
var (
	_ [HeaderSize - unsafe.Sizeof(Header{})]byte
	_ [unsafe.Sizeof(Header{}) - HeaderSize]byte
	_ [CacheLine - unsafe.Sizeof(Side{})]byte
	_ [unsafe.Sizeof(Side{}) - CacheLine]byte
	_ [RecordHeaderSize - unsafe.Sizeof(RecordHeader{})]byte
	_ [unsafe.Sizeof(RecordHeader{}) - RecordHeaderSize]byte
)

// recordWord packs a record header into the uint64 stored at its offset.
func recordWord(length uint32, typ, flags uint16) uint64 {
	return uint64(length) | uint64(typ)<<32 | uint64(flags)<<48
}

// splitRecordWord is the inverse of recordWord.
func splitRecordWord(w uint64) (length uint32, typ, flags uint16) {
	return uint32(w), uint16(w >> 32), uint16(w >> 48)
}

// align rounds n up to a multiple of RecordAlign.
func align(n uint64) uint64 { return (n + RecordAlign - 1) &^ (RecordAlign - 1) }
