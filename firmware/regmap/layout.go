package regmap

// Layout describes a fixed-size, little-endian structure of the protocol field by field. The
// tables below are what docs/regmap.md and the C header are generated from; the Go encoders
// and decoders use the same offsets (the Off* constants), and a test checks each encoder
// against its table.
type Layout struct {
	Name   string // C name: lrchip_<Name>
	Doc    string
	Size   int
	Fields []LField
	Tail   string // what follows the fixed part, "" for nothing
}

// LField is one field of a Layout. Type is one of u8, u16, u32, u64, i32, i64, or
// "u8[N]" for a byte array.
type LField struct {
	Name string
	Off  int
	Type string
	Doc  string
}

// Record types: the Type field of the ring record header (runtime/ring). 0 is the ring's
// padding and 0xff00 up are reserved by the ring.
const (
	TypeCommand    uint16 = 0x0001 // CMD
	TypeCompletion uint16 = 0x0002 // CPL
	TypeEvent      uint16 = 0x0003 // CPL
	TypeSpikes     uint16 = 0x0004 // SPKIN, OUT
	TypeProbe      uint16 = 0x0005 // OUT
)

// RecordTypes lists the record types for the documentation.
var RecordTypes = []struct {
	Type   uint16
	Name   string
	Rings  string
	Layout *Layout
}{
	{TypeCommand, "COMMAND", "CMD", &CommandLayout},
	{TypeCompletion, "COMPLETION", "CPL", &CompletionLayout},
	{TypeEvent, "EVENT", "CPL", &EventLayout},
	{TypeSpikes, "SPIKES", "SPKIN, OUT", &SpikesLayout},
	{TypeProbe, "PROBE", "OUT", &ProbeLayout},
}

// Record layouts.
var (
	CommandLayout = Layout{Name: "cmd", Doc: "a command (CMD ring)", Size: CommandHeaderSize, Fields: []LField{
		{"tag", 0, "u32", "chosen by the host; the completion carries it back"},
		{"op", 4, "u16", "opcode (Op)"},
		{"flags", 6, "u16", "CMD_FLAG_QUIET: complete only on failure"},
	}, Tail: "the opcode's arguments"}
	CompletionLayout = Layout{Name: "cpl", Doc: "the completion of a command (CPL ring)", Size: CompletionHeaderSize, Fields: []LField{
		{"tag", 0, "u32", "the command's tag"},
		{"op", 4, "u16", "the command's opcode"},
		{"result", 6, "u16", "Result code; 0 is success"},
		{"timestep", 8, "u64", "the board's timestep when the command completed"},
	}, Tail: "on success the opcode's result; on failure a UTF-8 message (at most 256 bytes) saying what and where"}
	EventLayout = Layout{Name: "event", Doc: "an event the board raises on its own (CPL ring)", Size: EventSize, Fields: []LField{
		{"code", 0, "u16", "EventCode"},
		{"flags", 2, "u16", "reserved, 0"},
		{"arg", 4, "u32", "per code"},
		{"timestep", 8, "u64", "the board's timestep"},
		{"value", 16, "i64", "per code"},
	}}
	SpikesLayout = Layout{Name: "spikes", Doc: "spikes of one port in one step (SPKIN: injected on an input port; OUT: emitted on an output port)", Size: SpikesHeaderSize, Fields: []LField{
		{"port", 0, "u16", "input port (SPKIN) or output port (OUT)"},
		{"flags", 2, "u16", "reserved, 0"},
		{"count", 4, "u32", "number of spike entries that follow; the record holds exactly that many"},
		{"timestep", 8, "u64", "SPKIN: the step whose spikes they are, 0 for the next step; OUT: the step that emitted them"},
	}, Tail: "count × spike"}
	SpikeLayout = Layout{Name: "spike", Doc: "one spike", Size: SpikeSize, Fields: []LField{
		{"neuron", 0, "u32", "neuron index within the port"},
		{"payload", 4, "i32", "1 for a binary spike; a graded payload is the full int32, as Lava carries it"},
	}}
	ProbeLayout = Layout{Name: "probe", Doc: "one step's samples of one probe (OUT ring)", Size: ProbeHeaderSize, Fields: []LField{
		{"probe", 0, "u16", "probe index, in the order the network image declares them"},
		{"flags", 2, "u16", "reserved, 0"},
		{"count", 4, "u32", "number of i32 values that follow, one per probed neuron"},
		{"timestep", 8, "u64", "the step sampled"},
	}, Tail: "count × i32"}
)

// Sizes of the fixed parts.
const (
	CommandHeaderSize    = 8
	CompletionHeaderSize = 16
	EventSize            = 24
	SpikesHeaderSize     = 16
	SpikeSize            = 8
	ProbeHeaderSize      = 16

	// MaxMessage bounds the message of a failed completion.
	MaxMessage = 256
)
