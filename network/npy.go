package network

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
)

// maxNPYHeader bounds an .npy header: NumPy writes a few hundred bytes; the format allows 4 GiB.
const maxNPYHeader = 64 << 10

// npyArray is an integer array read from an .npy stream, in C order.
type npyArray struct {
	shape []int
	data  []int32
}

// readNPY reads one .npy array of at most maxElems integral elements (any integer or float
// dtype NumPy writes; floats must hold integers), each within int32. It checks the header's
// length and shape before anything of their size is allocated.
func readNPY(r io.Reader, maxElems int) (a npyArray, err error) {
	defer func() {
		if p := recover(); p != nil { // the decoder of the header's Python literal is not ours
			err = fmt.Errorf("malformed .npy header (%v)", p)
		}
	}()
	br := bufio.NewReader(r)
	pre, err := br.Peek(12)
	if err != nil || !bytes.HasPrefix(pre, npy.Magic[:]) {
		return a, errors.New("not an .npy array (no \\x93NUMPY magic)")
	}
	var hlen, at int
	switch pre[6] {
	case 1:
		hlen, at = int(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		hlen, at = int(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return a, fmt.Errorf(".npy version %d", pre[6])
	}
	if hlen > maxNPYHeader {
		return a, fmt.Errorf(".npy header of %d bytes, limit %d", hlen, maxNPYHeader)
	}
	if h, err := br.Peek(at + hlen); err != nil || bytes.IndexByte(h[at:], '\n') < 0 {
		return a, errors.New("truncated or malformed .npy header")
	}
	nr, err := npy.NewReader(br)
	if err != nil {
		return a, fmt.Errorf(".npy: %v", err)
	}
	h := nr.Header.Descr
	n := 1
	for _, d := range h.Shape {
		if d < 0 || d > maxElems || n*d > maxElems {
			return a, fmt.Errorf("array of shape %v: more than %d elements", h.Shape, maxElems)
		}
		n *= d
	}
	a.shape = h.Shape
	conv := func(i int, v float64) error {
		if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("element %d is %v, not a 32-bit integer", i, v)
		}
		a.data[i] = int32(v)
		return nil
	}
	a.data = make([]int32, n)
	read := func(ptr any, at func(int) float64) error {
		if err := nr.Read(ptr); err != nil {
			return fmt.Errorf(".npy data: %v", err)
		}
		for i := range n {
			if err := conv(i, at(i)); err != nil {
				return err
			}
		}
		return nil
	}
	switch t := strings.TrimLeft(strings.Trim(h.Type, "'\""), "<|="); t {
	case "i1":
		var v []int8
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "u1":
		var v []uint8
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "i2":
		var v []int16
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "u2":
		var v []uint16
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "i4":
		var v []int32
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "u4":
		var v []uint32
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "i8":
		var v []int64
		err = read(&v, func(i int) float64 {
			if v[i] < math.MinInt32 || v[i] > math.MaxInt32 {
				return math.Inf(1)
			}
			return float64(v[i])
		})
	case "f4":
		var v []float32
		err = read(&v, func(i int) float64 { return float64(v[i]) })
	case "f8":
		var v []float64
		err = read(&v, func(i int) float64 { return v[i] })
	default:
		return a, fmt.Errorf("dtype %s: want integers or floats holding integers", quote(h.Type))
	}
	if err != nil {
		return a, err
	}
	if h.Fortran && len(h.Shape) == 2 { // column-major: make it row-major
		rows, cols := h.Shape[0], h.Shape[1]
		c := make([]int32, n)
		for i := range rows {
			for j := range cols {
				c[i*cols+j] = a.data[j*rows+i]
			}
		}
		a.data = c
	}
	return a, nil
}

// openLimited opens a data file of at most MaxFileSize bytes.
func openLimited(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", quote(path))
	}
	if st.Size() > MaxFileSize {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %d bytes, limit %d", quote(path), st.Size(), MaxFileSize)
	}
	return f, st.Size(), nil
}

// readDense reads an .npy file of dense weights [rows][cols].
func readDense(path string, rows, cols int) (*Matrix, error) {
	f, _, err := openLimited(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if int64(rows)*int64(cols) > MaxRuleSynapses {
		return nil, fmt.Errorf("%s: a dense %d×%d connection has more than %d weights; give it as an .npz of pre, post, weights", quote(path), rows, cols, MaxRuleSynapses)
	}
	a, err := readNPY(io.LimitReader(f, MaxFileSize), MaxRuleSynapses)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote(path), err)
	}
	if len(a.shape) != 2 || a.shape[0] != rows || a.shape[1] != cols {
		return nil, fmt.Errorf("%s: shape %v, want [%d, %d] ([target][source], as Lava's Dense)", quote(path), a.shape, rows, cols)
	}
	m := &Matrix{Rows: make([][]int32, rows)}
	for i := range rows {
		m.Rows[i] = a.data[i*cols : (i+1)*cols : (i+1)*cols]
	}
	return m, nil
}

// readSparse reads an .npz file of 1-D arrays pre, post and, unless w gives one weight for
// all, weights.
func readSparse(path string, from, to int, w *Matrix) (*Sparse, error) {
	f, size, err := openLimited(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not an .npz (zip) file: %v", quote(path), err)
	}
	arrays := map[string][]int32{}
	var total uint64
	for _, e := range z.File {
		name := strings.TrimSuffix(e.Name, ".npy")
		if name != "pre" && name != "post" && name != "weights" {
			return nil, fmt.Errorf("%s: array %s: want pre, post and weights", quote(path), quote(name))
		}
		if _, dup := arrays[name]; dup {
			return nil, fmt.Errorf("%s: array %s twice", quote(path), name)
		}
		total += e.UncompressedSize64
		if total > 4*MaxFileSize {
			return nil, fmt.Errorf("%s: more than %d bytes uncompressed", quote(path), 4*MaxFileSize)
		}
		rc, err := e.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", quote(path), name, err)
		}
		a, err := readNPY(io.LimitReader(rc, 4*MaxFileSize), MaxRuleSynapses)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", quote(path), name, err)
		}
		if len(a.shape) != 1 {
			return nil, fmt.Errorf("%s: %s has shape %v, want one dimension", quote(path), name, a.shape)
		}
		arrays[name] = a.data
	}
	pre, post, ws := arrays["pre"], arrays["post"], arrays["weights"]
	switch {
	case pre == nil || post == nil:
		return nil, fmt.Errorf("%s: want arrays pre and post (and weights)", quote(path))
	case len(pre) != len(post):
		return nil, fmt.Errorf("%s: %d pre and %d post", quote(path), len(pre), len(post))
	case ws == nil && w == nil:
		return nil, fmt.Errorf("%s: no weights array; give one, or weights: W in the description", quote(path))
	case ws != nil && w != nil:
		return nil, fmt.Errorf("%s: has a weights array and the description gives weights: W; give one", quote(path))
	case ws != nil && len(ws) != len(pre):
		return nil, fmt.Errorf("%s: %d weights for %d synapses", quote(path), len(ws), len(pre))
	}
	sp := &Sparse{Pre: make([]int, len(pre)), Post: make([]int, len(post))}
	for k := range pre {
		sp.Pre[k], sp.Post[k] = int(pre[k]), int(post[k])
	}
	if ws != nil {
		sp.Weights = Each(ws...)
	} else {
		sp.Weights = All(w.All)
	}
	return sp, nil
}
