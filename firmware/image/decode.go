package image

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"github.com/lrchip/lrchip/chip"
	"io"
	"os"

	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/syn"
)

// MaxImageSize is the format's limit: the largest image Encode writes and Decode, Read and
// ReadFile accept (1 GiB). A network whose image would be larger is refused by the mapper
// before it is built (network.Map estimates the size first).
const MaxImageSize = 1 << 30

// limit is MaxImageSize; tests lower it to check the limit without gigabytes.
var limit = MaxImageSize

// decoder reads little-endian fields from b[off:end], the current section. The first error
// sticks: later reads return zeros, so a record can be read straight through and checked once.
type decoder struct {
	b    []byte
	off  int
	end  int
	sect string
	rec  int // record index within the section, -1 outside records
	err  error
}

func (d *decoder) where() string {
	if d.rec < 0 {
		return d.sect
	}
	return fmt.Sprintf("%s[%d]", d.sect, d.rec)
}

func (d *decoder) fail(field, f string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("image: decode: %w: offset %d (%s, %s): %s", ErrFormat, d.off, d.where(), field, fmt.Sprintf(f, a...))
	}
}

// need reports whether n more bytes lie within the section, failing otherwise. Every
// allocation sized by a value read from the image is preceded by a need for its bytes.
func (d *decoder) need(field string, n uint64) bool {
	if d.err != nil {
		return false
	}
	if left := uint64(d.end - d.off); n > left {
		d.fail(field, "needs %d bytes, the section has %d left", n, left)
		return false
	}
	return true
}

func (d *decoder) u32(field string) uint32 {
	if !d.need(field, 4) {
		return 0
	}
	v := le.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) i32(field string) int32 { return int32(d.u32(field)) }

// num reads a u32 that must lie in [lo, hi].
func (d *decoder) num(field string, lo, hi int) int {
	at := d.off
	v := d.u32(field)
	if d.err == nil && (uint64(v) < uint64(lo) || uint64(v) > uint64(hi)) {
		d.off = at
		d.fail(field, "%d outside [%d, %d]", v, lo, hi)
		return 0
	}
	return int(v)
}

// pad skips zero bytes up to the next multiple of 4.
func (d *decoder) pad(field string) {
	for d.err == nil && d.off%4 != 0 {
		if !d.need(field+" padding", 1) {
			return
		}
		if d.b[d.off] != 0 {
			d.fail(field+" padding", "nonzero byte 0x%02x", d.b[d.off])
			return
		}
		d.off++
	}
}

func (d *decoder) str(field string) string {
	n := d.num(field+" length", 0, MaxNameLen)
	if !d.need(field, uint64(n)) {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	d.pad(field)
	return s
}

func (d *decoder) i32s(field string, n int) []int32 {
	if n == 0 || !d.need(field, 4*uint64(n)) {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(le.Uint32(d.b[d.off+4*i:]))
	}
	d.off += 4 * n
	return out
}

// i16s reads n 16-bit values (signed when signed is set) and the padding after them.
func (d *decoder) i16s(field string, n int, signed bool) []int32 {
	if !d.need(field, 2*uint64(n)) {
		return nil
	}
	out := make([]int32, n)
	for i := range out {
		v := le.Uint16(d.b[d.off+2*i:])
		if signed {
			out[i] = int32(int16(v))
		} else {
			out[i] = int32(v)
		}
	}
	d.off += 2 * n
	d.pad(field)
	return out
}

// Decode decodes an image and checks it with Validate. Errors say what is wrong and where: the
// byte offset, the section and record, and the field. They wrap ErrFormat, ErrVersion,
// ErrChecksum or ErrInvalid (with *FieldError). Decode never panics, and it allocates only
// what lengths already checked against the input allow.
func Decode(b []byte) (*Image, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("image: decode: %w: %d bytes, the format's limit is %d", ErrTooLarge, len(b), limit)
	}
	d := &decoder{b: b, end: len(b), sect: "header", rec: -1}
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		d.fail("magic", "got %q, want %q", b[:min(len(b), len(Magic))], Magic)
		return nil, d.err
	}
	if len(b) >= 6 {
		if v := le.Uint16(b[4:]); v != Version {
			return nil, fmt.Errorf("image: decode: %w: offset 4 (header, version): version %d, this build reads %d", ErrVersion, v, Version)
		}
	}
	minLen := headerSize + numSects*entrySize + sumSize
	if len(b) < minLen {
		d.off = len(b)
		d.fail("length", "truncated: %d bytes, an image has at least %d", len(b), minLen)
		return nil, d.err
	}
	d.off = 6
	if f := le.Uint16(b[6:]); f != 0 {
		d.fail("flags", "0x%04x, want 0", f)
		return nil, d.err
	}
	d.off = 8
	img := &Image{}
	img.Size.Cores = d.num("cores", 1, chip.MaxCores)
	img.Size.NeuronsPerCore = d.num("neurons per core", 1, chip.MaxNeuronsPerCore)
	d.num("section count", numSects, numSects)
	total := d.u32("total length")
	if d.err == nil && uint64(total) != uint64(len(b)) {
		d.off -= 4
		d.fail("total length", "header says %d bytes, the image has %d (truncated or extended?)", total, len(b))
	}
	if d.err != nil {
		return nil, d.err
	}
	sumAt := len(b) - sumSize
	if sum := sha256.Sum256(b[:sumAt]); !bytes.Equal(sum[:], b[sumAt:]) {
		return nil, fmt.Errorf("image: decode: %w: offset %d (sha256): stored %x, computed %x", ErrChecksum, sumAt, b[sumAt:], sum)
	}
	copy(img.SHA256[:], b[sumAt:])

	type section struct{ kind, count, start, length int }
	var sects [numSects]section
	next := headerSize + numSects*entrySize
	d.sect = "section table"
	for i := range sects {
		d.rec = i
		s := &sects[i]
		s.kind = d.num("kind", i+1, i+1)
		s.count = d.num("count", 0, 1<<31-1)
		at := d.off
		s.start = d.num("offset", next, next)
		s.length = d.num("length", 0, sumAt-next)
		if d.err == nil && s.length%4 != 0 {
			d.off = at + 4
			d.fail("length", "%d is not a multiple of 4", s.length)
		}
		next += s.length
	}
	if d.err == nil && next != sumAt {
		d.off = headerSize
		d.fail("length", "sections end at %d, the checksum is at %d", next, sumAt)
	}
	if d.err != nil {
		return nil, d.err
	}

	offs := map[string][]int{}
	for i, s := range sects {
		d.sect, d.rec, d.off, d.end = SectionName(s.kind), -1, s.start, s.start+s.length
		// Every record takes at least 4 bytes: this bounds the allocations below.
		if s.count > s.length/4 {
			d.off = headerSize + i*entrySize + 4
			d.sect = "section table"
			d.rec = i
			d.fail("count", "%d records cannot fit in %d bytes", s.count, s.length)
			return nil, d.err
		}
		if s.kind == SectMeta && s.count != 1 {
			d.off = headerSize + i*entrySize + 4
			d.sect, d.rec = "section table", i
			d.fail("count", "%d meta records, want 1", s.count)
			return nil, d.err
		}
		rec := make([]int, s.count)
		for r := range s.count {
			d.rec = r
			rec[r] = d.off
			switch s.kind {
			case SectMeta:
				img.Name = d.str("name")
			case SectCores:
				img.Cores = append(img.Cores, d.core())
			case SectInputs:
				var in Input
				in.Name = d.str("name")
				in.Size = d.num("size", 1, chip.MaxNeuronsPerCore)
				img.Inputs = append(img.Inputs, in)
			case SectConns:
				img.Conns = append(img.Conns, d.conn())
			case SectPops:
				img.Pops = append(img.Pops, d.pop())
			case SectOutputs:
				var o Output
				o.Name = d.str("name")
				o.Pop = d.num("population", 0, 1<<31-1)
				o.Start = d.num("start", 0, 1<<31-1)
				o.Count = d.num("count", 1, 1<<31-1)
				img.Outputs = append(img.Outputs, o)
			}
			if d.err != nil {
				return nil, d.err
			}
		}
		d.rec = -1
		if d.off != d.end {
			d.fail("end", "%d bytes left over after %d records", d.end-d.off, s.count)
			return nil, d.err
		}
		offs[d.sect] = rec
	}
	if err := img.validate(offs); err != nil {
		return nil, fmt.Errorf("image: decode: %w", err)
	}
	return img, nil
}

func (d *decoder) core() Core {
	var c Core
	c.Index = d.num("index", 0, chip.MaxCores-1)
	c.Neurons = d.num("neurons", 1, chip.MaxNeuronsPerCore)
	n := d.num("program length", 0, 1<<31-1)
	if !d.need("program", uint64(n)) {
		return c
	}
	at := d.off
	p, err := isa.UnmarshalProgram(d.b[d.off : d.off+n])
	if err != nil {
		d.err = fmt.Errorf("image: decode: %w: offset %d (%s, program): %w", ErrFormat, at, d.where(), err)
		return c
	}
	c.Program = p
	d.off += n
	d.pad("program")
	c.Consts = d.i32s("constants", len(p.Consts))
	c.Params = d.rows("parameters", len(p.Params), c.Neurons)
	c.State = d.rows("state", len(p.State), c.Neurons)
	return c
}

func (d *decoder) rows(field string, names, n int) [][]int32 {
	if names == 0 || !d.need(field, 4*uint64(names)*uint64(n)) {
		return nil
	}
	out := make([][]int32, names)
	for i := range out {
		out[i] = d.i32s(field, n)
	}
	return out
}

func (d *decoder) conn() Conn {
	var c Conn
	c.Name = d.str("name")
	c.Kind = SourceKind(d.num("source kind", int(FromCore), int(FromInput)))
	c.Src = d.num("source", 0, chip.MaxCores-1)
	c.SrcStart = d.num("source start", 0, chip.MaxNeuronsPerCore-1)
	c.SrcCount = d.num("source count", 1, chip.MaxNeuronsPerCore)
	c.Dst = d.num("destination", 0, chip.MaxCores-1)
	c.DstStart = d.num("destination start", 0, chip.MaxNeuronsPerCore-1)
	c.DstCount = d.num("destination count", 1, chip.MaxNeuronsPerCore)
	c.SignMode = syn.SignMode(d.num("sign mode", int(syn.Mixed), int(syn.Inhibitory)))
	c.WeightBits = d.num("weight bits", 1, syn.MaxWeightBits)
	at := d.off
	c.WeightExp = int(d.i32("weight exponent"))
	if d.err == nil && (c.WeightExp < syn.MinExp || c.WeightExp > syn.MaxExp) {
		d.off = at
		d.fail("weight exponent", "%d outside [%d, %d]", c.WeightExp, syn.MinExp, syn.MaxExp)
	}
	at = d.off
	flags := d.u32("flags")
	if d.err == nil && flags&^(connGraded|connSparse) != 0 {
		d.off = at
		d.fail("flags", "unknown bits 0x%x", flags&^(connGraded|connSparse))
	}
	c.Graded = flags&connGraded != 0
	at = d.off
	nsyn := d.num("synapses", 0, 1<<31-1)
	if d.err != nil {
		return c
	}
	if flags&connSparse == 0 {
		if nsyn != c.SrcCount*c.DstCount {
			d.off = at
			d.fail("synapses", "%d for a dense %d×%d block, want %d", nsyn, c.SrcCount, c.DstCount, c.SrcCount*c.DstCount)
			return c
		}
		c.Weights = d.i16s("weights", nsyn, true)
		return c
	}
	// A sparse record holds 4 bytes per index entry and 4 per synapse.
	if !d.need("sparse synapses", 4*uint64(c.SrcCount+1)+4*uint64(nsyn)) {
		return c
	}
	c.Index = d.i32s("index", c.SrcCount+1)
	c.Targets = d.i16s("targets", nsyn, false)
	c.Weights = d.i16s("weights", nsyn, true)
	return c
}

func (d *decoder) pop() Population {
	var p Population
	p.Name = d.str("name")
	p.Size = d.num("size", 1, chip.MaxCores*chip.MaxNeuronsPerCore)
	n := d.num("segments", 1, 1<<31-1)
	if !d.need("segments", 12*uint64(n)) {
		return p
	}
	p.Segments = make([]Segment, n)
	for i := range p.Segments {
		s := &p.Segments[i]
		s.Core = d.num("segment core", 0, chip.MaxCores-1)
		s.Start = d.num("segment start", 0, chip.MaxNeuronsPerCore-1)
		s.Count = d.num("segment count", 1, chip.MaxNeuronsPerCore)
	}
	return p
}

// UnmarshalBinary decodes an image into img (see Decode). On error img is left unchanged.
func (img *Image) UnmarshalBinary(b []byte) error {
	x, err := Decode(b)
	if err != nil {
		return err
	}
	*img = *x
	return nil
}

// Read reads and decodes an image of at most MaxImageSize bytes.
func Read(r io.Reader) (*Image, error) {
	b, err := ReadBytes(r)
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// ReadBytes reads the bytes of an image, at most MaxImageSize of them: more is ErrTooLarge,
// found without reading past the limit.
func ReadBytes(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("image: read: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("image: read: %w: more than %d bytes, the format's limit", ErrTooLarge, limit)
	}
	return b, nil
}

// ReadFile reads the bytes of an image file (see ReadBytes): a file larger than the limit is
// refused by its size, before anything is read.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > int64(limit) {
		return nil, fmt.Errorf("image: %s: %w: %d bytes, the format's limit is %d (1 GiB)", path, ErrTooLarge, st.Size(), limit)
	}
	b, err := ReadBytes(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// IsImage reports whether b starts with the image magic.
func IsImage(b []byte) bool { return bytes.HasPrefix(b, []byte(Magic)) }
