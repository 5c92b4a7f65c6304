package regmap

// The emulator's shared-memory transport (emu:unix:PATH, and emu: in-process) is set up over a
// Unix SOCK_SEQPACKET socket, as vfio-user does: the host sends a Hello, the board answers
// with a HelloReply and, when it accepts, passes SetupFds descriptors with SCM_RIGHTS in this
// order: the register file (a BARSize memfd), the four rings (memfds in runtime/ring's
// layout, in Ring order), the doorbell eventfd (the host writes it to wake the board), the
// interrupt eventfd (the board writes it to interrupt the host) and the bulk DMA window (a
// memfd of the size the host asked for; its pages cost nothing until touched). From then on the two talk
// only through that memory and those eventfds; the socket stays open so that each side sees
// the other's death as EOF/HUP. On the emulated transports the board fills the ring
// registers: RING_x_BASE is the index of the ring's descriptor in that list, RING_x_SIZE its
// capacity. (On PCIe the host writes the rings' bus addresses there.)
const (
	HelloMagic      uint32 = 0x5543524C // "LRCU"
	HelloReplyMagic uint32 = 0x5343524C // "LRCS"
	HelloSize              = 40
	HelloReplySize         = 64
	SetupFds               = 4 + NumRings

	// The descriptors' places in the setup list.
	SetupFdBAR      = 0
	SetupFdRing0    = 1 // ring i is at SetupFdRing0 + i
	SetupFdDoorbell = 1 + NumRings
	SetupFdIRQ      = 2 + NumRings
	SetupFdBulk     = 3 + NumRings

	// HelloQuery asks for the board's identity without attaching (device discovery).
	HelloQuery uint32 = 1 << 0

	// MaxRingCapacity bounds what a host may ask for, per ring.
	MaxRingCapacity = 1 << 28
	// MaxBulk bounds the bulk DMA window a host may ask for.
	MaxBulk = 1 << 30
)

// SetupStatus is the status of a HelloReply.
type SetupStatus uint32

// Setup statuses.
const (
	SetupOK      SetupStatus = 0 // attached (or, for a query, identity follows)
	SetupBusy    SetupStatus = 1 // another host is attached: HolderPID and HolderComm say who
	SetupVersion SetupStatus = 2 // the protocol majors differ: Version says the board's
	SetupError   SetupStatus = 3 // the board could not set up; a message follows the reply
)

// HelloLayout and HelloReplyLayout document the setup messages.
var (
	HelloLayout = Layout{Name: "hello", Doc: "host → board, first message on the emulator socket", Size: HelloSize, Fields: []LField{
		{"magic", 0, "u32", `0x5543524C, "LRCU"`},
		{"version", 4, "u32", "protocol version the host speaks"},
		{"flags", 8, "u32", "HELLO_QUERY: identity only, do not attach"},
		{"pid", 12, "u32", "the host's pid (informational)"},
		{"ring_cap", 16, "u32[4]", "data capacity wanted per ring, 0 for the board's default"},
		{"bulk", 32, "u32", "bytes of bulk DMA window wanted (a multiple of 4096), 0 for the board's default"},
		{"reserved", 36, "u32", "0"},
	}}
	HelloReplyLayout = Layout{Name: "hello_reply", Doc: "board → host answer; on SETUP_OK (attach) it carries SETUP_FDS descriptors", Size: HelloReplySize, Fields: []LField{
		{"magic", 0, "u32", `0x5343524C, "LRCS"`},
		{"status", 4, "u32", "SetupStatus"},
		{"version", 8, "u32", "protocol version the board speaks"},
		{"board_id", 12, "u32", "BOARD_ID"},
		{"serial", 16, "u64", "serial number"},
		{"fw_version", 24, "u32", "FW_VERSION"},
		{"holder_pid", 28, "u32", "SETUP_BUSY: pid of the attached host, as the kernel reports it (SO_PEERCRED)"},
		{"holder_comm", 32, "u8[16]", "SETUP_BUSY: its command name (/proc/PID/comm)"},
		{"nfds", 48, "u32", "descriptors passed with this message"},
		{"cores", 52, "u32", "CAP_CORES"},
		{"neurons", 56, "u32", "CAP_NEURONS"},
		{"attached", 60, "u32", "1 if a host is attached"},
	}, Tail: "SETUP_ERROR: a UTF-8 message"}
)

// Hello is the host's first message.
type Hello struct {
	Version Version
	Flags   uint32
	PID     uint32
	RingCap [NumRings]uint32
	Bulk    uint32
}

// Append appends the encoded message.
func (h Hello) Append(b []byte) []byte {
	b = le.AppendUint32(b, HelloMagic)
	b = le.AppendUint32(b, uint32(h.Version))
	b = le.AppendUint32(b, h.Flags)
	b = le.AppendUint32(b, h.PID)
	for _, c := range h.RingCap {
		b = le.AppendUint32(b, c)
	}
	b = le.AppendUint32(b, h.Bulk)
	return le.AppendUint32(b, 0)
}

// DecodeHello decodes a Hello.
func DecodeHello(b []byte) (Hello, error) {
	if err := needExact("hello", b, HelloSize); err != nil {
		return Hello{}, err
	}
	if m := le.Uint32(b); m != HelloMagic {
		return Hello{}, malformed("hello", "magic %#x, want %#x", m, HelloMagic)
	}
	h := Hello{Version: Version(le.Uint32(b[4:])), Flags: le.Uint32(b[8:]), PID: le.Uint32(b[12:])}
	if h.Flags&^HelloQuery != 0 {
		return h, malformed("hello", "unknown flags %#x", h.Flags)
	}
	for i := range h.RingCap {
		h.RingCap[i] = le.Uint32(b[16+4*i:])
		if c := h.RingCap[i]; c != 0 && (c > MaxRingCapacity || c&(c-1) != 0) {
			return h, malformed("hello", "ring %d capacity %d is not a power of two up to %d", i, c, MaxRingCapacity)
		}
	}
	h.Bulk = le.Uint32(b[32:])
	if h.Bulk%4096 != 0 || h.Bulk > MaxBulk {
		return h, malformed("hello", "bulk window of %d bytes is not a multiple of 4096 up to %d", h.Bulk, MaxBulk)
	}
	if r := le.Uint32(b[36:]); r != 0 {
		return h, malformed("hello", "reserved word %#x", r)
	}
	return h, nil
}

// HelloReply is the board's answer.
type HelloReply struct {
	Status     SetupStatus
	Version    Version
	BoardID    BoardKind
	Serial     uint64
	FWVersion  FWVersion
	HolderPID  uint32
	HolderComm string
	NFds       uint32
	Cores      uint32
	Neurons    uint32
	Attached   bool
	Message    string // SetupError
}

// Append appends the encoded message.
func (r HelloReply) Append(b []byte) []byte {
	b = le.AppendUint32(b, HelloReplyMagic)
	b = le.AppendUint32(b, uint32(r.Status))
	b = le.AppendUint32(b, uint32(r.Version))
	b = le.AppendUint32(b, uint32(r.BoardID))
	b = le.AppendUint64(b, r.Serial)
	b = le.AppendUint32(b, uint32(r.FWVersion))
	b = le.AppendUint32(b, r.HolderPID)
	var comm [16]byte
	copy(comm[:], r.HolderComm)
	b = append(b, comm[:]...)
	b = le.AppendUint32(b, r.NFds)
	b = le.AppendUint32(b, r.Cores)
	b = le.AppendUint32(b, r.Neurons)
	att := uint32(0)
	if r.Attached {
		att = 1
	}
	b = le.AppendUint32(b, att)
	if r.Status == SetupError {
		m := r.Message
		if len(m) > MaxMessage {
			m = m[:MaxMessage]
		}
		b = append(b, m...)
	}
	return b
}

// DecodeHelloReply decodes the board's answer.
func DecodeHelloReply(b []byte) (HelloReply, error) {
	if err := needAtLeast("hello reply", b, HelloReplySize); err != nil {
		return HelloReply{}, err
	}
	if m := le.Uint32(b); m != HelloReplyMagic {
		return HelloReply{}, malformed("hello reply", "magic %#x, want %#x", m, HelloReplyMagic)
	}
	r := HelloReply{Status: SetupStatus(le.Uint32(b[4:])), Version: Version(le.Uint32(b[8:])),
		BoardID: BoardKind(le.Uint32(b[12:])), Serial: le.Uint64(b[16:]), FWVersion: FWVersion(le.Uint32(b[24:])),
		HolderPID: le.Uint32(b[28:]), NFds: le.Uint32(b[48:]), Cores: le.Uint32(b[52:]), Neurons: le.Uint32(b[56:])}
	comm := b[32:48]
	for i, c := range comm {
		if c == 0 {
			comm = comm[:i]
			break
		}
	}
	r.HolderComm = Printable(comm)
	switch a := le.Uint32(b[60:]); a {
	case 0, 1:
		r.Attached = a == 1
	default:
		return r, malformed("hello reply", "attached word %d", a)
	}
	if r.Status > SetupError {
		return r, malformed("hello reply", "unknown status %d", r.Status)
	}
	tail := b[HelloReplySize:]
	if r.Status == SetupError {
		if len(tail) > MaxMessage {
			return r, malformed("hello reply", "message of %d bytes, more than %d", len(tail), MaxMessage)
		}
		r.Message = Printable(tail)
	} else if len(tail) != 0 {
		return r, malformed("hello reply", "%d bytes after the reply", len(tail))
	}
	if r.Status == SetupOK && r.NFds != 0 && r.NFds != SetupFds {
		return r, malformed("hello reply", "%d descriptors announced, want %d", r.NFds, SetupFds)
	}
	return r, nil
}
