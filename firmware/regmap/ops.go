package regmap

import "fmt"

// Op is a command opcode.
type Op uint16

// Opcodes.
const (
	OpNop        Op = 0x01
	OpReset      Op = 0x02
	OpLoadBegin  Op = 0x03
	OpLoadData   Op = 0x04
	OpLoadEnd    Op = 0x05
	OpRun        Op = 0x06
	OpStart      Op = 0x07
	OpStop       Op = 0x08
	OpMemWrite   Op = 0x09
	OpMemRead    Op = 0x0A
	OpSensors    Op = 0x0B
	OpFlashInfo  Op = 0x0C
	OpFlashBegin Op = 0x0D
	OpFlashData  Op = 0x0E
	OpFlashEnd   Op = 0x0F
	OpProbeAdd   Op = 0x10
	OpLoadDMA    Op = 0x11
)

// CmdFlagQuiet asks the board to complete a command only when it fails (io_uring's
// CQE_SKIP_SUCCESS): the host streams LOAD_DATA, MEM_WRITE and FLASH_DATA without a
// completion each, and learns of a failure from its completion or from the END command.
const CmdFlagQuiet uint16 = 1 << 0

// LoadFlagDryRun in LOAD_END checks the transfer (size and CRC) without loading the image.
const LoadFlagDryRun uint32 = 1 << 0

// OpDesc documents an opcode.
type OpDesc struct {
	Op     Op
	Name   string
	Doc    string
	Args   *Layout // nil: none
	Result *Layout // nil: none
	Quiet  bool    // CmdFlagQuiet is allowed
}

// Argument and result layouts.
var (
	NopLayout = Layout{Name: "nop_args", Doc: "NOP", Tail: "any bytes; the completion returns them unchanged"}

	LoadBeginLayout = Layout{Name: "load_begin_args", Size: 8, Fields: []LField{
		{"size", 0, "u64", "bytes of the network image that follow in LOAD_DATA"}}}
	LoadDataLayout = Layout{Name: "load_data_args", Size: 8, Fields: []LField{
		{"offset", 0, "u64", "where the bytes go in the image"}}, Tail: "image bytes"}
	LoadEndLayout = Layout{Name: "load_end_args", Size: 16, Fields: []LField{
		{"size", 0, "u64", "the image size again"},
		{"crc32", 8, "u32", "IEEE CRC-32 of the whole image"},
		{"flags", 12, "u32", "LOAD_FLAG_DRY_RUN: check size and CRC only"}}}
	LoadResultLayout = Layout{Name: "load_result", Size: 16, Fields: []LField{
		{"inputs", 0, "u32", "input ports"},
		{"outputs", 4, "u32", "output ports"},
		{"probes", 8, "u32", "probes"},
		{"cores", 12, "u32", "cores in use"}}}
	RunLayout = Layout{Name: "run_args", Size: 8, Fields: []LField{
		{"steps", 0, "u64", "timesteps to run; the completion's timestep is the last one run"}}}
	MemWriteLayout = Layout{Name: "mem_write_args", Size: 8, Fields: []LField{
		{"core", 0, "u32", "core"},
		{"offset", 4, "u32", "byte offset in the core's memory (CAP_CORE_MEM bytes)"}}, Tail: "bytes"}
	MemReadLayout = Layout{Name: "mem_read_args", Size: 16, Fields: []LField{
		{"core", 0, "u32", "core"},
		{"offset", 4, "u32", "byte offset"},
		{"length", 8, "u32", "bytes to read, at most CAP_PAYLOAD"},
		{"reserved", 12, "u32", "0"}}}
	MemReadResultLayout = Layout{Name: "mem_read_result", Tail: "the bytes read"}
	SensorsLayout       = Layout{Name: "sensors", Size: SensorsHeaderSize, Fields: []LField{
		{"temperature", 0, "i32", "die temperature, m°C"},
		{"throttle", 4, "u32", "THROTTLE_* reasons in force, 0 if none"},
		{"clock_khz", 8, "u32", "core clock now (divided while throttled)"},
		{"rails", 12, "u32", "number of rail entries that follow"},
		{"step_ns", 16, "u32", "duration of the last step, ns"},
		{"reserved", 20, "u32", "0"}}, Tail: "rails × rail"}
	RailLayout = Layout{Name: "rail", Doc: "one power rail as its INA226-class monitor reads it", Size: RailSize, Fields: []LField{
		{"rail", 0, "u32", "Rail"},
		{"bus_uv", 4, "u32", "bus voltage, µV"},
		{"current_ua", 8, "i32", "shunt current, µA"},
		{"power_uw", 12, "u32", "power, µW"}}}
	FlashInfoLayout = Layout{Name: "flash_info", Size: FlashInfoHeaderSize, Fields: []LField{
		{"booted", 0, "u32", "slot the firmware booted from"},
		{"slots", 4, "u32", "number of slot entries that follow"},
		{"slot_size", 8, "u32", "bytes per slot, header included"},
		{"reserved", 12, "u32", "0"}}, Tail: "slots × slot"}
	SlotLayout = Layout{Name: "slot", Doc: "one flash slot", Size: SlotInfoSize, Fields: []LField{
		{"slot", 0, "u32", "0 golden, 1 A, 2 B"},
		{"flags", 4, "u32", "SLOT_VALID, SLOT_GOLDEN, SLOT_BOOTED"},
		{"version", 8, "u32", "firmware version (FW_VERSION format)"},
		{"seq", 12, "u32", "write sequence number; boot picks the highest valid"},
		{"size", 16, "u32", "bytes of firmware"},
		{"crc32", 20, "u32", "IEEE CRC-32 of the firmware"}}}
	FlashBeginLayout = Layout{Name: "flash_begin_args", Size: 16, Fields: []LField{
		{"slot", 0, "u32", "1 (A) or 2 (B); the golden slot 0 is write-protected"},
		{"size", 4, "u32", "bytes of firmware"},
		{"version", 8, "u32", "its version"},
		{"crc32", 12, "u32", "its IEEE CRC-32"}}}
	FlashDataLayout = Layout{Name: "flash_data_args", Size: 8, Fields: []LField{
		{"slot", 0, "u32", "the slot being written"},
		{"offset", 4, "u32", "byte offset in the firmware"}}, Tail: "firmware bytes"}
	LoadDMALayout = Layout{Name: "load_dma_args", Size: 16, Fields: []LField{
		{"offset", 0, "u64", "where the bytes are, in the image and in the bulk DMA window alike"},
		{"length", 8, "u64", "how many"}}}
	ProbeAddLayout = Layout{Name: "probe_add_args", Size: 16, Fields: []LField{
		{"core", 0, "u32", "core"},
		{"kind", 4, "u16", "ProbeField: 0 a state register, 1 the dendritic input, 2 the spike payload"},
		{"index", 6, "u16", "the state register, for kind 0; else 0"},
		{"count", 8, "u32", "number of neuron indices that follow"},
		{"reserved", 12, "u32", "0"}}, Tail: "count × u32 neuron indices within the core"}
	ProbeAddResultLayout = Layout{Name: "probe_add_result", Size: 8, Fields: []LField{
		{"probe", 0, "u32", "the probe's index in PROBE records"},
		{"reserved", 4, "u32", "0"}}}
	FlashEndLayout = Layout{Name: "flash_end_args", Size: 8, Fields: []LField{
		{"slot", 0, "u32", "the slot; the board reads it back, verifies the CRC, then validates the slot"},
		{"reserved", 4, "u32", "0"}}}
)

// Ops documents every opcode.
var Ops = []OpDesc{
	{OpNop, "NOP", "does nothing; echoes its arguments (round trips, bandwidth)", &NopLayout, &NopLayout, true},
	{OpReset, "RESET", "soft reset: stop, unload the network, timestep 0, drop pending input and output", nil, nil, false},
	{OpLoadBegin, "LOAD_BEGIN", "start loading a network image of the given size", &LoadBeginLayout, nil, false},
	{OpLoadData, "LOAD_DATA", "bytes of the image", &LoadDataLayout, nil, true},
	{OpLoadEnd, "LOAD_END", "check size and CRC, decode the image and load it (replacing the network, timestep 0); the first failure of a LOAD_DATA is reported here too", &LoadEndLayout, &LoadResultLayout, false},
	{OpRun, "RUN", "run N timesteps; the output of every step is in OUT before the completion", &RunLayout, nil, false},
	{OpStart, "START", "start free-running", nil, nil, false},
	{OpStop, "STOP", "stop free-running at the next step boundary", nil, nil, false},
	{OpMemWrite, "MEM_WRITE", "write core memory", &MemWriteLayout, nil, true},
	{OpMemRead, "MEM_READ", "read core memory", &MemReadLayout, &MemReadResultLayout, false},
	{OpSensors, "SENSORS", "read the power monitors and the temperature", nil, &SensorsLayout, false},
	{OpFlashInfo, "FLASH_INFO", "describe the flash slots", nil, &FlashInfoLayout, false},
	{OpFlashBegin, "FLASH_BEGIN", "erase a slot (it is invalid from now) and start writing firmware into it", &FlashBeginLayout, nil, false},
	{OpFlashData, "FLASH_DATA", "bytes of firmware", &FlashDataLayout, nil, true},
	{OpFlashEnd, "FLASH_END", "read the slot back, verify it, mark it valid with the next sequence number", &FlashEndLayout, nil, false},
	{OpProbeAdd, "PROBE_ADD", "record a field of some neurons of a core after every step, as PROBE records in OUT; a load or reset removes every probe", &ProbeAddLayout, &ProbeAddResultLayout, false},
	{OpLoadDMA, "LOAD_DMA", "bytes of the image that the host placed in the bulk DMA window, at the same offset as in the image: the board reads them there (no copy through a ring) and decodes the image from the window at LOAD_END, so the whole image must fit the window and the host leaves it alone until LOAD_END completes; a load uses LOAD_DATA or LOAD_DMA, not both", &LoadDMALayout, nil, true},
}

// ProbeField says what a probe records.
type ProbeField uint16

// Probe fields.
const (
	ProbeState ProbeField = 0 // a state register
	ProbeInput ProbeField = 1 // the dendritic input
	ProbeSpike ProbeField = 2 // the spike payload, 0 where none
)

// Desc returns the description of op.
func (op Op) Desc() (OpDesc, bool) {
	for _, d := range Ops {
		if d.Op == op {
			return d, true
		}
	}
	return OpDesc{}, false
}

func (op Op) String() string {
	if d, ok := op.Desc(); ok {
		return d.Name
	}
	return fmt.Sprintf("Op(%#x)", uint16(op))
}

// Result is the result code of a completion.
type Result uint16

// Result codes.
const (
	ResultOK        Result = 0
	ResultBadOp     Result = 1 // unknown opcode
	ResultBadArgs   Result = 2 // arguments of the wrong size, reserved bits set, flags not allowed
	ResultBadState  Result = 3 // not now: RUN while free-running, LOAD_DATA outside a load, RUN with nothing loaded
	ResultBadImage  Result = 4 // the network image was rejected
	ResultRange     Result = 5 // a core, offset, length or slot out of range
	ResultVerify    Result = 6 // a CRC or a flash read-back did not match
	ResultProtected Result = 7 // the golden flash slot is write-protected
	ResultAborted   Result = 8 // stopped by CONTROL.STOP or RESET
	ResultInternal  Result = 9 // the board failed
)

// Results documents the result codes.
var Results = []struct {
	Result Result
	Name   string
	Doc    string
}{
	{ResultOK, "OK", "success"},
	{ResultBadOp, "BAD_OP", "unknown opcode"},
	{ResultBadArgs, "BAD_ARGS", "arguments of the wrong size, reserved bits set, or a flag the opcode does not allow"},
	{ResultBadState, "BAD_STATE", "not allowed now (RUN while free-running or with nothing loaded, LOAD_DATA outside a load, ...)"},
	{ResultBadImage, "BAD_IMAGE", "the network image was rejected; the message says what and where"},
	{ResultRange, "RANGE", "a core, offset, length or slot out of range"},
	{ResultVerify, "VERIFY", "a CRC or a flash read-back did not match"},
	{ResultProtected, "PROTECTED", "the golden flash slot is write-protected"},
	{ResultAborted, "ABORTED", "stopped by CONTROL.STOP or a reset; the timestep says where"},
	{ResultInternal, "INTERNAL", "the board failed"},
}

func (r Result) String() string {
	for _, d := range Results {
		if d.Result == r {
			return d.Name
		}
	}
	return fmt.Sprintf("Result(%d)", uint16(r))
}

// EventCode says what an event reports.
type EventCode uint16

// Event codes.
const (
	EventBoot       EventCode = 1 // booted; arg: slot, value: firmware version
	EventThrottle   EventCode = 2 // throttling started; arg: THROTTLE_* reasons, value: m°C
	EventUnthrottle EventCode = 3 // throttling ended; value: m°C
	EventReset      EventCode = 4 // CONTROL.RESET acted
	EventError      EventCode = 5 // STATUS.ERROR set; arg: Result code
	EventStopped    EventCode = 6 // CONTROL.STOP stopped free-running or a RUN
	EventInputDrop  EventCode = 7 // a SPIKES record from SPKIN was dropped; arg: port, value: spikes
)

// Events documents the event codes.
var Events = []struct {
	Code EventCode
	Name string
	Doc  string
}{
	{EventBoot, "BOOT", "the firmware booted; arg: slot, value: firmware version"},
	{EventThrottle, "THROTTLE", "throttling started; arg: THROTTLE_* reasons, value: temperature in m°C"},
	{EventUnthrottle, "UNTHROTTLE", "throttling ended; value: temperature in m°C"},
	{EventReset, "RESET", "CONTROL.RESET acted"},
	{EventError, "ERROR", "STATUS.ERROR was set; arg: Result code"},
	{EventStopped, "STOPPED", "CONTROL.STOP stopped free-running or a RUN; value: timestep"},
	{EventInputDrop, "INPUT_DROP", "a SPIKES record from SPKIN was dropped (malformed, no such port, a neuron out of range); arg: port, value: spikes in it"},
}

func (c EventCode) String() string {
	for _, d := range Events {
		if d.Code == c {
			return d.Name
		}
	}
	return fmt.Sprintf("EventCode(%d)", uint16(c))
}

// Throttle reasons (SENSORS throttle, THROTTLE event arg).
const (
	ThrottleThermal uint32 = 1 << 0
	ThrottlePower   uint32 = 1 << 1
)

// Flash slots and slot flags.
const (
	SlotGolden = 0
	SlotA      = 1
	SlotB      = 2
	NumSlots   = 3

	SlotValid      uint32 = 1 << 0
	SlotFlagGolden uint32 = 1 << 1
	SlotBooted     uint32 = 1 << 2
)

// Rail is a power rail with a power monitor.
type Rail uint32

// Rails.
const (
	RailCore Rail = 0 // the chip's core supply
	RailIO   Rail = 1 // I/O
	RailDDR  Rail = 2 // DDR memory
	NumRails      = 3
)

func (r Rail) String() string {
	switch r {
	case RailCore:
		return "core"
	case RailIO:
		return "io"
	case RailDDR:
		return "ddr"
	}
	return fmt.Sprintf("Rail(%d)", uint32(r))
}

// Sizes of results with entries.
const (
	SensorsHeaderSize   = 24
	RailSize            = 16
	FlashInfoHeaderSize = 16
	SlotInfoSize        = 24
)
