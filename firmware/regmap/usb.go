package regmap

import (
	"fmt"
)

// The USB function of the prototype board: what its bridge (an FX3/FT601-class USB 3 device
// controller in front of the FPGA) presents to the host. One configuration with one vendor-
// specific interface of two bulk endpoints, and vendor control requests on endpoint 0:
//
//   - registers: REG_READ and REG_WRITE read and write the register file (§2) with its access
//     semantics, four bytes per register, little-endian;
//   - the four rings: the host keeps its rings in its own memory and the board keeps its own
//     copies; records travel as frames (FrameHeader) over the bulk endpoints, CMD and SPKIN
//     records host → board on bulk OUT (USBEndpointOut), CPL and OUT records board → host on
//     bulk IN (USBEndpointIn);
//   - sessions: ATTACH starts one (the host's pid, command name and ring capacities), DETACH
//     ends it, IDENTITY says who the board is and who holds it without a session.
//
// There is no interrupt endpoint: the host keeps bulk IN transfers queued at all times, so a
// record the board produces reaches the host as soon as the board sends it, and the arrival
// of data is the interrupt. On USB the bridge owns IRQ_MASK and IRQ_STATUS (it is the chip's
// interrupt target, and moves CPL and OUT records to bulk IN when the chip interrupts); the
// host's writes to them are ignored. The bulk DMA window does not exist on USB (BULK_SIZE
// reads 0): images travel in LOAD_DATA commands.

// USBSpeed is the speed a board runs at; descriptors differ between them.
type USBSpeed uint8

// Speeds.
const (
	USBHighSpeed  USBSpeed = 1 // USB 2.0, 480 Mbit/s
	USBSuperSpeed USBSpeed = 2 // USB 3.x Gen 1, 5 Gbit/s
)

func (s USBSpeed) String() string {
	switch s {
	case USBHighSpeed:
		return "high-speed"
	case USBSuperSpeed:
		return "super-speed"
	}
	return fmt.Sprintf("USBSpeed(%d)", uint8(s))
}

// Mbps is the speed as sysfs writes it.
func (s USBSpeed) Mbps() int {
	if s == USBSuperSpeed {
		return 5000
	}
	return 480
}

// The function's fixed numbers.
const (
	USBConfigValue   = 1    // bConfigurationValue of the only configuration
	USBInterface     = 0    // bInterfaceNumber of the only interface
	USBEndpointOut   = 0x01 // bulk OUT: CMD and SPKIN frames
	USBEndpointIn    = 0x81 // bulk IN: CPL and OUT frames
	USBBcdDevice     = 0x0100
	USBInterfaceProt = 1 // bInterfaceProtocol: version of the framing below

	USBMaxPacketHS = 512  // wMaxPacketSize of the bulk endpoints at high speed
	USBMaxPacketSS = 1024 // ... at super speed
	USBMaxBurstSS  = 15   // bMaxBurst of the super-speed endpoint companions (16 packets)

	// USBHostTransfer is the size of the host's bulk transfers (a multiple of both max
	// packet sizes) and USBHostInFlight how many it keeps queued on each endpoint: USB 3 FIFO
	// bridges reach their bandwidth only with several large transfers queued.
	USBHostTransfer = 64 << 10
	USBHostInFlight = 4
)

// MaxPacket is wMaxPacketSize of the bulk endpoints at speed s.
func (s USBSpeed) MaxPacket() int {
	if s == USBSuperSpeed {
		return USBMaxPacketSS
	}
	return USBMaxPacketHS
}

// USB descriptor types and the standard requests the function answers.
const (
	USBDescDevice    = 0x01
	USBDescConfig    = 0x02
	USBDescString    = 0x03
	USBDescInterface = 0x04
	USBDescEndpoint  = 0x05
	USBDescBOS       = 0x0F
	USBDescDevCap    = 0x10
	USBDescSSEPComp  = 0x30

	USBReqGetStatus     = 0x00
	USBReqClearFeature  = 0x01
	USBReqSetFeature    = 0x03
	USBReqGetDescriptor = 0x06
	USBReqGetConfig     = 0x08
	USBReqSetConfig     = 0x09
	USBReqGetInterface  = 0x0A
	USBReqSetInterface  = 0x0B

	USBFeatureEndpointHalt = 0

	// bmRequestType of the vendor requests: vendor, recipient device, IN or OUT.
	USBVendorIn  = 0xC0
	USBVendorOut = 0x40
	// Direction bit of bmRequestType and of endpoint addresses.
	USBDirIn = 0x80
)

// DescField is one field of a descriptor: its value at each speed.
type DescField struct {
	Name   string
	Size   int // bytes: 1, 2 or 4
	HS, SS uint32
	Doc    string
}

// Descriptor is a USB descriptor, defined field by field; Bytes encodes it and the tables
// in docs/regmap.md are generated from the same fields.
type Descriptor struct {
	Name   string
	Doc    string
	Speeds []USBSpeed // the speeds it is part of
	Fields []DescField
}

// Size is the descriptor's length in bytes.
func (d *Descriptor) Size() int {
	n := 0
	for _, f := range d.Fields {
		n += f.Size
	}
	return n
}

// At reports whether the descriptor is part of the function at speed s.
func (d *Descriptor) At(s USBSpeed) bool {
	for _, x := range d.Speeds {
		if x == s {
			return true
		}
	}
	return false
}

// Append appends the descriptor's bytes at speed s (little-endian).
func (d *Descriptor) Append(b []byte, s USBSpeed) []byte {
	for _, f := range d.Fields {
		v := f.HS
		if s == USBSuperSpeed {
			v = f.SS
		}
		if f.Name == "bLength" {
			v = uint32(d.Size())
		}
		switch f.Size {
		case 1:
			b = append(b, byte(v))
		case 2:
			b = le.AppendUint16(b, uint16(v))
		default:
			b = le.AppendUint32(b, v)
		}
	}
	return b
}

func same(name string, size int, v uint32, doc string) DescField {
	return DescField{name, size, v, v, doc}
}

var bothSpeeds = []USBSpeed{USBHighSpeed, USBSuperSpeed}

// The function's descriptors.
var (
	USBDeviceDescriptor = Descriptor{Name: "device", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 18, "18"),
		same("bDescriptorType", 1, USBDescDevice, "DEVICE"),
		{"bcdUSB", 2, 0x0210, 0x0320, "USB 2.1 at high speed (a BOS follows), 3.2 at super speed"},
		same("bDeviceClass", 1, 0xFF, "vendor-specific"),
		same("bDeviceSubClass", 1, 0, ""),
		same("bDeviceProtocol", 1, 0, ""),
		{"bMaxPacketSize0", 1, 64, 9, "64 bytes at high speed, 2^9 = 512 at super speed"},
		same("idVendor", 2, uint32(USBVendorID), "pid.codes"),
		same("idProduct", 2, uint32(USBProductID), "prototype board"),
		same("bcdDevice", 2, USBBcdDevice, "device release 1.0"),
		same("iManufacturer", 1, USBStrManufacturer, ""),
		same("iProduct", 1, USBStrProduct, ""),
		same("iSerialNumber", 1, USBStrSerial, "the SERIAL register in decimal"),
		same("bNumConfigurations", 1, 1, ""),
	}}
	USBConfigDescriptor = Descriptor{Name: "configuration", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 9, "9"),
		same("bDescriptorType", 1, USBDescConfig, "CONFIGURATION"),
		same("wTotalLength", 2, 0, "all the descriptors below: 32 at high speed, 44 at super speed"),
		same("bNumInterfaces", 1, 1, ""),
		same("bConfigurationValue", 1, USBConfigValue, ""),
		same("iConfiguration", 1, 0, ""),
		same("bmAttributes", 1, 0xC0, "self-powered (the board has its own supply)"),
		{"bMaxPower", 1, 50, 12, "100 mA at high speed (2 mA units), 96 mA at super speed (8 mA units)"},
	}}
	USBInterfaceDescriptor = Descriptor{Name: "interface", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 9, "9"),
		same("bDescriptorType", 1, USBDescInterface, "INTERFACE"),
		same("bInterfaceNumber", 1, USBInterface, ""),
		same("bAlternateSetting", 1, 0, "the only one"),
		same("bNumEndpoints", 1, 2, "bulk OUT and bulk IN; no interrupt endpoint"),
		same("bInterfaceClass", 1, 0xFF, "vendor-specific"),
		same("bInterfaceSubClass", 1, 0, ""),
		same("bInterfaceProtocol", 1, USBInterfaceProt, "framing version 1"),
		same("iInterface", 1, 0, ""),
	}}
	USBEndpointOutDescriptor = Descriptor{Name: "endpoint 0x01", Doc: "bulk OUT: CMD and SPKIN frames", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 7, "7"),
		same("bDescriptorType", 1, USBDescEndpoint, "ENDPOINT"),
		same("bEndpointAddress", 1, USBEndpointOut, "1 OUT"),
		same("bmAttributes", 1, 0x02, "bulk"),
		{"wMaxPacketSize", 2, USBMaxPacketHS, USBMaxPacketSS, ""},
		same("bInterval", 1, 0, ""),
	}}
	USBEndpointInDescriptor = Descriptor{Name: "endpoint 0x81", Doc: "bulk IN: CPL and OUT frames", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 7, "7"),
		same("bDescriptorType", 1, USBDescEndpoint, "ENDPOINT"),
		same("bEndpointAddress", 1, USBEndpointIn, "1 IN"),
		same("bmAttributes", 1, 0x02, "bulk"),
		{"wMaxPacketSize", 2, USBMaxPacketHS, USBMaxPacketSS, ""},
		same("bInterval", 1, 0, ""),
	}}
	USBEndpointCompanion = Descriptor{Name: "endpoint companion", Doc: "after each endpoint", Speeds: []USBSpeed{USBSuperSpeed}, Fields: []DescField{
		same("bLength", 1, 6, "6"),
		same("bDescriptorType", 1, USBDescSSEPComp, "SS_ENDPOINT_COMPANION"),
		same("bMaxBurst", 1, USBMaxBurstSS, "16 packets per burst"),
		same("bmAttributes", 1, 0, "no streams"),
		same("wBytesPerInterval", 2, 0, "bulk: unused"),
	}}
	USBBOSDescriptor = Descriptor{Name: "BOS", Doc: "binary device object store (GET_DESCRIPTOR BOS)", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 5, "5"),
		same("bDescriptorType", 1, USBDescBOS, "BOS"),
		{"wTotalLength", 2, 12, 22, "with the capabilities below"},
		{"bNumDeviceCaps", 1, 1, 2, ""},
	}}
	USBExtCapability = Descriptor{Name: "USB 2.0 extension", Speeds: bothSpeeds, Fields: []DescField{
		same("bLength", 1, 7, "7"),
		same("bDescriptorType", 1, USBDescDevCap, "DEVICE CAPABILITY"),
		same("bDevCapabilityType", 1, 0x02, "USB 2.0 extension"),
		same("bmAttributes", 4, 0, "no link power management"),
	}}
	USBSSCapability = Descriptor{Name: "SuperSpeed capability", Speeds: []USBSpeed{USBSuperSpeed}, Fields: []DescField{
		same("bLength", 1, 10, "10"),
		same("bDescriptorType", 1, USBDescDevCap, "DEVICE CAPABILITY"),
		same("bDevCapabilityType", 1, 0x03, "SuperSpeed USB device"),
		same("bmAttributes", 1, 0, "no LTM"),
		same("wSpeedsSupported", 2, 0x000C, "high and super speed"),
		same("bFunctionalitySupport", 1, 2, "fully functional from high speed up"),
		same("bU1DevExitLat", 1, 0, ""),
		same("wU2DevExitLat", 2, 0, ""),
	}}
)

// USBConfigDescriptors lists the configuration's descriptors in the order GET_DESCRIPTOR
// (CONFIGURATION) returns them.
var USBConfigDescriptors = []*Descriptor{&USBConfigDescriptor, &USBInterfaceDescriptor,
	&USBEndpointOutDescriptor, &USBEndpointCompanion, &USBEndpointInDescriptor, &USBEndpointCompanion}

// USBBOSDescriptors lists the BOS and its capabilities.
var USBBOSDescriptors = []*Descriptor{&USBBOSDescriptor, &USBExtCapability, &USBSSCapability}

// USBDeviceDescriptorBytes is the device descriptor at speed s.
func USBDeviceDescriptorBytes(s USBSpeed) []byte { return USBDeviceDescriptor.Append(nil, s) }

// USBConfigDescriptorBytes is the whole configuration (wTotalLength bytes) at speed s.
func USBConfigDescriptorBytes(s USBSpeed) []byte { return appendAll(USBConfigDescriptors, s) }

// USBBOSDescriptorBytes is the BOS with its capabilities at speed s.
func USBBOSDescriptorBytes(s USBSpeed) []byte { return appendAll(USBBOSDescriptors, s) }

func appendAll(ds []*Descriptor, s USBSpeed) []byte {
	var b []byte
	for _, d := range ds {
		if d.At(s) {
			b = d.Append(b, s)
		}
	}
	if len(b) >= 4 && (b[1] == USBDescConfig || b[1] == USBDescBOS) {
		le.PutUint16(b[2:], uint16(len(b))) // wTotalLength
	}
	return b
}

// String descriptor indexes and the fixed strings; the serial string is the board's.
const (
	USBStrManufacturer = 1
	USBStrProduct      = 2
	USBStrSerial       = 3
	USBLangID          = 0x0409 // English (United States), the only language
)

// USBStrings are the fixed string descriptors by index.
var USBStrings = map[int]string{
	USBStrManufacturer: "lrchip",
	USBStrProduct:      "lrchip prototype board",
}

// USBSerialString is the serial number string of a board whose SERIAL register reads serial.
func USBSerialString(serial uint64) string { return fmt.Sprintf("%d", serial) }

// USBStringDescriptor encodes string descriptor s (UTF-16LE, at most 126 characters).
// Index 0 is the language list.
func USBStringDescriptor(s string) []byte {
	r := []rune(s)
	if len(r) > 126 {
		r = r[:126]
	}
	b := []byte{byte(2 + 2*len(r)), USBDescString}
	for _, c := range r {
		if c > 0xFFFF {
			c = '?'
		}
		b = le.AppendUint16(b, uint16(c))
	}
	return b
}

// USBLanguages is string descriptor 0.
func USBLanguages() []byte { return le.AppendUint16([]byte{4, USBDescString}, USBLangID) }

// --- vendor requests ---

// USBRequest is a vendor control request (bRequest) of the function.
type USBRequest uint8

// Vendor requests.
const (
	USBReqRegRead  USBRequest = 0x01
	USBReqRegWrite USBRequest = 0x02
	USBReqIdentity USBRequest = 0x03
	USBReqAttach   USBRequest = 0x04
	USBReqDetach   USBRequest = 0x05
)

// USBMaxRegRead bounds the bytes one REG_READ returns (registers 0x000–0x0FC at once).
const USBMaxRegRead = 256

// USBRequestDesc documents a vendor request.
type USBRequestDesc struct {
	Req     USBRequest
	Name    string
	In      bool // data stage board → host
	Value   string
	Index   string
	Length  string
	Data    *Layout // nil: none or described in Doc
	Doc     string
	Stalled string // when the board stalls the request
}

// USBRequests documents every vendor request.
var USBRequests = []USBRequestDesc{
	{USBReqRegRead, "REG_READ", true, "0", "register offset", "4·n, 4 to 256", nil,
		"n registers from the offset, 4 bytes each, little-endian; a LO/HI pair read in one request is consistent, and reading a LO alone latches its HI as on PCIe",
		"offset not 4-byte aligned, past 0xFFC, or the length not a multiple of 4 from 4 to 256"},
	{USBReqRegWrite, "REG_WRITE", false, "0", "register offset", "4", nil,
		"writes the 4-byte little-endian value with the register's access semantics (RO ignored, W1S and W1C act on the bits set); IRQ_MASK and IRQ_STATUS belong to the bridge on USB and are ignored",
		"offset not 4-byte aligned or past 0xFFC, length not 4"},
	{USBReqIdentity, "IDENTITY", true, "0", "0", "64", &USBIdentityLayout,
		"who the board is and who holds it, without a session (device discovery, the busy message)", "length not 64"},
	{USBReqAttach, "ATTACH", false, "0", "0", "40", &USBAttachLayout,
		"starts a session: ends the previous one (a host that died cannot say goodbye), drops what the bulk endpoints held, sizes the board's rings, clears the host's registers, sets STATUS.ATTACHED",
		"length not 40, a ring capacity that is not a power of two from 4096 up to 256 MiB, or another protocol major"},
	{USBReqDetach, "DETACH", false, "0", "0", "0", nil,
		"ends the session: free-running stops, STATUS.ATTACHED clears", "length not 0"},
}

// USBIdentity is the data of IDENTITY.
type USBIdentity struct {
	Version    Version
	BoardID    BoardKind
	FWVersion  FWVersion
	Serial     uint64
	Cores      uint32
	Neurons    uint32
	Attached   bool
	HolderPID  uint32
	HolderComm string
	MaxFrame   uint32
}

// USBIdentitySize and USBAttachSize are the data lengths of IDENTITY and ATTACH.
const (
	USBIdentitySize = 64
	USBAttachSize   = 40
)

// USBIdentityLayout and USBAttachLayout document the data of IDENTITY and ATTACH.
var (
	USBIdentityLayout = Layout{Name: "usb_identity", Doc: "IDENTITY's data, board → host", Size: USBIdentitySize, Fields: []LField{
		{"magic", 0, "u32", `0x4843524C, "LRCH", as the MAGIC register`},
		{"version", 4, "u32", "PROTO_VERSION"},
		{"board_id", 8, "u32", "BOARD_ID"},
		{"fw_version", 12, "u32", "FW_VERSION"},
		{"serial", 16, "u64", "SERIAL"},
		{"cores", 24, "u32", "CAP_CORES"},
		{"neurons", 28, "u32", "CAP_NEURONS"},
		{"attached", 32, "u32", "1 while a session is open"},
		{"holder_pid", 36, "u32", "the session's host pid, as its ATTACH said (0: none)"},
		{"holder_comm", 40, "u8[16]", "its command name, NUL-padded"},
		{"max_frame", 56, "u32", "largest frame payload the board accepts on bulk OUT in this session"},
		{"reserved", 60, "u32", "0"},
	}}
	USBAttachLayout = Layout{Name: "usb_attach", Doc: "ATTACH's data, host → board", Size: USBAttachSize, Fields: []LField{
		{"version", 0, "u32", "protocol version the host speaks"},
		{"pid", 4, "u32", "the host's pid (for IDENTITY and busy messages)"},
		{"comm", 8, "u8[16]", "the host's command name, NUL-padded"},
		{"ring_cap", 24, "u32[4]", "data capacity of each ring on both sides, 0 for the board's default; records never exceed a quarter of the smallest (CAP_PAYLOAD)"},
	}}
)

// Append appends the encoded identity.
func (id USBIdentity) Append(b []byte) []byte {
	b = le.AppendUint32(b, Magic)
	b = le.AppendUint32(b, uint32(id.Version))
	b = le.AppendUint32(b, uint32(id.BoardID))
	b = le.AppendUint32(b, uint32(id.FWVersion))
	b = le.AppendUint64(b, id.Serial)
	b = le.AppendUint32(b, id.Cores)
	b = le.AppendUint32(b, id.Neurons)
	att := uint32(0)
	if id.Attached {
		att = 1
	}
	b = le.AppendUint32(b, att)
	b = le.AppendUint32(b, id.HolderPID)
	b = appendComm(b, id.HolderComm)
	b = le.AppendUint32(b, id.MaxFrame)
	return le.AppendUint32(b, 0)
}

func appendComm(b []byte, s string) []byte {
	var c [16]byte
	copy(c[:15], s)
	return append(b, c[:]...)
}

func decodeComm(b []byte) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	return Printable(b)
}

// DecodeUSBIdentity decodes IDENTITY's data.
func DecodeUSBIdentity(b []byte) (USBIdentity, error) {
	const what = "USB identity"
	if err := needExact(what, b, USBIdentitySize); err != nil {
		return USBIdentity{}, err
	}
	if m := le.Uint32(b); m != Magic {
		return USBIdentity{}, malformed(what, "magic %#x, want %#x", m, Magic)
	}
	id := USBIdentity{Version: Version(le.Uint32(b[4:])), BoardID: BoardKind(le.Uint32(b[8:])), FWVersion: FWVersion(le.Uint32(b[12:])),
		Serial: le.Uint64(b[16:]), Cores: le.Uint32(b[24:]), Neurons: le.Uint32(b[28:]), HolderPID: le.Uint32(b[36:]),
		HolderComm: decodeComm(b[40:56]), MaxFrame: le.Uint32(b[56:])}
	switch a := le.Uint32(b[32:]); a {
	case 0, 1:
		id.Attached = a == 1
	default:
		return id, malformed(what, "attached word %d", a)
	}
	if r := le.Uint32(b[60:]); r != 0 {
		return id, malformed(what, "reserved word %#x", r)
	}
	return id, nil
}

// USBAttach is the data of ATTACH.
type USBAttach struct {
	Version Version
	PID     uint32
	Comm    string
	RingCap [NumRings]uint32
}

// Append appends the encoded request data.
func (a USBAttach) Append(b []byte) []byte {
	b = le.AppendUint32(b, uint32(a.Version))
	b = le.AppendUint32(b, a.PID)
	b = appendComm(b, a.Comm)
	for _, c := range a.RingCap {
		b = le.AppendUint32(b, c)
	}
	return b
}

// DecodeUSBAttach decodes ATTACH's data.
func DecodeUSBAttach(b []byte) (USBAttach, error) {
	const what = "USB attach"
	if err := needExact(what, b, USBAttachSize); err != nil {
		return USBAttach{}, err
	}
	a := USBAttach{Version: Version(le.Uint32(b)), PID: le.Uint32(b[4:]), Comm: decodeComm(b[8:24])}
	for i := range a.RingCap {
		a.RingCap[i] = le.Uint32(b[24+4*i:])
		if c := a.RingCap[i]; c != 0 && (c < 4096 || c > MaxRingCapacity || c&(c-1) != 0) {
			return a, malformed(what, "ring %s capacity %d is not a power of two from 4096 to %d", Ring(i), c, MaxRingCapacity)
		}
	}
	return a, nil
}

// CheckRegRequest checks the register offset and length of a REG_READ (n bytes) or
// REG_WRITE (n = 4).
func CheckRegRequest(off uint32, n int) error {
	const what = "register request"
	switch {
	case off%4 != 0 || off >= BARSize:
		return malformed(what, "offset %#x is not a 4-byte aligned offset below %#x", off, BARSize)
	case n < 4 || n > USBMaxRegRead || n%4 != 0:
		return malformed(what, "length %d is not a multiple of 4 from 4 to %d", n, USBMaxRegRead)
	case int(off)+n > BARSize:
		return malformed(what, "%d bytes from %#x run past the register file", n, off)
	}
	return nil
}
