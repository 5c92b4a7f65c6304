package regmap

import "fmt"

// Records on the bulk endpoints travel as frames: an 8-byte FrameHeader, the record's payload,
// then zero bytes up to the next multiple of 8, so that every header is 8-byte aligned in the
// endpoint's byte stream (what the bridge's DMA wants). Frames follow each other with nothing
// in between; the host's and the board's transfer sizes do not matter to the framing, with
// one rule for bulk IN:
//
//   - the board sends what it has in bursts, and a burst ends with a short packet, or with a
//     zero-length packet when its length is a multiple of wMaxPacketSize (512 bytes at high
//     speed, 1024 at super speed), so that the host's transfer completes instead of waiting
//     for more. A frame never spans two bursts: a host transfer that completes short ends a
//     burst, and a frame still incomplete there is a protocol violation.
//
// On bulk OUT the host may split frames across transfers anywhere; the board reassembles them.
// Within one endpoint frames keep their order; across rings the sender keeps the order of
// publication: the host sends SPKIN records published before a CMD record ahead of it (the
// board takes spikes before the command that follows them), and the board sends OUT records
// produced before a completion ahead of it (a host that has the completion has the output).

// FrameHeaderSize is the size of a frame header, FrameSync the value of its last byte.
const (
	FrameHeaderSize = 8
	FrameSync       = 0xA5
	FrameAlign      = 8
	// MaxFrame bounds a frame's payload whatever the rings: the ring capacity's limit.
	MaxFrame = MaxRingCapacity
)

// FrameLayout documents the frame header.
var FrameLayout = Layout{Name: "usb_frame", Doc: "a record on a bulk endpoint", Size: FrameHeaderSize, Fields: []LField{
	{"length", 0, "u32", "payload bytes that follow (the record's payload, without this header)"},
	{"type", 4, "u16", "the record's type (TYPE_*); 0 and 0xFF00 up are not allowed"},
	{"ring", 6, "u8", "the ring it belongs to: CMD or SPKIN on bulk OUT, CPL or OUT on bulk IN"},
	{"sync", 7, "u8", "0xA5: marks a frame header"},
}, Tail: "the payload, then zeros up to a multiple of 8 bytes"}

// FrameHeader is a decoded frame header.
type FrameHeader struct {
	Length uint32
	Type   uint16
	Ring   Ring
}

// FrameSize is the size of a frame of n payload bytes, padding included.
func FrameSize(n int) int { return FrameHeaderSize + (n+FrameAlign-1)&^(FrameAlign-1) }

// PutFrameHeader writes h into b (FrameHeaderSize bytes).
func PutFrameHeader(b []byte, h FrameHeader) {
	le.PutUint32(b, h.Length)
	le.PutUint16(b[4:], h.Type)
	b[6] = byte(h.Ring)
	b[7] = FrameSync
}

// AppendFrame appends a whole frame: header, payload, padding.
func AppendFrame(b []byte, r Ring, typ uint16, payload []byte) []byte {
	var h [FrameHeaderSize]byte
	PutFrameHeader(h[:], FrameHeader{Length: uint32(len(payload)), Type: typ, Ring: r})
	b = append(b, h[:]...)
	b = append(b, payload...)
	for pad := FrameSize(len(payload)) - FrameHeaderSize - len(payload); pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

// DecodeFrameHeader decodes a frame header and checks its sync byte, its type and that its
// ring is one of rings (bit i: ring i) and its length at most max[ring].
func DecodeFrameHeader(b []byte, rings uint8, max *[NumRings]int) (FrameHeader, error) {
	const what = "USB frame"
	if err := needAtLeast(what, b, FrameHeaderSize); err != nil {
		return FrameHeader{}, err
	}
	h := FrameHeader{Length: le.Uint32(b), Type: le.Uint16(b[4:]), Ring: Ring(b[6])}
	switch {
	case b[7] != FrameSync:
		return h, malformed(what, "sync byte %#02x, want %#02x (not a frame header)", b[7], FrameSync)
	case int(h.Ring) >= NumRings || rings&(1<<h.Ring) == 0:
		return h, malformed(what, "ring %d does not travel this way", b[6])
	case h.Type == 0 || h.Type >= 0xFF00:
		return h, malformed(what, "ring %s: record type %#x is reserved", h.Ring, h.Type)
	case uint64(h.Length) > uint64(max[h.Ring]):
		return h, malformed(what, "ring %s: %d-byte record, the ring takes at most %d", h.Ring, h.Length, max[h.Ring])
	}
	return h, nil
}

// FrameDecoder reassembles the frames of one bulk endpoint from its bytes, as they come,
// in whatever pieces. It checks every header (DecodeFrameHeader) and that padding is zero;
// the first error sticks. The zero value accepts nothing: set Rings and Max.
type FrameDecoder struct {
	Rings uint8         // the rings that may appear (bit i: ring i)
	Max   [NumRings]int // largest payload per ring
	Name  string        // for errors: the endpoint, e.g. "bulk IN"
	hdr   [FrameHeaderSize]byte
	nh    int         // header bytes held
	cur   FrameHeader // the frame being assembled, once nh == FrameHeaderSize
	buf   []byte      // its payload and padding so far
	ready bool        // buf holds a whole frame that emit refused
	off   uint64      // bytes consumed, for errors
	err   error
}

func (d *FrameDecoder) name() string {
	if d.Name == "" {
		return "USB frames"
	}
	return d.Name
}

func (d *FrameDecoder) fail(format string, args ...any) error {
	d.err = malformed(d.name(), "at byte %d: %s", d.off, fmt.Sprintf(format, args...))
	return d.err
}

// failHeader wraps a header's error with where it was.
func (d *FrameDecoder) failHeader(err error) error {
	d.err = fmt.Errorf("regmap: %s: at byte %d: %w", d.name(), d.off, err)
	return d.err
}

// Err returns the sticky error, nil if none.
func (d *FrameDecoder) Err() error { return d.err }

// Partial reports whether the decoder holds part of a frame.
func (d *FrameDecoder) Partial() bool { return d.nh > 0 && !d.ready }

// Reset forgets the partial frame and the error (a new session).
func (d *FrameDecoder) Reset() {
	d.nh, d.buf, d.off, d.err, d.ready = 0, d.buf[:0], 0, nil, false
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Feed decodes b. For each complete frame it calls emit with the header and the payload,
// which is valid only during the call. An error from emit stops Feed and is returned
// without sticking: the frame was not taken, and the next Feed offers it again first
// (whether its bytes count as consumed or not). Feed returns the number of bytes
// consumed: all of b unless it fails.
func (d *FrameDecoder) Feed(b []byte, emit func(FrameHeader, []byte) error) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.ready {
		if err := emit(d.cur, d.buf[:d.cur.Length]); err != nil {
			return 0, err
		}
		d.ready, d.nh = false, 0
	}
	used := 0
	for used < len(b) {
		if d.nh < FrameHeaderSize {
			// Whole frames straight from b, without a copy.
			if d.nh == 0 && len(b)-used >= FrameHeaderSize {
				h, err := DecodeFrameHeader(b[used:], d.Rings, &d.Max)
				if err != nil {
					return used, d.failHeader(err)
				}
				if n := FrameSize(int(h.Length)); len(b)-used >= n {
					p := b[used+FrameHeaderSize : used+n]
					if !zero(p[h.Length:]) {
						return used, d.fail("ring %s: padding after a %d-byte record is not zero", h.Ring, h.Length)
					}
					if err := emit(h, p[:h.Length]); err != nil {
						return used, err
					}
					used += n
					d.off += uint64(n)
					continue
				}
			}
			k := copy(d.hdr[d.nh:], b[used:])
			d.nh += k
			used += k
			d.off += uint64(k)
			if d.nh < FrameHeaderSize {
				break
			}
			h, err := DecodeFrameHeader(d.hdr[:], d.Rings, &d.Max)
			if err != nil {
				d.off -= FrameHeaderSize
				return used, d.failHeader(err)
			}
			d.cur = h
			d.buf = d.buf[:0]
		}
		need := FrameSize(int(d.cur.Length)) - FrameHeaderSize - len(d.buf)
		k := min(need, len(b)-used)
		d.buf = append(d.buf, b[used:used+k]...)
		used += k
		d.off += uint64(k)
		if k < need {
			break
		}
		if !zero(d.buf[d.cur.Length:]) {
			return used, d.fail("ring %s: padding after a %d-byte record is not zero", d.cur.Ring, d.cur.Length)
		}
		d.ready = true
		if err := emit(d.cur, d.buf[:d.cur.Length]); err != nil {
			return used, err
		}
		d.ready, d.nh = false, 0
	}
	return used, nil
}

// EndBurst tells the decoder that a burst ended (a transfer completed short): a frame
// incomplete there is an error.
func (d *FrameDecoder) EndBurst() error {
	if d.err != nil {
		return d.err
	}
	if d.Partial() {
		if d.nh < FrameHeaderSize {
			return d.fail("the burst ended %d bytes into a frame header", d.nh)
		}
		return d.fail("the burst ended %d bytes into a %d-byte ring %s record", len(d.buf), d.cur.Length, d.cur.Ring)
	}
	return nil
}
