package image

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// Section kinds, in the order they appear in an image.
const (
	SectMeta    = 1 // the network's name
	SectCores   = 2 // one record per core
	SectInputs  = 3 // one record per input port
	SectConns   = 4 // one record per connection
	SectPops    = 5 // one record per population
	SectOutputs = 6 // one record per output port
	numSects    = 6

	headerSize = 24
	entrySize  = 16
	sumSize    = sha256.Size
)

// SectionName returns the name of a section kind ("cores"), as errors and tools print it.
func SectionName(kind int) string {
	switch kind {
	case SectMeta:
		return "meta"
	case SectCores:
		return "cores"
	case SectInputs:
		return "inputs"
	case SectConns:
		return "conns"
	case SectPops:
		return "pops"
	case SectOutputs:
		return "outputs"
	}
	return fmt.Sprintf("section(%d)", kind)
}

// Flags of a connection record.
const (
	connGraded = 1 << 0
	connSparse = 1 << 1
)

var le = binary.LittleEndian

type encoder struct{ b []byte }

func (e *encoder) u32(v int)   { e.b = le.AppendUint32(e.b, uint32(v)) }
func (e *encoder) i32(v int32) { e.b = le.AppendUint32(e.b, uint32(v)) }
func (e *encoder) pad() {
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) str(s string) {
	e.u32(len(s))
	e.b = append(e.b, s...)
	e.pad()
}
func (e *encoder) i16s(ws []int32) {
	for _, w := range ws {
		e.b = le.AppendUint16(e.b, uint16(int16(w)))
	}
	e.pad()
}

// rows appends names×n values, row by row, zeros for missing rows.
func (e *encoder) rows(rows [][]int32, names, n int) {
	for i := range names {
		var r []int32
		if i < len(rows) {
			r = rows[i]
		}
		if r == nil {
			e.b = append(e.b, make([]byte, 4*n)...)
			continue
		}
		for _, v := range r {
			e.i32(v)
		}
	}
}

// MarshalBinary encodes img (see the package documentation). It fails, wrapping ErrInvalid,
// when img does not pass Validate.
func (img *Image) MarshalBinary() ([]byte, error) {
	if err := img.Validate(); err != nil {
		return nil, fmt.Errorf("image: encode: %w", err)
	}
	e := &encoder{}
	e.b = append(e.b, Magic...)
	e.b = le.AppendUint16(e.b, Version)
	e.b = le.AppendUint16(e.b, 0)
	e.u32(img.Size.Cores)
	e.u32(img.Size.NeuronsPerCore)
	e.u32(numSects)
	e.u32(0) // total length, set below
	table := len(e.b)
	e.b = append(e.b, make([]byte, numSects*entrySize)...)
	entry := func(i, kind, count, start int) {
		at := table + i*entrySize
		le.PutUint32(e.b[at:], uint32(kind))
		le.PutUint32(e.b[at+4:], uint32(count))
		le.PutUint32(e.b[at+8:], uint32(start))
		le.PutUint32(e.b[at+12:], uint32(len(e.b)-start))
	}

	start := len(e.b)
	e.str(img.Name)
	entry(0, SectMeta, 1, start)

	start = len(e.b)
	for _, c := range img.Cores {
		e.u32(c.Index)
		e.u32(c.Neurons)
		at := len(e.b)
		e.u32(0)
		var err error
		if e.b, err = c.Program.AppendBinary(e.b); err != nil { // Validate checked it
			return nil, fmt.Errorf("image: encode: core %d: %w", c.Index, err)
		}
		le.PutUint32(e.b[at:], uint32(len(e.b)-at-4))
		e.pad()
		for _, v := range c.Consts {
			e.i32(v)
		}
		e.rows(c.Params, len(c.Program.Params), c.Neurons)
		e.rows(c.State, len(c.Program.State), c.Neurons)
	}
	entry(1, SectCores, len(img.Cores), start)

	start = len(e.b)
	for _, in := range img.Inputs {
		e.str(in.Name)
		e.u32(in.Size)
	}
	entry(2, SectInputs, len(img.Inputs), start)

	start = len(e.b)
	for _, c := range img.Conns {
		e.str(c.Name)
		for _, v := range []int{int(c.Kind), c.Src, c.SrcStart, c.SrcCount, c.Dst, c.DstStart, c.DstCount, int(c.SignMode), c.WeightBits} {
			e.u32(v)
		}
		e.i32(int32(c.WeightExp))
		flags := 0
		if c.Graded {
			flags |= connGraded
		}
		if c.Sparse() {
			flags |= connSparse
		}
		e.u32(flags)
		e.u32(len(c.Weights))
		if c.Sparse() {
			for _, v := range c.Index {
				e.i32(v)
			}
			e.i16s(c.Targets) // targets < chip.MaxNeuronsPerCore fit 16 bits
		}
		e.i16s(c.Weights)
	}
	entry(3, SectConns, len(img.Conns), start)

	start = len(e.b)
	for _, p := range img.Pops {
		e.str(p.Name)
		e.u32(p.Size)
		e.u32(len(p.Segments))
		for _, s := range p.Segments {
			e.u32(s.Core)
			e.u32(s.Start)
			e.u32(s.Count)
		}
	}
	entry(4, SectPops, len(img.Pops), start)

	start = len(e.b)
	for _, o := range img.Outputs {
		e.str(o.Name)
		e.u32(o.Pop)
		e.u32(o.Start)
		e.u32(o.Count)
	}
	entry(5, SectOutputs, len(img.Outputs), start)

	if len(e.b)+sumSize > limit {
		return nil, fmt.Errorf("image: encode: %w: %d bytes, the format's limit is %d", ErrTooLarge, len(e.b)+sumSize, limit)
	}
	le.PutUint32(e.b[20:], uint32(len(e.b)+sumSize))
	sum := sha256.Sum256(e.b)
	return append(e.b, sum[:]...), nil
}

// Encode writes the encoding of img to w.
func Encode(w io.Writer, img *Image) error {
	b, err := img.MarshalBinary()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("image: encode: %w", err)
	}
	return nil
}
