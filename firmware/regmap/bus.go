package regmap

import "fmt"

// The board's buses as the host reaches them (docs/regmap.md §12): raw transactions on the
// SPI controller of the configuration flash (SPI_XFER) and on the sensor I²C bus (I2C_XFER),
// so that the host runs the device drivers (an SPI NOR driver, INA226 and TMP117 drivers) on
// periph.io's spi.Conn and i2c.Bus; and STATS, the board's counters since boot, for live
// health views. The opcodes, their result code and the parts on the buses are defined here,
// once.

// Bus opcodes.
const (
	OpSPIXfer Op = 0x12
	OpI2CXfer Op = 0x13
	OpStats   Op = 0x14
)

// ResultNack is the result of an I2C_XFER that a target did not acknowledge.
const ResultNack Result = 10

// SPI_XFER flags.
const (
	// SPIFlagKeepCS leaves chip select asserted after the transfer: the next SPI_XFER on the
	// bus continues the same transaction (periph's Packet.KeepCS).
	SPIFlagKeepCS uint16 = 1 << 0
	// SPIFlagRead asks for the bytes clocked in (MISO) as the result.
	SPIFlagRead uint16 = 1 << 1
)

// Buses.
const (
	SPIBusFlash = 0 // the SPI controller of the configuration flash
	I2CBusSense = 0 // the I²C bus of the power monitors and the temperature sensor
)

// MaxSPIXfer bounds the bytes of one SPI_XFER, and MaxI2CXfer those written or read by one
// I2C_XFER (besides CAP_PAYLOAD).
const (
	MaxSPIXfer = 64 << 10
	MaxI2CXfer = 256
)

// Argument and result layouts of the bus commands.
var (
	SPIXferLayout = Layout{Name: "spi_xfer_args", Size: 8, Fields: []LField{
		{"bus", 0, "u16", "SPI controller: 0 the configuration flash"},
		{"flags", 2, "u16", "SPI_FLAG_KEEP_CS: chip select stays asserted after; SPI_FLAG_READ: return the bytes clocked in"},
		{"length", 4, "u32", "bytes clocked, full duplex, at most MAX_SPI_XFER; chip select is asserted before the first"},
	}, Tail: "up to length bytes to clock out (MOSI); the rest are clocked out as 0x00"}
	SPIXferResultLayout = Layout{Name: "spi_xfer_result", Tail: "with SPI_FLAG_READ, the length bytes clocked in (MISO); else nothing"}
	I2CXferLayout       = Layout{Name: "i2c_xfer_args", Size: 8, Fields: []LField{
		{"bus", 0, "u16", "I²C bus: 0 the sensor bus"},
		{"addr", 2, "u16", "7-bit target address"},
		{"read", 4, "u32", "bytes to read after the write (a repeated start between them), at most MAX_I2C_XFER"},
	}, Tail: "the bytes to write, at most MAX_I2C_XFER; a failure to acknowledge completes with NACK"}
	I2CXferResultLayout = Layout{Name: "i2c_xfer_result", Tail: "the read bytes read"}
	StatsLayout         = Layout{Name: "stats", Doc: "the board's counters since it booted", Size: StatsSize, Fields: []LField{
		{"timesteps", 0, "u64", "timesteps run since boot (not reset by RESET or a load)"},
		{"spikes_out", 8, "u64", "spikes emitted on output ports"},
		{"spikes_in", 16, "u64", "spikes injected on input ports"},
		{"neuron_updates", 24, "u64", "neuron updates"},
		{"synaptic_events", 32, "u64", "synaptic events"},
		{"throttle_events", 40, "u32", "times throttling started"},
		{"reboots", 44, "u32", "boots since power-on, the first included"},
		{"ring_used", 48, "u32[4]", "bytes in each ring now (CMD, CPL, SPKIN, OUT), as the board sees it"},
		{"ring_size", 64, "u32[4]", "each ring's data capacity in bytes"},
		{"busy_ns", 80, "u64", "emulated or measured time spent running steps, ns"},
	}}
)

// StatsSize is the size of STATS' result.
const StatsSize = 88

// busOps are the bus commands; init adds them to Ops, and NACK to Results, so that every
// table generated from those lists has them.
var busOps = []OpDesc{
	{OpSPIXfer, "SPI_XFER", "one full-duplex transfer on an SPI controller (chip select asserted for it, and kept with SPI_FLAG_KEEP_CS)", &SPIXferLayout, &SPIXferResultLayout, false},
	{OpI2CXfer, "I2C_XFER", "one I²C transaction: write, then read after a repeated start; NACK when the target does not acknowledge", &I2CXferLayout, &I2CXferResultLayout, false},
	{OpStats, "STATS", "read the board's counters since boot: timesteps, spikes, throttle events, ring fill", nil, &StatsLayout, false},
}

func init() {
	Ops = append(Ops, busOps...)
	Results = append(Results, struct {
		Result Result
		Name   string
		Doc    string
	}{ResultNack, "NACK", "an I²C target did not acknowledge its address or a byte"})
}

// SPIXferArgs are SPI_XFER's arguments.
type SPIXferArgs struct {
	Bus    uint16
	Flags  uint16
	Length uint32
	Tx     []byte // aliases the record when decoded
}

// Append appends the encoded arguments.
func (a SPIXferArgs) Append(b []byte) []byte {
	b = le.AppendUint16(b, a.Bus)
	b = le.AppendUint16(b, a.Flags)
	b = le.AppendUint32(b, a.Length)
	return append(b, a.Tx...)
}

// DecodeSPIXferArgs decodes SPI_XFER's arguments.
func DecodeSPIXferArgs(b []byte) (SPIXferArgs, error) {
	const what = "SPI_XFER arguments"
	if err := needAtLeast(what, b, 8); err != nil {
		return SPIXferArgs{}, err
	}
	a := SPIXferArgs{Bus: le.Uint16(b), Flags: le.Uint16(b[2:]), Length: le.Uint32(b[4:]), Tx: b[8:]}
	switch {
	case a.Flags&^(SPIFlagKeepCS|SPIFlagRead) != 0:
		return a, malformed(what, "unknown flags %#x", a.Flags)
	case a.Length > MaxSPIXfer:
		return a, malformed(what, "length %d, more than %d", a.Length, MaxSPIXfer)
	case uint64(len(a.Tx)) > uint64(a.Length):
		return a, malformed(what, "%d bytes to send in a %d-byte transfer", len(a.Tx), a.Length)
	}
	return a, nil
}

// I2CXferArgs are I2C_XFER's arguments.
type I2CXferArgs struct {
	Bus   uint16
	Addr  uint16
	Read  uint32
	Write []byte // aliases the record when decoded
}

// Append appends the encoded arguments.
func (a I2CXferArgs) Append(b []byte) []byte {
	b = le.AppendUint16(b, a.Bus)
	b = le.AppendUint16(b, a.Addr)
	b = le.AppendUint32(b, a.Read)
	return append(b, a.Write...)
}

// DecodeI2CXferArgs decodes I2C_XFER's arguments.
func DecodeI2CXferArgs(b []byte) (I2CXferArgs, error) {
	const what = "I2C_XFER arguments"
	if err := needAtLeast(what, b, 8); err != nil {
		return I2CXferArgs{}, err
	}
	a := I2CXferArgs{Bus: le.Uint16(b), Addr: le.Uint16(b[2:]), Read: le.Uint32(b[4:]), Write: b[8:]}
	switch {
	case a.Addr > 0x7f:
		return a, malformed(what, "address %#x is not a 7-bit address", a.Addr)
	case a.Read > MaxI2CXfer || len(a.Write) > MaxI2CXfer:
		return a, malformed(what, "%d bytes to write and %d to read, more than %d", len(a.Write), a.Read, MaxI2CXfer)
	case a.Read == 0 && len(a.Write) == 0:
		return a, malformed(what, "nothing to write or read")
	}
	return a, nil
}

// Stats is STATS' result.
type Stats struct {
	Timesteps      uint64
	SpikesOut      uint64
	SpikesIn       uint64
	NeuronUpdates  uint64
	SynapticEvents uint64
	ThrottleEvents uint32
	Reboots        uint32
	RingUsed       [NumRings]uint32
	RingSize       [NumRings]uint32
	BusyNS         uint64
}

// Append appends the encoded result.
func (s Stats) Append(b []byte) []byte {
	for _, v := range [...]uint64{s.Timesteps, s.SpikesOut, s.SpikesIn, s.NeuronUpdates, s.SynapticEvents} {
		b = le.AppendUint64(b, v)
	}
	b = le.AppendUint32(b, s.ThrottleEvents)
	b = le.AppendUint32(b, s.Reboots)
	for _, v := range s.RingUsed {
		b = le.AppendUint32(b, v)
	}
	for _, v := range s.RingSize {
		b = le.AppendUint32(b, v)
	}
	return le.AppendUint64(b, s.BusyNS)
}

// DecodeStats decodes STATS' result. A ring's fill above its size is malformed.
func DecodeStats(b []byte) (Stats, error) {
	if err := needExact("STATS result", b, StatsSize); err != nil {
		return Stats{}, err
	}
	s := Stats{Timesteps: le.Uint64(b), SpikesOut: le.Uint64(b[8:]), SpikesIn: le.Uint64(b[16:]), NeuronUpdates: le.Uint64(b[24:]),
		SynapticEvents: le.Uint64(b[32:]), ThrottleEvents: le.Uint32(b[40:]), Reboots: le.Uint32(b[44:]), BusyNS: le.Uint64(b[80:])}
	for i := range s.RingUsed {
		s.RingUsed[i], s.RingSize[i] = le.Uint32(b[48+4*i:]), le.Uint32(b[64+4*i:])
		if s.RingUsed[i] > s.RingSize[i] {
			return s, malformed("STATS result", "ring %v holds %d bytes of %d", Ring(i), s.RingUsed[i], s.RingSize[i])
		}
	}
	return s, nil
}

// --- the parts on the buses ---

// JEDEC ids and opcodes of the configuration flash's SPI NOR command set, as the emulated
// board's flash answers them and the host's SPI NOR driver uses them.
const (
	SPINorReadID   = 0x9F // JEDEC ID: manufacturer, memory type, capacity
	SPINorReadSFDP = 0x5A // SFDP: 3 address bytes, 1 dummy byte
	SPINorRDSR     = 0x05 // status register: bit 0 WIP, bit 1 WEL
	SPINorWREN     = 0x06
	SPINorWRDI     = 0x04
	SPINorRead     = 0x03 // read, 3-byte address (4 in 4-byte mode)
	SPINorFastRead = 0x0B // fast read: address, then one dummy byte
	SPINorPP       = 0x02 // page program, up to 256 bytes within a page
	SPINorSE       = 0x20 // 4 KiB sector erase
	SPINorEN4B     = 0xB7 // enter 4-byte address mode
	SPINorEX4B     = 0xE9 // exit 4-byte address mode
	SPINorRead4B   = 0x13 // read with a 4-byte address, in any mode
	SPINorPP4B     = 0x12 // page program with a 4-byte address
	SPINorSE4B     = 0x21 // 4 KiB sector erase with a 4-byte address
	SPINorReset    = 0x99 // reset (after 0x66, reset enable)
	SPINorResetEn  = 0x66

	SPINorStatusWIP = 1 << 0
	SPINorStatusWEL = 1 << 1

	SPINorPageSize = 256
)

// FlashPart is the SPI NOR flash a board carries.
type FlashPart struct {
	Name     string
	JEDEC    [3]byte // manufacturer, memory type, capacity code
	Size     int     // bytes
	SFDP     bool    // answers READ_SFDP with a basic flash parameter table
	FourByte bool    // has 4-byte opcodes and EN4B/EX4B (above 16 MiB they are needed)
}

// FlashParts are the SPI NOR parts the emulator models (the host's driver knows any part that
// has SFDP, and these by id when one does not). The emulated board carries EmulatedFlash.
var FlashParts = []FlashPart{
	{"Winbond W25Q32JV", [3]byte{0xEF, 0x40, 0x16}, 4 << 20, true, false},
	{"Winbond W25Q128JV", [3]byte{0xEF, 0x40, 0x18}, 16 << 20, true, false},
	{"Micron MT25QL256", [3]byte{0x20, 0xBA, 0x19}, 32 << 20, true, true},
	{"Macronix MX25L6433F", [3]byte{0xC2, 0x20, 0x17}, 8 << 20, false, false},
}

// EmulatedFlash is the index in FlashParts of the part the emulated board carries when its
// slots fit (a bigger part otherwise).
const EmulatedFlash = 0

// Sensor is a part on the sensor I²C bus.
type Sensor struct {
	Name string
	Part string // "INA226" or "TMP117"
	Addr uint16 // 7-bit address
	Rail Rail   // the rail an INA226 monitors
	// ShuntMilliohm and MaxCurrentMA configure an INA226: its calibration follows from them
	// (current LSB = max current / 2^15).
	ShuntMilliohm float64
	MaxCurrentMA  float64
}

// Sensors on the board's I²C bus: an INA226 per rail and a TMP117 on the die.
var SensorParts = []Sensor{
	{Name: "core", Part: "INA226", Addr: 0x40, Rail: RailCore, ShuntMilliohm: 2, MaxCurrentMA: 32768},
	{Name: "io", Part: "INA226", Addr: 0x41, Rail: RailIO, ShuntMilliohm: 10, MaxCurrentMA: 3276.8},
	{Name: "ddr", Part: "INA226", Addr: 0x44, Rail: RailDDR, ShuntMilliohm: 5, MaxCurrentMA: 6553.6},
	{Name: "die", Part: "TMP117", Addr: 0x48},
}

// SensorFor returns the INA226 of a rail.
func SensorFor(r Rail) (Sensor, error) {
	for _, s := range SensorParts {
		if s.Part == "INA226" && s.Rail == r {
			return s, nil
		}
	}
	return Sensor{}, fmt.Errorf("regmap: no power monitor on rail %v", r)
}

// ShuntNanoOhm returns an INA226's shunt in nΩ, rounded.
func (s Sensor) ShuntNanoOhm() int64 { return int64(s.ShuntMilliohm*1e6 + 0.5) }

// MaxCurrentNanoAmp returns an INA226's largest expected current in nA, rounded.
func (s Sensor) MaxCurrentNanoAmp() int64 { return int64(s.MaxCurrentMA*1e6 + 0.5) }
