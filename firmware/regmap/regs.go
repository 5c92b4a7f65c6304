package regmap

import "fmt"

// Access says how the host may access a register.
type Access uint8

// Register access kinds.
const (
	RO  Access = iota + 1 // read-only: the board ignores writes, the driver refuses them
	RW                    // read/write
	W1C                   // write 1 to clear: the bits set in the written value are cleared
	W1S                   // write 1 to set: the board acts on each bit set, then clears it
)

func (a Access) String() string {
	switch a {
	case RO:
		return "RO"
	case RW:
		return "RW"
	case W1C:
		return "W1C"
	case W1S:
		return "W1S"
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// BARSize is the size of the register file in bytes. Registers are 32 bits wide, little-
// endian, at 4-byte aligned offsets; 64-bit values are LO/HI pairs at an 8-byte aligned
// offset (read LO first: the board latches HI when LO is read; the emulator's shared page
// stores the pair with one 64-bit store).
const BARSize = 4096

// Register offsets.
const (
	RegMagic        = 0x000 // "LRCH"
	RegProtoVersion = 0x004
	RegBoardID      = 0x008
	RegFWVersion    = 0x00C
	RegSerialLo     = 0x010
	RegSerialHi     = 0x014
	RegFWSlot       = 0x018
	RegHostVersion  = 0x01C
	RegCapVersion   = 0x020
	RegCapCores     = 0x024
	RegCapNeurons   = 0x028
	RegCapFeatures  = 0x02C
	RegCapInstrs    = 0x030
	RegCapBanks     = 0x034
	RegCapCoreMem   = 0x038
	RegCapPayload   = 0x03C
	RegStatus       = 0x040
	RegControl      = 0x044
	RegTimestepLo   = 0x048
	RegTimestepHi   = 0x04C
	RegIRQStatus    = 0x050
	RegIRQMask      = 0x054
	RegDoorbell     = 0x058
	RegScratch      = 0x05C
	RegErrorCode    = 0x060
	RegTemperature  = 0x064
	RegImageCRC     = 0x068 // CRC-32 of the loaded network image: which image a host finds loaded
	RegImageSize    = 0x06C

	// RegRingBase is the first ring's block; ring i's registers are at RegRingBase +
	// i*RingRegStride: BASE_LO, BASE_HI, SIZE, then a reserved word.
	RegRingBase   = 0x100
	RingRegStride = 0x10
	ringOffBaseLo = 0x0
	ringOffBaseHi = 0x4
	ringOffSize   = 0x8

	// The bulk DMA window: host memory the board reads (LOAD_DMA) without a copy through
	// a ring. On PCIe the host writes its bus address; on the emulated transports the board
	// fills BASE with its descriptor's index in the setup list and SIZE with its size.
	RegBulkBaseLo = 0x140
	RegBulkBaseHi = 0x144
	RegBulkSize   = 0x148
)

// Magic is what RegMagic reads: "LRCH" as a little-endian word.
const Magic uint32 = 0x4843524C

// RingBaseLo, RingBaseHi and RingSize are the offsets of ring i's registers.
func RingBaseLo(i Ring) uint32 { return RegRingBase + uint32(i)*RingRegStride + ringOffBaseLo }
func RingBaseHi(i Ring) uint32 { return RegRingBase + uint32(i)*RingRegStride + ringOffBaseHi }
func RingSize(i Ring) uint32   { return RegRingBase + uint32(i)*RingRegStride + ringOffSize }

// STATUS bits.
const (
	StatusReady     uint32 = 1 << 0 // booted, accepts commands
	StatusRunning   uint32 = 1 << 1 // free-running (START)
	StatusBusy      uint32 = 1 << 2 // executing a command (a RUN, a load, a flash write)
	StatusLoaded    uint32 = 1 << 3 // a network is loaded
	StatusThrottled uint32 = 1 << 4 // over a thermal or power limit: the clock is divided
	StatusSleeping  uint32 = 1 << 5 // idle, waiting for a doorbell (need-wakeup)
	StatusStalled   uint32 = 1 << 6 // the OUT or CPL ring is full: waiting for the host
	StatusError     uint32 = 1 << 7 // a fatal error; ERROR_CODE says which; RESET clears it
	StatusAttached  uint32 = 1 << 8 // a host is attached
	StatusGolden    uint32 = 1 << 9 // booted the golden image (no valid A/B slot)
)

// CONTROL bits (write 1 to act; the board clears them).
const (
	ControlReset  uint32 = 1 << 0 // soft reset: stop, unload, timestep 0, drop pending input
	ControlStart  uint32 = 1 << 1 // start free-running
	ControlStop   uint32 = 1 << 2 // stop free-running; abort a RUN at the next step boundary
	ControlReboot uint32 = 1 << 3 // boot again from flash (the newest valid slot)
	// ControlAttach (PCIe) makes the board take the rings and bulk window the ring and bulk
	// registers name; it sets STATUS.ATTACHED when it has (see pcie.go). Elsewhere the board
	// sets up the rings itself and ignores the bit.
	ControlAttach uint32 = 1 << 4
)

// IRQ_STATUS and IRQ_MASK bits.
const (
	IRQCompletion uint32 = 1 << 0 // records in CPL
	IRQOutput     uint32 = 1 << 1 // records in OUT
	IRQError      uint32 = 1 << 2 // STATUS.ERROR was set
	IRQAll               = IRQCompletion | IRQOutput | IRQError
)

// CAP_FEATURES bits.
const (
	FeatureGraded   uint32 = 1 << 0 // graded spikes
	FeatureProbes   uint32 = 1 << 1 // probes
	FeatureFreeRun  uint32 = 1 << 2 // free-running START/STOP
	FeatureFlash    uint32 = 1 << 3 // SPI flash with golden/A/B slots
	FeatureSensors  uint32 = 1 << 4 // power and temperature sensors
	FeatureThrottle uint32 = 1 << 5 // thermal/power throttling
	FeatureSparse   uint32 = 1 << 6 // sparse connections
	FeatureMemTest  uint32 = 1 << 7 // MEM_WRITE/MEM_READ of core memory
)

// Ring identifies one of the four rings; DOORBELL bit i is ring i.
type Ring uint8

// The rings.
const (
	RingCmd   Ring = 0 // host → board: Command
	RingCpl   Ring = 1 // board → host: Completion, Event
	RingSpkIn Ring = 2 // host → board: Spikes
	RingOut   Ring = 3 // board → host: Spikes, Probe
	NumRings       = 4
)

var ringNames = [NumRings]string{"CMD", "CPL", "SPKIN", "OUT"}

func (r Ring) String() string {
	if int(r) < NumRings {
		return ringNames[r]
	}
	return fmt.Sprintf("Ring(%d)", uint8(r))
}

// HostToBoard reports whether the host produces into the ring.
func (r Ring) HostToBoard() bool { return r == RingCmd || r == RingSpkIn }

// Field is a bit field of a register.
type Field struct {
	Name  string
	Lsb   int
	Width int
	Doc   string
}

// Mask returns the field's bits.
func (f Field) Mask() uint32 { return uint32((uint64(1)<<f.Width)-1) << f.Lsb }

// Register describes one register of the file.
type Register struct {
	Name   string
	Offset uint32
	Access Access
	Doc    string
	Fields []Field
}

func bit(name string, mask uint32, doc string) Field {
	lsb := 0
	for mask>>lsb&1 == 0 {
		lsb++
	}
	return Field{Name: name, Lsb: lsb, Width: 1, Doc: doc}
}

// Registers is the register file, by offset.
var Registers = func() []Register {
	regs := []Register{
		{"MAGIC", RegMagic, RO, `0x4843524C, "LRCH": identifies an lrchip board`, nil},
		{"PROTO_VERSION", RegProtoVersion, RO, "protocol version the board speaks (major << 16 | minor)", []Field{
			{"MINOR", 0, 16, ""}, {"MAJOR", 16, 16, ""}}},
		{"BOARD_ID", RegBoardID, RO, "kind of board: 1 emulator, 2 PCIe prototype, 3 USB prototype", nil},
		{"FW_VERSION", RegFWVersion, RO, "version of the firmware that booted", []Field{
			{"PATCH", 0, 16, ""}, {"MINOR", 16, 8, ""}, {"MAJOR", 24, 8, ""}}},
		{"SERIAL_LO", RegSerialLo, RO, "serial number, low word", nil},
		{"SERIAL_HI", RegSerialHi, RO, "serial number, high word", nil},
		{"FW_SLOT", RegFWSlot, RO, "flash slot the firmware booted from: 0 golden, 1 A, 2 B", nil},
		{"HOST_VERSION", RegHostVersion, RW, "protocol version the host speaks, written at open (0: none yet)", nil},
		{"CAP_VERSION", RegCapVersion, RO, "layout version of the capability block 0x020–0x03F", nil},
		{"CAP_CORES", RegCapCores, RO, "neuron cores", nil},
		{"CAP_NEURONS", RegCapNeurons, RO, "neuron slots per core", nil},
		{"CAP_FEATURES", RegCapFeatures, RO, "feature bits", []Field{
			bit("GRADED", FeatureGraded, "graded spikes"),
			bit("PROBES", FeatureProbes, "probes"),
			bit("FREE_RUN", FeatureFreeRun, "free-running START/STOP"),
			bit("FLASH", FeatureFlash, "SPI flash with golden/A/B slots"),
			bit("SENSORS", FeatureSensors, "power and temperature sensors"),
			bit("THROTTLE", FeatureThrottle, "thermal/power throttling"),
			bit("SPARSE", FeatureSparse, "sparse connections"),
			bit("MEM_TEST", FeatureMemTest, "MEM_WRITE/MEM_READ of core memory")}},
		{"CAP_INSTRS", RegCapInstrs, RO, "instructions per neuron program", nil},
		{"CAP_BANKS", RegCapBanks, RO, "accumulator banks per core: incoming connections with a negative weight exponent", nil},
		{"CAP_CORE_MEM", RegCapCoreMem, RO, "bytes of core memory per core reachable by MEM_WRITE/MEM_READ", nil},
		{"CAP_PAYLOAD", RegCapPayload, RO, "largest command payload the board accepts, in bytes", nil},
		{"STATUS", RegStatus, RO, "board status", []Field{
			bit("READY", StatusReady, "booted, accepts commands"),
			bit("RUNNING", StatusRunning, "free-running"),
			bit("BUSY", StatusBusy, "executing a command"),
			bit("LOADED", StatusLoaded, "a network is loaded"),
			bit("THROTTLED", StatusThrottled, "over a thermal or power limit; clock divided"),
			bit("SLEEPING", StatusSleeping, "idle until the doorbell rings (need-wakeup)"),
			bit("STALLED", StatusStalled, "OUT or CPL full; waiting for the host"),
			bit("ERROR", StatusError, "fatal error (ERROR_CODE); RESET clears it"),
			bit("ATTACHED", StatusAttached, "a host is attached (PCIe: its rings, after CONTROL.ATTACH)"),
			bit("GOLDEN", StatusGolden, "booted the golden image")}},
		{"CONTROL", RegControl, W1S, "board control; the board clears each bit when it has acted", []Field{
			bit("RESET", ControlReset, "soft reset: stop, unload, timestep 0, drop pending input"),
			bit("START", ControlStart, "start free-running"),
			bit("STOP", ControlStop, "stop free-running; abort a RUN at the next step boundary"),
			bit("REBOOT", ControlReboot, "boot again from flash"),
			bit("ATTACH", ControlAttach, "PCIe: take the rings and bulk window the ring and bulk registers name (§10)")}},
		{"TIMESTEP_LO", RegTimestepLo, RO, "steps run since reset, low word", nil},
		{"TIMESTEP_HI", RegTimestepHi, RO, "steps run since reset, high word", nil},
		{"IRQ_STATUS", RegIRQStatus, W1C, "pending interrupt causes", []Field{
			bit("CPL", IRQCompletion, "records in CPL"),
			bit("OUT", IRQOutput, "records in OUT"),
			bit("ERROR", IRQError, "STATUS.ERROR set")}},
		{"IRQ_MASK", RegIRQMask, RW, "armed interrupt causes (1 = armed); the board disarms all when it interrupts", []Field{
			bit("CPL", IRQCompletion, ""), bit("OUT", IRQOutput, ""), bit("ERROR", IRQError, "")}},
		{"DOORBELL", RegDoorbell, W1S, "bit i: ring i changed (records published into CMD/SPKIN, space freed in CPL/OUT)", []Field{
			bit("CMD", 1<<RingCmd, ""), bit("CPL", 1<<RingCpl, ""), bit("SPKIN", 1<<RingSpkIn, ""), bit("OUT", 1<<RingOut, "")}},
		{"SCRATCH", RegScratch, RW, "free for the host; used by the register self-test", nil},
		{"ERROR_CODE", RegErrorCode, RO, "Result code of the last fatal error, 0 if none", nil},
		{"TEMPERATURE", RegTemperature, RO, "die temperature in m°C (signed), updated every step", nil},
		{"IMAGE_CRC", RegImageCRC, RO, "CRC-32 (IEEE) of the loaded network image, 0 when none: with IMAGE_SIZE, which image a host finds loaded", nil},
		{"IMAGE_SIZE", RegImageSize, RO, "size in bytes of the loaded network image, 0 when none", nil},
	}
	for i := Ring(0); i < NumRings; i++ {
		dir := "board → host"
		if i.HostToBoard() {
			dir = "host → board"
		}
		regs = append(regs,
			Register{fmt.Sprintf("RING_%s_BASE_LO", i), RingBaseLo(i), RW, fmt.Sprintf("ring %d (%s, %s): base address, low word (see below)", i, i, dir), nil},
			Register{fmt.Sprintf("RING_%s_BASE_HI", i), RingBaseHi(i), RW, fmt.Sprintf("ring %d: base address, high word", i), nil},
			Register{fmt.Sprintf("RING_%s_SIZE", i), RingSize(i), RW, fmt.Sprintf("ring %d: capacity of the data area in bytes (a power of two)", i), nil},
		)
	}
	regs = append(regs,
		Register{"BULK_BASE_LO", RegBulkBaseLo, RW, "bulk DMA window: base address, low word (see below)", nil},
		Register{"BULK_BASE_HI", RegBulkBaseHi, RW, "bulk DMA window: base address, high word", nil},
		Register{"BULK_SIZE", RegBulkSize, RW, "bulk DMA window: size in bytes (0: none)", nil},
	)
	return regs
}()

// RegisterAt returns the register at an offset.
func RegisterAt(off uint32) (Register, bool) {
	for _, r := range Registers {
		if r.Offset == off {
			return r, true
		}
	}
	return Register{}, false
}

// accessOf is Registers' access by word offset, for AccessOf.
var accessOf = func() (a [BARSize / 4]Access) {
	for _, r := range Registers {
		if r.Offset < BARSize {
			a[r.Offset/4] = r.Access
		}
	}
	return a
}()

// AccessOf returns the access of the register at off, or 0 where there is none: what a
// transport needs on every register write, without RegisterAt's search.
func AccessOf(off uint32) Access {
	if off%4 != 0 || off >= BARSize {
		return 0
	}
	return accessOf[off/4]
}
