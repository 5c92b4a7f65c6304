package isa

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Program binary format.
//
// A Program is stored as one self-contained, checksummed little-endian blob, version 1:
//
//	offset      size      field
//	0           4         magic "LRNP"
//	4           2         version, 1
//	6           2         flags, 0 (reserved; a nonzero value is rejected)
//	8           1         ninstr: number of instructions, 1..MaxInstrs
//	9           1         nstate: number of state register names, 0..NumState
//	10          1         nparam: number of parameter names, 0..NumParam
//	11          1         nconst: number of constant names, 0..NumConst
//	12          4         L: length of the names block in bytes, not counting its padding
//	16          L         names block: the program name, then the nstate state names, the nparam
//	                      parameter names and the nconst constant names, in register order; each
//	                      is a 1-byte length followed by that many bytes (the program name may be
//	                      empty, the others are identifiers, see CheckNames)
//	16+L        P         zero padding, P = (8 - L%8) % 8, so that the code starts 8-aligned
//	C = 16+L+P  8×ninstr  the instruction words (Word, see Instr.Encode), in program order
//	C+8×ninstr  4         CRC-32 (IEEE) of all the preceding bytes
//
// The blob's length must be exactly C + 8×ninstr + 4. Every byte of a valid blob is
// determined by the Program, so decoding and encoding again gives back the same bytes.
const (
	BinaryMagic   = "LRNP"
	BinaryVersion = 1
)

const (
	binHeaderSize = 16
	binCRCSize    = 4
)

// Errors of UnmarshalProgram, besides ErrInvalid (a well-formed blob holding a program that
// fails CheckNames or Validate).
var (
	ErrFormat   = errors.New("malformed program binary")
	ErrChecksum = errors.New("program binary checksum mismatch")
)

// MarshalBinary encodes p in the program binary format (see BinaryMagic). It fails, wrapping
// ErrInvalid, when p does not pass Validate and CheckNames.
func (p *Program) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

// AppendBinary appends the encoding of p (see MarshalBinary) to b.
func (p *Program) AppendBinary(b []byte) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return b, fmt.Errorf("isa: marshal program: %w", err)
	}
	if err := p.CheckNames(); err != nil {
		return b, fmt.Errorf("isa: marshal program: %w", err)
	}
	start := len(b)
	b = append(b, BinaryMagic...)
	b = binary.LittleEndian.AppendUint16(b, BinaryVersion)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = append(b, byte(len(p.Code)), byte(len(p.State)), byte(len(p.Params)), byte(len(p.Consts)))
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0)
	b = appendName(b, p.Name)
	for _, l := range [][]string{p.State, p.Params, p.Consts} {
		for _, n := range l {
			b = appendName(b, n)
		}
	}
	binary.LittleEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	for _, in := range p.Code {
		b = binary.LittleEndian.AppendUint64(b, uint64(in.Encode()))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:])), nil
}

func appendName(b []byte, n string) []byte { return append(append(b, byte(len(n))), n...) }

// UnmarshalBinary decodes a program binary into p (see UnmarshalProgram). On error p is left
// unchanged.
func (p *Program) UnmarshalBinary(b []byte) error {
	q, err := UnmarshalProgram(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// UnmarshalProgram decodes a program binary (see BinaryMagic) and checks the program with
// CheckNames and Validate. Errors name the offset and field at fault and wrap ErrFormat (a
// malformed blob), ErrChecksum (a CRC mismatch) or ErrInvalid (an invalid program; a problem
// with one instruction is also an *InstrError). Name lists with no names are nil.
func UnmarshalProgram(b []byte) (*Program, error) {
	const op = "isa: unmarshal program"
	bad := func(off int, field, f string, a ...any) error {
		return fmt.Errorf("%s: %w: offset %d (%s): %s", op, ErrFormat, off, field, fmt.Sprintf(f, a...))
	}
	if len(b) < len(BinaryMagic) || string(b[:len(BinaryMagic)]) != BinaryMagic {
		return nil, bad(0, "magic", "got %q, want %q", b[:min(len(b), len(BinaryMagic))], BinaryMagic)
	}
	if len(b) < binHeaderSize+binCRCSize {
		return nil, bad(len(b), "header", "truncated: %d bytes, need at least %d", len(b), binHeaderSize+binCRCSize)
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[4:]); v != BinaryVersion {
		return nil, bad(4, "version", "unsupported version %d, want %d", v, BinaryVersion)
	}
	if f := le.Uint16(b[6:]); f != 0 {
		return nil, bad(6, "flags", "0x%04x, want 0", f)
	}
	counts := []struct {
		field string
		n     int
		max   int
	}{{"ninstr", int(b[8]), MaxInstrs}, {"nstate", int(b[9]), NumState}, {"nparam", int(b[10]), NumParam}, {"nconst", int(b[11]), NumConst}}
	for i, c := range counts {
		if c.n > c.max {
			return nil, bad(8+i, c.field, "%d exceeds the limit %d", c.n, c.max)
		}
	}
	ninstr := counts[0].n
	namesLen := uint64(le.Uint32(b[12:]))
	codeAt := binHeaderSize + (namesLen+7)/8*8
	if want := codeAt + uint64(ninstr)*WordSize + binCRCSize; uint64(len(b)) != want {
		return nil, bad(12, "names length", "blob is %d bytes, but names length %d and ninstr %d make %d", len(b), namesLen, ninstr, want)
	}
	crcAt := len(b) - binCRCSize
	if stored, sum := le.Uint32(b[crcAt:]), crc32.ChecksumIEEE(b[:crcAt]); stored != sum {
		return nil, fmt.Errorf("%s: %w: offset %d (crc): stored 0x%08x, computed 0x%08x", op, ErrChecksum, crcAt, stored, sum)
	}

	// Names. All lengths below are bounded by the names block, which lies within b.
	end := binHeaderSize + int(namesLen)
	off := binHeaderSize
	next := func(what string) (string, error) {
		if off >= end {
			return "", bad(off, what, "names block ends at offset %d before this name", end)
		}
		n := int(b[off])
		if off+1+n > end {
			return "", bad(off, what, "%d-byte name overruns the names block, which ends at offset %d", n, end)
		}
		s := string(b[off+1 : off+1+n])
		off += 1 + n
		return s, nil
	}
	p := &Program{}
	var err error
	if p.Name, err = next("program name"); err != nil {
		return nil, err
	}
	for i, l := range []*[]string{&p.State, &p.Params, &p.Consts} {
		c := counts[i+1]
		for j := 0; j < c.n; j++ {
			s, err := next(fmt.Sprintf("%s name %d", c.field[1:], j))
			if err != nil {
				return nil, err
			}
			*l = append(*l, s)
		}
	}
	if off != end {
		return nil, bad(off, "names", "%d bytes left over at the end of the names block", end-off)
	}
	for i := end; i < int(codeAt); i++ {
		if b[i] != 0 {
			return nil, bad(i, "padding", "nonzero byte 0x%02x", b[i])
		}
	}

	if ninstr > 0 {
		p.Code = make([]Instr, ninstr)
	}
	for pc := range p.Code {
		p.Code[pc] = Decode(Word(le.Uint64(b[int(codeAt)+pc*WordSize:])))
	}
	if err := p.CheckNames(); err != nil {
		return nil, fmt.Errorf("%s: offset %d (names): %w", op, binHeaderSize, err)
	}
	if err := p.Validate(); err != nil {
		var ie *InstrError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("%s: offset %d: %w", op, int(codeAt)+ie.PC*WordSize, err)
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return p, nil
}
