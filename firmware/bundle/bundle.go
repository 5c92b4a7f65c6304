// Package bundle is the firmware bundle: what `lrctl fw` builds, signs, verifies and flashes
// into a board's A/B slot. A bundle is a fixed header (board, protocol and firmware versions,
// build id, the sizes of its parts and a SHA-256 over them), the payload (the FPGA bitstream,
// then the soft core's firmware), and optionally an Ed25519 signature over the header, which
// through the digest covers the payload. It is pure format code: encoding, decoding with
// every length checked, signing and verifying.
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Format constants.
const (
	Magic         uint32 = 0x4246524C // "LRFB"
	FormatVersion uint16 = 1
	HeaderSize           = 128
	SigMagic      uint32 = 0x4753524C // "LRSG"
	SigSize              = 80
	BuildIDSize          = 32
	// MaxSize bounds a bundle: a slot of the largest flash the boards carry.
	MaxSize = 64 << 20
)

// HeaderLayout and SignatureLayout document the format (docs/firmware.md is generated from
// them).
var (
	HeaderLayout = regmap.Layout{Name: "bundle_header", Doc: "the start of a firmware bundle", Size: HeaderSize, Fields: []regmap.LField{
		{Name: "magic", Off: 0, Type: "u32", Doc: `0x4246524C, "LRFB"`},
		{Name: "format", Off: 4, Type: "u16", Doc: "format version, 1"},
		{Name: "flags", Off: 6, Type: "u16", Doc: "0"},
		{Name: "header_size", Off: 8, Type: "u32", Doc: "128"},
		{Name: "board", Off: 12, Type: "u32", Doc: "BOARD_ID of the boards it is for"},
		{Name: "protocol", Off: 16, Type: "u32", Doc: "protocol version the firmware speaks (PROTO_VERSION format)"},
		{Name: "fw_version", Off: 20, Type: "u32", Doc: "firmware version (FW_VERSION format)"},
		{Name: "bitstream_size", Off: 24, Type: "u32", Doc: "bytes of FPGA bitstream, first in the payload"},
		{Name: "softcore_size", Off: 28, Type: "u32", Doc: "bytes of soft-core firmware, after the bitstream"},
		{Name: "created", Off: 32, Type: "u64", Doc: "build time, Unix seconds"},
		{Name: "build_id", Off: 40, Type: "u8[32]", Doc: "build id, UTF-8, NUL-padded"},
		{Name: "payload_sha256", Off: 72, Type: "u8[32]", Doc: "SHA-256 of the payload"},
		{Name: "reserved", Off: 104, Type: "u8[24]", Doc: "0"},
	}, Tail: "the payload (bitstream, then soft-core firmware), then an optional signature"}
	SignatureLayout = regmap.Layout{Name: "bundle_signature", Doc: "the signature after the payload", Size: SigSize, Fields: []regmap.LField{
		{Name: "magic", Off: 0, Type: "u32", Doc: `0x4753524C, "LRSG"`},
		{Name: "reserved", Off: 4, Type: "u32", Doc: "0"},
		{Name: "key_id", Off: 8, Type: "u8[8]", Doc: "the first 8 bytes of SHA-256 of the signer's Ed25519 public key"},
		{Name: "signature", Off: 16, Type: "u8[64]", Doc: "Ed25519 signature of the 128 header bytes"},
	}}
)

// Sentinel errors. Every error reads "bundle: ..." and wraps one of them.
var (
	// ErrFormat: bytes that are not a well-formed bundle (magic, version, a size, the
	// digest, a reserved field).
	ErrFormat = errors.New("bundle: malformed")
	// ErrUnsigned: a bundle without a signature.
	ErrUnsigned = errors.New("bundle: not signed")
	// ErrUntrusted: signed by a key that is not trusted.
	ErrUntrusted = errors.New("bundle: signed by an untrusted key")
	// ErrSignature: the signature does not verify with the key it names.
	ErrSignature = errors.New("bundle: bad signature")
	// ErrKey: a key file that does not decode.
	ErrKey = errors.New("bundle: bad key")
)

func bad(format string, args ...any) error {
	return fmt.Errorf("bundle: %s: %w", fmt.Sprintf(format, args...), ErrFormat)
}

// Header is what a bundle says of itself.
type Header struct {
	Board    regmap.BoardKind `json:"board"`
	Protocol regmap.Version   `json:"protocol"`
	Version  regmap.FWVersion `json:"version"`
	BuildID  string           `json:"build_id"`
	Created  time.Time        `json:"created"`
}

// Signature is a bundle's signature.
type Signature struct {
	KeyID [8]byte
	Sig   [ed25519.SignatureSize]byte
}

// Bundle is a decoded firmware bundle.
type Bundle struct {
	Header
	Bitstream []byte
	Softcore  []byte
	Signature *Signature // nil: unsigned
}

var le = binary.LittleEndian

// Digest returns the SHA-256 of the payload.
func (b *Bundle) Digest() [32]byte {
	h := sha256.New()
	h.Write(b.Bitstream)
	h.Write(b.Softcore)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// header encodes the header.
func (b *Bundle) header() ([]byte, error) {
	if len(b.BuildID) > BuildIDSize || !utf8.ValidString(b.BuildID) || bytes.IndexByte([]byte(b.BuildID), 0) >= 0 {
		return nil, bad("build id %q is not UTF-8 of at most %d bytes without NUL", b.BuildID, BuildIDSize)
	}
	if n := HeaderSize + len(b.Bitstream) + len(b.Softcore) + SigSize; n > MaxSize {
		return nil, bad("a bundle of %d bytes, more than %d", n, MaxSize)
	}
	h := make([]byte, HeaderSize)
	le.PutUint32(h[0:], Magic)
	le.PutUint16(h[4:], FormatVersion)
	le.PutUint32(h[8:], HeaderSize)
	le.PutUint32(h[12:], uint32(b.Board))
	le.PutUint32(h[16:], uint32(b.Protocol))
	le.PutUint32(h[20:], uint32(b.Version))
	le.PutUint32(h[24:], uint32(len(b.Bitstream)))
	le.PutUint32(h[28:], uint32(len(b.Softcore)))
	le.PutUint64(h[32:], uint64(b.Created.Unix()))
	copy(h[40:72], b.BuildID)
	d := b.Digest()
	copy(h[72:104], d[:])
	return h, nil
}

// MarshalBinary encodes the bundle, with its signature if it has one.
func (b *Bundle) MarshalBinary() ([]byte, error) {
	h, err := b.header()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(h)+len(b.Bitstream)+len(b.Softcore)+SigSize)
	out = append(append(append(out, h...), b.Bitstream...), b.Softcore...)
	if s := b.Signature; s != nil {
		out = le.AppendUint32(out, SigMagic)
		out = le.AppendUint32(out, 0)
		out = append(append(out, s.KeyID[:]...), s.Sig[:]...)
	}
	return out, nil
}

// Decode decodes and checks a bundle: magic, format, every size, reserved fields, the
// payload's digest, and the signature block's form (not whether it verifies: Verify). The
// bundle's slices alias data.
func Decode(data []byte) (*Bundle, error) {
	if len(data) > MaxSize {
		return nil, bad("%d bytes, more than %d", len(data), MaxSize)
	}
	if len(data) < HeaderSize {
		return nil, bad("%d bytes, shorter than the %d-byte header", len(data), HeaderSize)
	}
	h := data[:HeaderSize]
	switch {
	case le.Uint32(h) != Magic:
		return nil, bad("magic %#08x at offset 0, want %#08x (\"LRFB\")", le.Uint32(h), Magic)
	case le.Uint16(h[4:]) != FormatVersion:
		return nil, bad("format version %d at offset 4, this build reads %d", le.Uint16(h[4:]), FormatVersion)
	case le.Uint16(h[6:]) != 0:
		return nil, bad("flags %#04x at offset 6, want 0", le.Uint16(h[6:]))
	case le.Uint32(h[8:]) != HeaderSize:
		return nil, bad("header size %d at offset 8, want %d", le.Uint32(h[8:]), HeaderSize)
	}
	for i := 104; i < HeaderSize; i++ {
		if h[i] != 0 {
			return nil, bad("reserved byte at offset %d is %#02x", i, h[i])
		}
	}
	id := h[40:72]
	if k := bytes.IndexByte(id, 0); k >= 0 {
		if bytes.ContainsFunc(id[k:], func(r rune) bool { return r != 0 }) {
			return nil, bad("build id at offset 40 has bytes after its NUL padding")
		}
		id = id[:k]
	}
	if !utf8.Valid(id) {
		return nil, bad("build id at offset 40 is not UTF-8")
	}
	bs, sc := uint64(le.Uint32(h[24:])), uint64(le.Uint32(h[28:]))
	rest := uint64(len(data) - HeaderSize)
	if bs+sc > rest {
		return nil, bad("the header says %d + %d payload bytes, the bundle has %d after its header", bs, sc, rest)
	}
	b := &Bundle{
		Header: Header{Board: regmap.BoardKind(le.Uint32(h[12:])), Protocol: regmap.Version(le.Uint32(h[16:])),
			Version: regmap.FWVersion(le.Uint32(h[20:])), BuildID: string(id), Created: time.Unix(int64(le.Uint64(h[32:])), 0).UTC()},
		Bitstream: data[HeaderSize : HeaderSize+bs],
		Softcore:  data[HeaderSize+bs : HeaderSize+bs+sc],
	}
	if d := b.Digest(); !bytes.Equal(d[:], h[72:104]) {
		return nil, bad("payload SHA-256 %x, the header says %x", d[:8], h[72:80])
	}
	tail := data[HeaderSize+bs+sc:]
	switch len(tail) {
	case 0:
	case SigSize:
		if le.Uint32(tail) != SigMagic || le.Uint32(tail[4:]) != 0 {
			return nil, bad("signature block at offset %d: magic %#08x, reserved %#x", HeaderSize+bs+sc, le.Uint32(tail), le.Uint32(tail[4:]))
		}
		s := &Signature{}
		copy(s.KeyID[:], tail[8:16])
		copy(s.Sig[:], tail[16:])
		b.Signature = s
	default:
		return nil, bad("%d bytes after the payload at offset %d: neither nothing nor a %d-byte signature", len(tail), HeaderSize+bs+sc, SigSize)
	}
	return b, nil
}

// Sign signs the bundle with key (replacing any signature).
func (b *Bundle) Sign(key ed25519.PrivateKey) error {
	h, err := b.header()
	if err != nil {
		return err
	}
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("bundle: sign: a private key of %d bytes: %w", len(key), ErrKey)
	}
	s := &Signature{KeyID: KeyID(key.Public().(ed25519.PublicKey))}
	copy(s.Sig[:], ed25519.Sign(key, h))
	b.Signature = s
	return nil
}

// Verify checks the signature with the trusted keys and returns the key that signed.
func (b *Bundle) Verify(trusted []ed25519.PublicKey) (ed25519.PublicKey, error) {
	if b.Signature == nil {
		return nil, fmt.Errorf("bundle: verify: %w", ErrUnsigned)
	}
	h, err := b.header()
	if err != nil {
		return nil, err
	}
	for _, k := range trusted {
		if KeyID(k) != b.Signature.KeyID {
			continue
		}
		if !ed25519.Verify(k, h, b.Signature.Sig[:]) {
			return nil, fmt.Errorf("bundle: verify: the signature by key %x does not verify: %w", b.Signature.KeyID, ErrSignature)
		}
		return k, nil
	}
	return nil, fmt.Errorf("bundle: verify: signed by key %x, which is not among the %d trusted: %w", b.Signature.KeyID, len(trusted), ErrUntrusted)
}

// KeyID names a public key: the first 8 bytes of its SHA-256.
func KeyID(k ed25519.PublicKey) [8]byte {
	d := sha256.Sum256(k)
	var id [8]byte
	copy(id[:], d[:8])
	return id
}

// Payload returns the bitstream and soft-core firmware, concatenated.
func (b *Bundle) Payload() []byte {
	return append(append([]byte(nil), b.Bitstream...), b.Softcore...)
}

// CheckTarget refuses a bundle for another board kind or a protocol major the host does not
// speak (ErrTarget), before anything is written.
func (b *Bundle) CheckTarget(board regmap.BoardKind, host regmap.Version) error {
	if b.Board != board {
		return fmt.Errorf("bundle: built for board %s, this board is %s: %w", b.Board, board, ErrTarget)
	}
	if b.Protocol.Major() != host.Major() {
		return fmt.Errorf("bundle: firmware speaks protocol %s, this host speaks %s: %w", b.Protocol, host, ErrTarget)
	}
	return nil
}

// ErrTarget: a bundle for another board or protocol major.
var ErrTarget = errors.New("bundle: not for this board")
