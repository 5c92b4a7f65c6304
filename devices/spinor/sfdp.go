package spinor

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SFDP (JEDEC JESD216): a header with the signature "SFDP", parameter headers, and the basic
// flash parameter table (id 0xFF00), of which this driver reads the 4 KiB erase, the address
// bytes and the density.

const (
	sfdpSignature = 0x50444653 // "SFDP", little-endian
	sfdpBasicID   = 0xFF00
	maxSFDPTable  = 64 // DWORDs read of the basic table, at most
)

var errNoSFDP = errors.New("spinor: no SFDP")

type sfdpParams struct {
	size  int
	addr4 bool // 4-byte addresses offered
}

// readSFDP reads and decodes the basic parameter table through read (off, n: a range of the
// SFDP space). A part without the signature has no SFDP (errNoSFDP).
func readSFDP(read func(off, n int) ([]byte, error)) (sfdpParams, error) {
	hdr, err := read(0, 16)
	if err != nil {
		return sfdpParams{}, err
	}
	if binary.LittleEndian.Uint32(hdr) != sfdpSignature {
		return sfdpParams{}, errNoSFDP
	}
	bad := func(format string, args ...any) (sfdpParams, error) {
		return sfdpParams{}, fmt.Errorf("spinor: SFDP: %s: %w", fmt.Sprintf(format, args...), ErrSFDP)
	}
	if hdr[5] != 1 {
		return bad("major revision %d, want 1", hdr[5])
	}
	// The first parameter header (right after the SFDP header) must be the basic table.
	ph := hdr[8:16]
	if id := uint16(ph[7])<<8 | uint16(ph[0]); id != sfdpBasicID {
		return bad("first parameter table has id %#04x, want the basic table %#04x", id, sfdpBasicID)
	}
	words := int(ph[3])
	ptr := int(ph[4]) | int(ph[5])<<8 | int(ph[6])<<16
	if words < 2 || ptr%4 != 0 {
		return bad("basic table of %d DWORDs at %#x", words, ptr)
	}
	t, err := read(ptr, 4*min(words, maxSFDPTable))
	if err != nil {
		return sfdpParams{}, err
	}
	return decodeBasic(t)
}

// decodeBasic decodes the first two DWORDs of the basic parameter table.
func decodeBasic(t []byte) (sfdpParams, error) {
	bad := func(format string, args ...any) (sfdpParams, error) {
		return sfdpParams{}, fmt.Errorf("spinor: SFDP: %s: %w", fmt.Sprintf(format, args...), ErrSFDP)
	}
	if len(t) < 8 {
		return bad("basic table of %d bytes", len(t))
	}
	w1, w2 := binary.LittleEndian.Uint32(t), binary.LittleEndian.Uint32(t[4:])
	if w1&3 != 1 {
		return bad("no uniform 4 KiB erase (DWORD 1 = %#08x)", w1)
	}
	if op := byte(w1 >> 8); op != 0x20 {
		return bad("4 KiB erase opcode %#02x, this driver sends 0x20", op)
	}
	var p sfdpParams
	switch (w1 >> 17) & 3 {
	case 0:
	case 1, 2:
		p.addr4 = true
	default:
		return bad("address bytes field 3 is reserved")
	}
	var bits uint64
	if w2&(1<<31) == 0 {
		bits = uint64(w2) + 1
	} else if n := w2 &^ (1 << 31); n >= 16 && n <= 33 {
		bits = 1 << n
	} else {
		return bad("density 2^%d bits", n)
	}
	if bits%(8*SectorSize) != 0 || bits > 8<<30 {
		return bad("density of %d bits is not whole sectors up to 1 GiB", bits)
	}
	p.size = int(bits / 8)
	return p, nil
}

// BasicTable encodes an SFDP space that describes a part of size bytes with 4 KiB erase
// (opcode 0x20) and, with addr4, 3- or 4-byte addresses: what a flash model answers to
// READ_SFDP. The basic table is the 9 DWORDs of JESD216's first revision.
func BasicTable(size int, addr4 bool) []byte {
	b := make([]byte, 16+36)
	binary.LittleEndian.PutUint32(b, sfdpSignature)
	b[4], b[5], b[6], b[7] = 0, 1, 0, 0xff   // minor, major, headers-1, access protocol
	b[8], b[9], b[10], b[11] = 0x00, 0, 1, 9 // id LSB, minor, major, DWORDs
	b[12], b[13], b[14], b[15] = 16, 0, 0, 0xff
	w1 := uint32(1) | 0x20<<8
	if addr4 {
		w1 |= 1 << 17
	}
	binary.LittleEndian.PutUint32(b[16:], w1)
	if bits := uint64(size) * 8; bits <= 1<<31 {
		binary.LittleEndian.PutUint32(b[20:], uint32(bits-1))
	} else {
		n := uint32(0)
		for 1<<n < bits {
			n++
		}
		binary.LittleEndian.PutUint32(b[20:], 1<<31|n)
	}
	for i := 24; i < len(b); i++ {
		b[i] = 0xff
	}
	return b
}
