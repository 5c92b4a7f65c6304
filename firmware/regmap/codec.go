package regmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every decoding error: a record or message whose size, count or
// reserved fields do not agree with its layout.
var ErrMalformed = errors.New("malformed record")

var le = binary.LittleEndian

func malformed(what string, format string, args ...any) error {
	return fmt.Errorf("regmap: %s: %s: %w", what, fmt.Sprintf(format, args...), ErrMalformed)
}

func needExact(what string, b []byte, n int) error {
	if len(b) != n {
		return malformed(what, "%d bytes, want %d", len(b), n)
	}
	return nil
}

func needAtLeast(what string, b []byte, n int) error {
	if len(b) < n {
		return malformed(what, "%d bytes, shorter than its %d-byte header", len(b), n)
	}
	return nil
}

// Command is a decoded command record.
type Command struct {
	Tag   uint32
	Op    Op
	Flags uint16
	Args  []byte // aliases the record
}

// CommandSize is the payload size of a command with n bytes of arguments.
func CommandSize(n int) int { return CommandHeaderSize + n }

// PutCommand writes c into b, which must hold CommandSize(len(c.Args)) bytes.
func PutCommand(b []byte, c Command) {
	PutCommandHeader(b, c.Tag, c.Op, c.Flags)
	copy(b[CommandHeaderSize:], c.Args)
}

// PutCommandHeader writes the fixed part of a command; the arguments follow at
// CommandHeaderSize.
func PutCommandHeader(b []byte, tag uint32, op Op, flags uint16) {
	le.PutUint32(b[0:], tag)
	le.PutUint16(b[4:], uint16(op))
	le.PutUint16(b[6:], flags)
}

// DecodeCommand decodes a command record. Unknown flags are an error; the opcode and the
// arguments are checked by the opcode's decoder.
func DecodeCommand(b []byte) (Command, error) {
	if err := needAtLeast("command", b, CommandHeaderSize); err != nil {
		return Command{}, err
	}
	c := Command{Tag: le.Uint32(b[0:]), Op: Op(le.Uint16(b[4:])), Flags: le.Uint16(b[6:]), Args: b[CommandHeaderSize:]}
	if c.Flags&^CmdFlagQuiet != 0 {
		return c, malformed("command", "tag %d has unknown flags %#x", c.Tag, c.Flags)
	}
	return c, nil
}

// Completion is a decoded completion record.
type Completion struct {
	Tag      uint32
	Op       Op
	Result   Result
	Timestep uint64
	Data     []byte // the result, or the failure message; aliases the record
}

// CompletionSize is the payload size of a completion with n bytes of data.
func CompletionSize(n int) int { return CompletionHeaderSize + n }

// PutCompletion writes c into b, which must hold CompletionSize(len(c.Data)) bytes.
func PutCompletion(b []byte, c Completion) {
	le.PutUint32(b[0:], c.Tag)
	le.PutUint16(b[4:], uint16(c.Op))
	le.PutUint16(b[6:], uint16(c.Result))
	le.PutUint64(b[8:], c.Timestep)
	copy(b[CompletionHeaderSize:], c.Data)
}

// DecodeCompletion decodes a completion record. A failure's message may be at most
// MaxMessage bytes.
func DecodeCompletion(b []byte) (Completion, error) {
	if err := needAtLeast("completion", b, CompletionHeaderSize); err != nil {
		return Completion{}, err
	}
	c := Completion{Tag: le.Uint32(b[0:]), Op: Op(le.Uint16(b[4:])), Result: Result(le.Uint16(b[6:])),
		Timestep: le.Uint64(b[8:]), Data: b[CompletionHeaderSize:]}
	if c.Result != ResultOK && len(c.Data) > MaxMessage {
		return c, malformed("completion", "tag %d: failure message of %d bytes, more than %d", c.Tag, len(c.Data), MaxMessage)
	}
	return c, nil
}

// Message returns a failed completion's message, made printable.
func (c Completion) Message() string {
	return Printable(c.Data)
}

// Printable turns bytes from a board into a printable string: invalid UTF-8 and control
// characters become U+FFFD, and the result is at most MaxMessage bytes of input.
func Printable(b []byte) string {
	if len(b) > MaxMessage {
		b = b[:MaxMessage]
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, string(b))
}

// Event is a decoded event record.
type Event struct {
	Code     EventCode
	Arg      uint32
	Timestep uint64
	Value    int64
}

// PutEvent writes e into b (EventSize bytes).
func PutEvent(b []byte, e Event) {
	le.PutUint16(b[0:], uint16(e.Code))
	le.PutUint16(b[2:], 0)
	le.PutUint32(b[4:], e.Arg)
	le.PutUint64(b[8:], e.Timestep)
	le.PutUint64(b[16:], uint64(e.Value))
}

// DecodeEvent decodes an event record.
func DecodeEvent(b []byte) (Event, error) {
	if err := needExact("event", b, EventSize); err != nil {
		return Event{}, err
	}
	if f := le.Uint16(b[2:]); f != 0 {
		return Event{}, malformed("event", "reserved flags %#x", f)
	}
	return Event{Code: EventCode(le.Uint16(b[0:])), Arg: le.Uint32(b[4:]), Timestep: le.Uint64(b[8:]), Value: int64(le.Uint64(b[16:]))}, nil
}

// Spike is one spike entry.
type Spike struct {
	Neuron  uint32
	Payload int32
}

// SpikesHeader is the fixed part of a spikes record.
type SpikesHeader struct {
	Port     uint16
	Count    uint32
	Timestep uint64
}

// SpikesSize is the payload size of a spikes record of n spikes.
func SpikesSize(n int) int { return SpikesHeaderSize + n*SpikeSize }

// PutSpikes writes a spikes record into b (SpikesSize(len(s)) bytes).
func PutSpikes(b []byte, port uint16, timestep uint64, s []Spike) {
	le.PutUint16(b[0:], port)
	le.PutUint16(b[2:], 0)
	le.PutUint32(b[4:], uint32(len(s)))
	le.PutUint64(b[8:], timestep)
	o := b[SpikesHeaderSize:]
	for i, x := range s {
		le.PutUint32(o[i*SpikeSize:], x.Neuron)
		le.PutUint32(o[i*SpikeSize+4:], uint32(x.Payload))
	}
}

// DecodeSpikes decodes a spikes record and appends its spikes to dst.
func DecodeSpikes(b []byte, dst []Spike) (SpikesHeader, []Spike, error) {
	if err := needAtLeast("spikes", b, SpikesHeaderSize); err != nil {
		return SpikesHeader{}, dst, err
	}
	h := SpikesHeader{Port: le.Uint16(b[0:]), Count: le.Uint32(b[4:]), Timestep: le.Uint64(b[8:])}
	if f := le.Uint16(b[2:]); f != 0 {
		return h, dst, malformed("spikes", "port %d: reserved flags %#x", h.Port, f)
	}
	if want := uint64(SpikesHeaderSize) + uint64(h.Count)*SpikeSize; uint64(len(b)) != want {
		return h, dst, malformed("spikes", "port %d: count %d needs %d bytes, record has %d", h.Port, h.Count, want, len(b))
	}
	o := b[SpikesHeaderSize:]
	for i := 0; i+SpikeSize <= len(o); i += SpikeSize {
		dst = append(dst, Spike{Neuron: le.Uint32(o[i:]), Payload: int32(le.Uint32(o[i+4:]))})
	}
	return h, dst, nil
}

// ProbeHeader is the fixed part of a probe record.
type ProbeHeader struct {
	Probe    uint16
	Count    uint32
	Timestep uint64
}

// ProbeSize is the payload size of a probe record of n values.
func ProbeSize(n int) int { return ProbeHeaderSize + 4*n }

// PutProbe writes a probe record into b (ProbeSize(len(v)) bytes).
func PutProbe(b []byte, probe uint16, timestep uint64, v []int32) {
	le.PutUint16(b[0:], probe)
	le.PutUint16(b[2:], 0)
	le.PutUint32(b[4:], uint32(len(v)))
	le.PutUint64(b[8:], timestep)
	for i, x := range v {
		le.PutUint32(b[ProbeHeaderSize+4*i:], uint32(x))
	}
}

// DecodeProbe decodes a probe record and appends its values to dst.
func DecodeProbe(b []byte, dst []int32) (ProbeHeader, []int32, error) {
	if err := needAtLeast("probe", b, ProbeHeaderSize); err != nil {
		return ProbeHeader{}, dst, err
	}
	h := ProbeHeader{Probe: le.Uint16(b[0:]), Count: le.Uint32(b[4:]), Timestep: le.Uint64(b[8:])}
	if f := le.Uint16(b[2:]); f != 0 {
		return h, dst, malformed("probe", "probe %d: reserved flags %#x", h.Probe, f)
	}
	if want := uint64(ProbeHeaderSize) + uint64(h.Count)*4; uint64(len(b)) != want {
		return h, dst, malformed("probe", "probe %d: count %d needs %d bytes, record has %d", h.Probe, h.Count, want, len(b))
	}
	for i := ProbeHeaderSize; i+4 <= len(b); i += 4 {
		dst = append(dst, int32(le.Uint32(b[i:])))
	}
	return h, dst, nil
}

// --- Arguments and results of the opcodes ---

// U64Args is the argument of LOAD_BEGIN (size) and RUN (steps).
func AppendU64(b []byte, v uint64) []byte { return le.AppendUint64(b, v) }

// DecodeU64Args decodes an 8-byte argument (LOAD_BEGIN, RUN).
func DecodeU64Args(op Op, b []byte) (uint64, error) {
	if err := needExact(op.String()+" arguments", b, 8); err != nil {
		return 0, err
	}
	return le.Uint64(b), nil
}

// DataArgs is the argument of LOAD_DATA (Offset in the image), MEM_WRITE (Core, Offset) and
// FLASH_DATA (Slot as Core, Offset): a fixed part and bytes.
type DataArgs struct {
	Core   uint32 // MEM_WRITE: core; FLASH_DATA: slot; LOAD_DATA: unused
	Offset uint64
	Data   []byte // aliases the record
}

// AppendDataArgsHeader appends the fixed part of op's arguments; the data follows.
func AppendDataArgsHeader(b []byte, op Op, core uint32, off uint64) []byte {
	if op == OpLoadData {
		return le.AppendUint64(b, off)
	}
	b = le.AppendUint32(b, core)
	return le.AppendUint32(b, uint32(off))
}

// DataArgsHeaderSize is the size of the fixed part of LOAD_DATA, MEM_WRITE and FLASH_DATA
// arguments.
const DataArgsHeaderSize = 8

// DecodeDataArgs decodes LOAD_DATA, MEM_WRITE or FLASH_DATA arguments.
func DecodeDataArgs(op Op, b []byte) (DataArgs, error) {
	if err := needAtLeast(op.String()+" arguments", b, DataArgsHeaderSize); err != nil {
		return DataArgs{}, err
	}
	if op == OpLoadData {
		return DataArgs{Offset: le.Uint64(b), Data: b[8:]}, nil
	}
	return DataArgs{Core: le.Uint32(b), Offset: uint64(le.Uint32(b[4:])), Data: b[8:]}, nil
}

// LoadEndArgs are LOAD_END's arguments.
type LoadEndArgs struct {
	Size  uint64
	CRC32 uint32
	Flags uint32
}

// Append appends the encoded arguments.
func (a LoadEndArgs) Append(b []byte) []byte {
	b = le.AppendUint64(b, a.Size)
	b = le.AppendUint32(b, a.CRC32)
	return le.AppendUint32(b, a.Flags)
}

// DecodeLoadEndArgs decodes LOAD_END's arguments.
func DecodeLoadEndArgs(b []byte) (LoadEndArgs, error) {
	if err := needExact("LOAD_END arguments", b, 16); err != nil {
		return LoadEndArgs{}, err
	}
	a := LoadEndArgs{Size: le.Uint64(b), CRC32: le.Uint32(b[8:]), Flags: le.Uint32(b[12:])}
	if a.Flags&^LoadFlagDryRun != 0 {
		return a, malformed("LOAD_END arguments", "unknown flags %#x", a.Flags)
	}
	return a, nil
}

// LoadResult is LOAD_END's result.
type LoadResult struct {
	Inputs, Outputs, Probes, Cores uint32
}

// Append appends the encoded result.
func (r LoadResult) Append(b []byte) []byte {
	for _, v := range [...]uint32{r.Inputs, r.Outputs, r.Probes, r.Cores} {
		b = le.AppendUint32(b, v)
	}
	return b
}

// DecodeLoadResult decodes LOAD_END's result.
func DecodeLoadResult(b []byte) (LoadResult, error) {
	if err := needExact("LOAD_END result", b, 16); err != nil {
		return LoadResult{}, err
	}
	return LoadResult{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])}, nil
}

// MemReadArgs are MEM_READ's arguments.
type MemReadArgs struct {
	Core, Offset, Length uint32
}

// Append appends the encoded arguments.
func (a MemReadArgs) Append(b []byte) []byte {
	for _, v := range [...]uint32{a.Core, a.Offset, a.Length, 0} {
		b = le.AppendUint32(b, v)
	}
	return b
}

// DecodeMemReadArgs decodes MEM_READ's arguments.
func DecodeMemReadArgs(b []byte) (MemReadArgs, error) {
	if err := needExact("MEM_READ arguments", b, 16); err != nil {
		return MemReadArgs{}, err
	}
	if r := le.Uint32(b[12:]); r != 0 {
		return MemReadArgs{}, malformed("MEM_READ arguments", "reserved word %#x", r)
	}
	return MemReadArgs{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])}, nil
}

// RailReading is one rail of a SENSORS result, in the wire's units.
type RailReading struct {
	Rail      Rail
	BusUV     uint32
	CurrentUA int32
	PowerUW   uint32
}

// Sensors is SENSORS' result.
type Sensors struct {
	TemperatureMC int32
	Throttle      uint32
	ClockKHz      uint32
	StepNS        uint32
	Rails         []RailReading
}

// Append appends the encoded result.
func (s Sensors) Append(b []byte) []byte {
	b = le.AppendUint32(b, uint32(s.TemperatureMC))
	b = le.AppendUint32(b, s.Throttle)
	b = le.AppendUint32(b, s.ClockKHz)
	b = le.AppendUint32(b, uint32(len(s.Rails)))
	b = le.AppendUint32(b, s.StepNS)
	b = le.AppendUint32(b, 0)
	for _, r := range s.Rails {
		b = le.AppendUint32(b, uint32(r.Rail))
		b = le.AppendUint32(b, r.BusUV)
		b = le.AppendUint32(b, uint32(r.CurrentUA))
		b = le.AppendUint32(b, r.PowerUW)
	}
	return b
}

// DecodeSensors decodes SENSORS' result.
func DecodeSensors(b []byte) (Sensors, error) {
	if err := needAtLeast("SENSORS result", b, SensorsHeaderSize); err != nil {
		return Sensors{}, err
	}
	s := Sensors{TemperatureMC: int32(le.Uint32(b)), Throttle: le.Uint32(b[4:]), ClockKHz: le.Uint32(b[8:]), StepNS: le.Uint32(b[16:])}
	n := le.Uint32(b[12:])
	if want := uint64(SensorsHeaderSize) + uint64(n)*RailSize; uint64(len(b)) != want {
		return Sensors{}, malformed("SENSORS result", "%d rails need %d bytes, result has %d", n, want, len(b))
	}
	if r := le.Uint32(b[20:]); r != 0 {
		return Sensors{}, malformed("SENSORS result", "reserved word %#x", r)
	}
	for i := SensorsHeaderSize; i < len(b); i += RailSize {
		s.Rails = append(s.Rails, RailReading{Rail(le.Uint32(b[i:])), le.Uint32(b[i+4:]), int32(le.Uint32(b[i+8:])), le.Uint32(b[i+12:])})
	}
	return s, nil
}

// SlotInfo is one slot of a FLASH_INFO result.
type SlotInfo struct {
	Slot    uint32
	Flags   uint32
	Version FWVersion
	Seq     uint32
	Size    uint32
	CRC32   uint32
}

// FlashInfo is FLASH_INFO's result.
type FlashInfo struct {
	Booted   uint32
	SlotSize uint32
	Slots    []SlotInfo
}

// Append appends the encoded result.
func (f FlashInfo) Append(b []byte) []byte {
	b = le.AppendUint32(b, f.Booted)
	b = le.AppendUint32(b, uint32(len(f.Slots)))
	b = le.AppendUint32(b, f.SlotSize)
	b = le.AppendUint32(b, 0)
	for _, s := range f.Slots {
		for _, v := range [...]uint32{s.Slot, s.Flags, uint32(s.Version), s.Seq, s.Size, s.CRC32} {
			b = le.AppendUint32(b, v)
		}
	}
	return b
}

// DecodeFlashInfo decodes FLASH_INFO's result.
func DecodeFlashInfo(b []byte) (FlashInfo, error) {
	if err := needAtLeast("FLASH_INFO result", b, FlashInfoHeaderSize); err != nil {
		return FlashInfo{}, err
	}
	f := FlashInfo{Booted: le.Uint32(b), SlotSize: le.Uint32(b[8:])}
	n := le.Uint32(b[4:])
	if want := uint64(FlashInfoHeaderSize) + uint64(n)*SlotInfoSize; uint64(len(b)) != want {
		return FlashInfo{}, malformed("FLASH_INFO result", "%d slots need %d bytes, result has %d", n, want, len(b))
	}
	if r := le.Uint32(b[12:]); r != 0 {
		return FlashInfo{}, malformed("FLASH_INFO result", "reserved word %#x", r)
	}
	for i := FlashInfoHeaderSize; i < len(b); i += SlotInfoSize {
		w := func(k int) uint32 { return le.Uint32(b[i+4*k:]) }
		f.Slots = append(f.Slots, SlotInfo{w(0), w(1), FWVersion(w(2)), w(3), w(4), w(5)})
	}
	return f, nil
}

// FlashBeginArgs are FLASH_BEGIN's arguments.
type FlashBeginArgs struct {
	Slot    uint32
	Size    uint32
	Version FWVersion
	CRC32   uint32
}

// Append appends the encoded arguments.
func (a FlashBeginArgs) Append(b []byte) []byte {
	for _, v := range [...]uint32{a.Slot, a.Size, uint32(a.Version), a.CRC32} {
		b = le.AppendUint32(b, v)
	}
	return b
}

// DecodeFlashBeginArgs decodes FLASH_BEGIN's arguments.
func DecodeFlashBeginArgs(b []byte) (FlashBeginArgs, error) {
	if err := needExact("FLASH_BEGIN arguments", b, 16); err != nil {
		return FlashBeginArgs{}, err
	}
	return FlashBeginArgs{le.Uint32(b), le.Uint32(b[4:]), FWVersion(le.Uint32(b[8:])), le.Uint32(b[12:])}, nil
}

// AppendFlashEndArgs appends FLASH_END's arguments.
func AppendFlashEndArgs(b []byte, slot uint32) []byte {
	return le.AppendUint32(le.AppendUint32(b, slot), 0)
}

// DecodeFlashEndArgs decodes FLASH_END's arguments.
func DecodeFlashEndArgs(b []byte) (uint32, error) {
	if err := needExact("FLASH_END arguments", b, 8); err != nil {
		return 0, err
	}
	if r := le.Uint32(b[4:]); r != 0 {
		return 0, malformed("FLASH_END arguments", "reserved word %#x", r)
	}
	return le.Uint32(b), nil
}

// ProbeAddArgs are PROBE_ADD's arguments.
type ProbeAddArgs struct {
	Core    uint32
	Kind    ProbeField
	Index   uint16
	Neurons []uint32
}

// Append appends the encoded arguments.
func (a ProbeAddArgs) Append(b []byte) []byte {
	b = le.AppendUint32(b, a.Core)
	b = le.AppendUint16(b, uint16(a.Kind))
	b = le.AppendUint16(b, a.Index)
	b = le.AppendUint32(b, uint32(len(a.Neurons)))
	b = le.AppendUint32(b, 0)
	for _, n := range a.Neurons {
		b = le.AppendUint32(b, n)
	}
	return b
}

// DecodeProbeAddArgs decodes PROBE_ADD's arguments.
func DecodeProbeAddArgs(b []byte) (ProbeAddArgs, error) {
	const what = "PROBE_ADD arguments"
	if err := needAtLeast(what, b, 16); err != nil {
		return ProbeAddArgs{}, err
	}
	a := ProbeAddArgs{Core: le.Uint32(b), Kind: ProbeField(le.Uint16(b[4:])), Index: le.Uint16(b[6:])}
	n := le.Uint32(b[8:])
	if want := 16 + uint64(n)*4; uint64(len(b)) != want {
		return a, malformed(what, "%d neurons need %d bytes, arguments have %d", n, want, len(b))
	}
	if r := le.Uint32(b[12:]); r != 0 {
		return a, malformed(what, "reserved word %#x", r)
	}
	if a.Kind > ProbeSpike || (a.Kind != ProbeState && a.Index != 0) {
		return a, malformed(what, "field kind %d index %d", a.Kind, a.Index)
	}
	a.Neurons = make([]uint32, n)
	for i := range a.Neurons {
		a.Neurons[i] = le.Uint32(b[16+4*i:])
	}
	return a, nil
}

// AppendProbeAddResult appends PROBE_ADD's result.
func AppendProbeAddResult(b []byte, probe uint32) []byte {
	return le.AppendUint32(le.AppendUint32(b, probe), 0)
}

// DecodeProbeAddResult decodes PROBE_ADD's result.
func DecodeProbeAddResult(b []byte) (uint32, error) {
	if err := needExact("PROBE_ADD result", b, 8); err != nil {
		return 0, err
	}
	if r := le.Uint32(b[4:]); r != 0 {
		return 0, malformed("PROBE_ADD result", "reserved word %#x", r)
	}
	return le.Uint32(b), nil
}

// AppendLoadDMAArgs appends LOAD_DMA's arguments.
func AppendLoadDMAArgs(b []byte, off, n uint64) []byte {
	return le.AppendUint64(le.AppendUint64(b, off), n)
}

// DecodeLoadDMAArgs decodes LOAD_DMA's arguments.
func DecodeLoadDMAArgs(b []byte) (off, n uint64, err error) {
	if err := needExact("LOAD_DMA arguments", b, 16); err != nil {
		return 0, 0, err
	}
	return le.Uint64(b), le.Uint64(b[8:]), nil
}
