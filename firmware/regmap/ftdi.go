package regmap

import "fmt"

// The recovery port (docs/regmap.md §13). Beside its USB function, a board carries an FTDI
// FT2232H on the same cable, whose channel A is wired, as on iCE40/ECP5 boards that
// openFPGALoader and iceprog program, to the configuration flash's SPI pins and to the FPGA's
// reset and done pins: with the FPGA held in reset (CRESET_B low) the FT2232H's MPSSE engine
// is the flash's SPI master, so that a board whose FPGA is blank or runs broken firmware can
// still have a slot written (lrctl fw recover). Released, the FPGA configures from the flash
// and raises CDONE. Channel B is the board's UART, left to the kernel's ftdi_sio.
//
// What the host sends is FTDI's: the vendor requests of its SIO interface on endpoint 0 and,
// in MPSSE mode, MPSSE commands on channel A's bulk OUT endpoint; bulk IN packets start with
// two status bytes. Only the subset below is used (and emulated, by emu/usbdev).

// USB ids and fixed numbers of the FT2232H.
const (
	FTDIVendorID  uint16 = 0x0403 // Future Technology Devices International
	FTDIProductID uint16 = 0x6010 // FT2232H (and FT2232C/D), the chip's default
	FTDIBcdDevice        = 0x0700 // bcdDevice of an FT2232H

	// FTDIManufacturer is the manufacturer string lrchip boards program into their FT2232H's
	// EEPROM; the udev rule matches it, so that the lab group gets the boards' FTDI chips and
	// no other FTDI adapter on the machine.
	FTDIManufacturer = "lrchip"

	FTDIInterfaceA   = 0    // bInterfaceNumber of channel A (the flash, MPSSE)
	FTDIInterfaceB   = 1    // ... of channel B (the board's UART)
	FTDIEndpointAIn  = 0x81 // channel A bulk IN
	FTDIEndpointAOut = 0x02 // channel A bulk OUT
	FTDIEndpointBIn  = 0x83
	FTDIEndpointBOut = 0x04
	FTDIPortA        = 1 // wIndex of the vendor requests for channel A (B is 2)
	FTDIMaxPacket    = 512
	FTDIStatusSize   = 2 // status bytes at the start of every bulk IN packet
	// FTDIModemStatus and FTDILineStatus are the status bytes of an idle channel (CTS and DSR;
	// transmitter empty). The host strips them.
	FTDIModemStatus = 0x32
	FTDILineStatus  = 0x60
	// FTDIBufferSize is each channel's FIFO, each way: the chip takes no more OUT data while
	// its receive FIFO is full and runs no more MPSSE commands while its transmit FIFO is
	// full, so a host reads what it asked for before it asks for more than this.
	FTDIBufferSize = 4096
	// FTDIDefaultLatency is the latency timer after reset, in milliseconds: a partly filled
	// packet goes to the host when it expires (or at SEND_IMMEDIATE).
	FTDIDefaultLatency = 16
	// FTDIClockHz is the MPSSE master clock with divide-by-5 off: SCK = FTDIClockHz / (2 ·
	// (1 + divisor)), 30 MHz down to 457 Hz.
	FTDIClockHz = 60_000_000
)

// FTDIRequest is a vendor request (bRequest) of the FT2232H's SIO interface: bmRequestType
// USBVendorOut (USBVendorIn for those with data in), wIndex the channel (FTDIPortA).
type FTDIRequest uint8

// The vendor requests used.
const (
	FTDIReqReset      FTDIRequest = 0x00 // wValue FTDIResetSIO, FTDIPurge1 or FTDIPurge2
	FTDIReqSetLatency FTDIRequest = 0x09 // wValue: the latency timer, 1 to 255 ms
	FTDIReqGetLatency FTDIRequest = 0x0A // in: 1 byte
	FTDIReqSetBitmode FTDIRequest = 0x0B // wValue: mode << 8 | pin mask
	FTDIReqReadPins   FTDIRequest = 0x0C // in: 1 byte, the low byte's pins
)

// Values of FTDIReqReset and FTDIReqSetBitmode. Which FIFO each purge empties is named
// inconsistently across FTDI's and libftdi's documentation; a host purges both.
const (
	FTDIResetSIO     = 0
	FTDIPurge1       = 1
	FTDIPurge2       = 2
	FTDIBitmodeReset = 0x00 // the channel's default function (UART)
	FTDIBitmodeMPSSE = 0x02
)

// MPSSE commands used (FTDI AN_108). The clock commands take a 16-bit length minus one,
// little-endian, then (when they write) that many bytes; SPI mode 0 and 3 write on the
// falling edge and read on the rising one, MSB first.
const (
	MPSSEWriteBytes    = 0x11 // clock bytes out on −edge, MSB first
	MPSSEReadBytes     = 0x20 // clock bytes in on +edge, MSB first
	MPSSEXferBytes     = 0x31 // out on −edge, in on +edge, MSB first
	MPSSESetLow        = 0x80 // value, direction of ADBUS7..0 (1: output)
	MPSSEGetLow        = 0x81 // → 1 byte: ADBUS7..0
	MPSSESetHigh       = 0x82 // value, direction of ACBUS7..0
	MPSSEGetHigh       = 0x83 // → 1 byte: ACBUS7..0
	MPSSELoopbackOn    = 0x84
	MPSSELoopbackOff   = 0x85
	MPSSESetDivisor    = 0x86 // divisor, 16 bits little-endian
	MPSSESendImmediate = 0x87 // send what the transmit FIFO holds now
	MPSSEDiv5Off       = 0x8A
	MPSSEDiv5On        = 0x8B
	MPSSE3PhaseOn      = 0x8C
	MPSSE3PhaseOff     = 0x8D
	MPSSEAdaptiveOn    = 0x96
	MPSSEAdaptiveOff   = 0x97
	// MPSSEBadCommand is what the engine answers to an opcode it does not know, followed by
	// that opcode: a host synchronises by sending a bad opcode (0xAA, 0xAB) and waiting for it.
	MPSSEBadCommand = 0xFA
	// MPSSEMaxClock is the most bytes one clock command moves.
	MPSSEMaxClock = 65536
)

// MPSSEOp describes an MPSSE command: its argument bytes after the opcode, and for the clock
// commands whether they write (data follows the arguments) and read (as many bytes come
// back). Emulator and docs use the table.
type MPSSEOp struct {
	Op     byte
	Name   string
	Args   int  // bytes after the opcode (a clock command's are its length)
	Clock  bool // Args is a length, Length+1 bytes are clocked
	Writes bool // a clock command whose data follows
	Reads  int  // bytes back: a clock command's Length+1 when 1, else this many
	Doc    string
}

// MPSSEOps is the subset of MPSSE this project uses; every other opcode is answered with
// MPSSEBadCommand by the emulator.
var MPSSEOps = []MPSSEOp{
	{MPSSEWriteBytes, "WRITE_BYTES", 2, true, true, 0, "clock the bytes out on the falling edge, MSB first (SPI write)"},
	{MPSSEReadBytes, "READ_BYTES", 2, true, false, 1, "clock length bytes in on the rising edge, MSB first (MOSI holds its level)"},
	{MPSSEXferBytes, "XFER_BYTES", 2, true, true, 1, "both at once: out on the falling edge, in on the rising one (SPI full duplex)"},
	{MPSSESetLow, "SET_LOW", 2, false, false, 0, "set ADBUS7..0: value, then direction (1 = output)"},
	{MPSSEGetLow, "GET_LOW", 0, false, false, 1, "read ADBUS7..0"},
	{MPSSESetHigh, "SET_HIGH", 2, false, false, 0, "set ACBUS7..0: value, then direction"},
	{MPSSEGetHigh, "GET_HIGH", 0, false, false, 1, "read ACBUS7..0"},
	{MPSSELoopbackOn, "LOOPBACK_ON", 0, false, false, 0, "connect MOSI to MISO inside the chip"},
	{MPSSELoopbackOff, "LOOPBACK_OFF", 0, false, false, 0, "disconnect them"},
	{MPSSESetDivisor, "SET_DIVISOR", 2, false, false, 0, "SCK = 60 MHz / (2 · (1 + divisor)) with divide-by-5 off"},
	{MPSSESendImmediate, "SEND_IMMEDIATE", 0, false, false, 0, "send the transmit FIFO to the host now, without waiting for the latency timer"},
	{MPSSEDiv5Off, "DIV5_OFF", 0, false, false, 0, "60 MHz master clock"},
	{MPSSEDiv5On, "DIV5_ON", 0, false, false, 0, "12 MHz master clock"},
	{MPSSE3PhaseOn, "3PHASE_ON", 0, false, false, 0, "three-phase clocking (I²C)"},
	{MPSSE3PhaseOff, "3PHASE_OFF", 0, false, false, 0, "two-phase clocking (SPI)"},
	{MPSSEAdaptiveOn, "ADAPTIVE_ON", 0, false, false, 0, "adaptive clocking (ARM JTAG RTCK)"},
	{MPSSEAdaptiveOff, "ADAPTIVE_OFF", 0, false, false, 0, "no adaptive clocking"},
}

// MPSSEOpFor returns the description of opcode op, if it is in the subset.
func MPSSEOpFor(op byte) (MPSSEOp, bool) {
	for _, o := range MPSSEOps {
		if o.Op == op {
			return o, true
		}
	}
	return MPSSEOp{}, false
}

// Channel A's pins (ADBUS bits): how the board wires its FT2232H.
const (
	FTDIPinSCK    = 0x01 // ADBUS0: the flash's SCK
	FTDIPinMOSI   = 0x02 // ADBUS1: the flash's DI
	FTDIPinMISO   = 0x04 // ADBUS2: the flash's DO (input)
	FTDIPinCS     = 0x10 // ADBUS4: the flash's CS#, active low
	FTDIPinCDONE  = 0x40 // ADBUS6: the FPGA's CDONE (input): high once it configured
	FTDIPinCRESET = 0x80 // ADBUS7: the FPGA's CRESET_B, active low, pulled up on the board
	// FTDIPinsSPI are the outputs while the host holds the FPGA in reset and masters the
	// flash; released, every pin is an input and the FPGA owns the flash again.
	FTDIPinsSPI = FTDIPinSCK | FTDIPinMOSI | FTDIPinCS | FTDIPinCRESET
)

// FTDIBoard says which board an FT2232H is on, by the product string of its EEPROM, and how
// that board lays its slots on the flash.
type FTDIBoard struct {
	Product string
	Board   BoardKind
	// SlotSize is the size of a flash slot in bytes; 0: package flash's default layout (the
	// flash's size divided by NumSlots, rounded down to a sector).
	SlotSize int
}

// EmulatorSlotSize is the emulated board's flash slot size (1 MiB: the emulator's firmware
// is small).
const EmulatorSlotSize = 1 << 20

// FTDIBoards lists the boards' FT2232H product strings.
var FTDIBoards = []FTDIBoard{
	{"lrchip emulator", BoardEmulator, EmulatorSlotSize},
	{"lrchip pcie-board", BoardPCIe, 0},
	{"lrchip usb-board", BoardUSB, 0},
}

// FTDIBoardFor returns the board an FT2232H with these strings is on; ok is false for an
// FTDI chip that is not an lrchip board's (another manufacturer, or an unknown product).
func FTDIBoardFor(manufacturer, product string) (b FTDIBoard, ok bool) {
	if manufacturer != FTDIManufacturer {
		return FTDIBoard{}, false
	}
	for _, b := range FTDIBoards {
		if b.Product == product {
			return b, true
		}
	}
	return FTDIBoard{}, false
}

// FTDIProductFor returns the product string of the FT2232H on a board of kind k.
func FTDIProductFor(k BoardKind) (string, error) {
	for _, b := range FTDIBoards {
		if b.Board == k {
			return b.Product, nil
		}
	}
	return "", fmt.Errorf("regmap: no FT2232H product string for board %s", k)
}

// The FT2232H's descriptors (high speed only): one configuration of two vendor-specific
// interfaces, one per channel, each with a bulk IN and a bulk OUT endpoint.
var (
	FTDIDeviceDescriptor = Descriptor{Name: "FT2232H device", Speeds: hsOnly, Fields: []DescField{
		same("bLength", 1, 18, "18"),
		same("bDescriptorType", 1, USBDescDevice, "DEVICE"),
		same("bcdUSB", 2, 0x0200, "USB 2.0"),
		same("bDeviceClass", 1, 0, "per interface"),
		same("bDeviceSubClass", 1, 0, ""),
		same("bDeviceProtocol", 1, 0, ""),
		same("bMaxPacketSize0", 1, 64, ""),
		same("idVendor", 2, uint32(FTDIVendorID), "FTDI"),
		same("idProduct", 2, uint32(FTDIProductID), "FT2232H"),
		same("bcdDevice", 2, FTDIBcdDevice, ""),
		same("iManufacturer", 1, USBStrManufacturer, FTDIManufacturer),
		same("iProduct", 1, USBStrProduct, "the board's (FTDIBoards)"),
		same("iSerialNumber", 1, USBStrSerial, "the EEPROM's serial number"),
		same("bNumConfigurations", 1, 1, ""),
	}}
	FTDIConfigDescriptor = Descriptor{Name: "FT2232H configuration", Speeds: hsOnly, Fields: []DescField{
		same("bLength", 1, 9, "9"),
		same("bDescriptorType", 1, USBDescConfig, "CONFIGURATION"),
		same("wTotalLength", 2, 0, "55"),
		same("bNumInterfaces", 1, 2, ""),
		same("bConfigurationValue", 1, 1, ""),
		same("iConfiguration", 1, 0, ""),
		same("bmAttributes", 1, 0x80, "bus-powered"),
		same("bMaxPower", 1, 50, "100 mA"),
	}}
	ftdiInterfaceA = ftdiInterface(FTDIInterfaceA)
	ftdiInterfaceB = ftdiInterface(FTDIInterfaceB)
	ftdiEPAIn      = ftdiEndpoint(FTDIEndpointAIn)
	ftdiEPAOut     = ftdiEndpoint(FTDIEndpointAOut)
	ftdiEPBIn      = ftdiEndpoint(FTDIEndpointBIn)
	ftdiEPBOut     = ftdiEndpoint(FTDIEndpointBOut)

	// FTDIConfigDescriptors lists the configuration's descriptors in the order GET_DESCRIPTOR
	// returns them.
	FTDIConfigDescriptors = []*Descriptor{&FTDIConfigDescriptor, &ftdiInterfaceA, &ftdiEPAIn, &ftdiEPAOut,
		&ftdiInterfaceB, &ftdiEPBIn, &ftdiEPBOut}
)

var hsOnly = []USBSpeed{USBHighSpeed}

func ftdiInterface(n uint32) Descriptor {
	return Descriptor{Name: fmt.Sprintf("FT2232H interface %d", n), Speeds: hsOnly, Fields: []DescField{
		same("bLength", 1, 9, "9"),
		same("bDescriptorType", 1, USBDescInterface, "INTERFACE"),
		same("bInterfaceNumber", 1, n, "channel "+string(rune('A'+n))),
		same("bAlternateSetting", 1, 0, ""),
		same("bNumEndpoints", 1, 2, ""),
		same("bInterfaceClass", 1, 0xFF, "vendor-specific"),
		same("bInterfaceSubClass", 1, 0xFF, ""),
		same("bInterfaceProtocol", 1, 0xFF, ""),
		same("iInterface", 1, USBStrProduct, ""),
	}}
}

func ftdiEndpoint(addr uint32) Descriptor {
	return Descriptor{Name: fmt.Sprintf("FT2232H endpoint %#02x", addr), Speeds: hsOnly, Fields: []DescField{
		same("bLength", 1, 7, "7"),
		same("bDescriptorType", 1, USBDescEndpoint, "ENDPOINT"),
		same("bEndpointAddress", 1, addr, ""),
		same("bmAttributes", 1, 2, "bulk"),
		same("wMaxPacketSize", 2, FTDIMaxPacket, ""),
		same("bInterval", 1, 0, ""),
	}}
}

// FTDIDeviceDescriptorBytes is the FT2232H's device descriptor.
func FTDIDeviceDescriptorBytes() []byte { return FTDIDeviceDescriptor.Append(nil, USBHighSpeed) }

// FTDIConfigDescriptorBytes is its whole configuration (wTotalLength bytes).
func FTDIConfigDescriptorBytes() []byte { return appendAll(FTDIConfigDescriptors, USBHighSpeed) }

// FTDIEndpointsOf returns the bulk IN and OUT endpoints of an interface (A or B).
func FTDIEndpointsOf(intf int) (in, out uint8, ok bool) {
	switch intf {
	case FTDIInterfaceA:
		return FTDIEndpointAIn, FTDIEndpointAOut, true
	case FTDIInterfaceB:
		return FTDIEndpointBIn, FTDIEndpointBOut, true
	}
	return 0, 0, false
}

// FTDIDivisor returns the MPSSE clock divisor for the fastest SCK not above hz (with
// divide-by-5 off), and that SCK.
func FTDIDivisor(hz int64) (div uint16, sck int64) {
	if hz <= 0 {
		return 0xFFFF, FTDIClockHz / (2 * 0x10000)
	}
	d := (FTDIClockHz/2 + hz - 1) / hz // ceil(30 MHz / hz)
	d = min(max(d, 1), 0x10000)
	return uint16(d - 1), FTDIClockHz / (2 * d)
}
