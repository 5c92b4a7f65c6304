package gpu

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Limits of a readout layer. MaxN bounds the counts a kernel stages in shared memory (4·N
// bytes of the 48 KiB every CUDA device gives a block); MaxWeights bounds the weights.
const (
	MaxN       = 8192
	MaxM       = 1 << 16
	MaxWeights = 1 << 26
)

// Layer is the readout's dense layer: M scores from N spike counts,
//
//	score[m] = Bias[m] + Σ_n W[m·N+n] · counts[n]
//
// with every product and sum in int64 arithmetic that wraps modulo 2^64. Integer sums do
// not depend on their order, so every backend gives the same bits. The prediction is the
// argmax: the first m with the largest score.
type Layer struct {
	M, N int
	W    []int32 // M×N, row-major: W[m·N+n] weighs neuron n's count into score m
	Bias []int64 // M values; nil means zeros
}

// Validate checks the shape against the weights and the limits.
func (l Layer) Validate() error {
	switch {
	case l.M < 1 || l.M > MaxM:
		return fmt.Errorf("%w: m = %d, want 1..%d", ErrLayer, l.M, MaxM)
	case l.N < 1 || l.N > MaxN:
		return fmt.Errorf("%w: n = %d, want 1..%d", ErrLayer, l.N, MaxN)
	case l.M*l.N > MaxWeights:
		return fmt.Errorf("%w: %d×%d weights, at most %d", ErrLayer, l.M, l.N, MaxWeights)
	case len(l.W) != l.M*l.N:
		return fmt.Errorf("%w: %d weights for %d×%d", ErrLayer, len(l.W), l.M, l.N)
	case l.Bias != nil && len(l.Bias) != l.M:
		return fmt.Errorf("%w: %d biases for m = %d", ErrLayer, len(l.Bias), l.M)
	}
	return nil
}

// Apply is the reference computation: it writes the M scores of counts (N values) into
// scores and returns the argmax. Backends must give the same bits.
func (l Layer) Apply(counts []int32, scores []int64) int {
	best := 0
	for m := range l.M {
		var s int64
		if l.Bias != nil {
			s = l.Bias[m]
		}
		for n, w := range l.W[m*l.N : (m+1)*l.N] {
			s += int64(w) * int64(counts[n])
		}
		scores[m] = s
		if s > scores[best] {
			best = m
		}
	}
	return best
}

// transposed returns the weights N×M (W_T[n·M+m]), the layout the kernels read: the threads
// of a block handle consecutive m and so read consecutive words.
func (l Layer) transposed() []int32 {
	t := make([]int32, len(l.W))
	for m := range l.M {
		for n := range l.N {
			t[n*l.M+m] = l.W[m*l.N+n]
		}
	}
	return t
}

func (l Layer) bias() []int64 {
	if l.Bias != nil {
		return l.Bias
	}
	return make([]int64, l.M)
}

// OutputSize is the size of one window's output for m scores:
//
//	0x0  int32 argmax
//	0x4  int32 zero
//	0x8  int64 score[m], m = 0..M-1
//
// all little-endian.
func OutputSize(m int) int { return 8 + 8*m }

// Output decodes a window's output: the argmax and the scores, appended to scores[:0].
func Output(b []byte, m int, scores []int64) (int, []int64) {
	scores = scores[:0]
	for i := range m {
		scores = append(scores, int64(binary.LittleEndian.Uint64(b[8+8*i:])))
	}
	return int(int32(binary.LittleEndian.Uint32(b))), scores
}

// Readout files.
//
// A readout file is JSON:
//
//	{"format": "lrchip-readout", "version": 1, "m": 2, "n": 3,
//	 "weights": [[1, 2, 3], [-4, 5, 6]], "bias": [0, -7]}
//
// weights has m rows of n int32 values (row m weighs the counts into score m); bias is
// optional (m int64 values, default zeros). Unknown fields are errors.
const (
	LayerFormat  = "lrchip-readout"
	LayerVersion = 1
)

type layerFile struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	M       int       `json:"m"`
	N       int       `json:"n"`
	Weights [][]int32 `json:"weights"`
	Bias    []int64   `json:"bias,omitempty"`
}

// ReadLayer parses a readout file. Errors wrap ErrLayer and say what is wrong where.
func ReadLayer(r io.Reader) (Layer, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f layerFile
	if err := dec.Decode(&f); err != nil {
		return Layer{}, fmt.Errorf("%w: %w", ErrLayer, err)
	}
	if dec.More() {
		return Layer{}, fmt.Errorf("%w: data after the layer object", ErrLayer)
	}
	switch {
	case f.Format != LayerFormat:
		return Layer{}, fmt.Errorf("%w: format %q, want %q", ErrLayer, f.Format, LayerFormat)
	case f.Version != LayerVersion:
		return Layer{}, fmt.Errorf("%w: version %d, this build reads version %d", ErrLayer, f.Version, LayerVersion)
	case len(f.Weights) != f.M:
		return Layer{}, fmt.Errorf("%w: %d weight rows, m = %d", ErrLayer, len(f.Weights), f.M)
	}
	l := Layer{M: f.M, N: f.N, Bias: f.Bias}
	if f.M >= 1 && f.M <= MaxM && f.N >= 1 && f.N <= MaxN && f.M*f.N <= MaxWeights {
		l.W = make([]int32, 0, f.M*f.N)
	}
	for i, row := range f.Weights {
		if len(row) != f.N {
			return Layer{}, fmt.Errorf("%w: weight row %d has %d values, n = %d", ErrLayer, i, len(row), f.N)
		}
		l.W = append(l.W, row...)
	}
	if err := l.Validate(); err != nil {
		return Layer{}, err
	}
	return l, nil
}

// ReadLayerFile reads a readout file.
func ReadLayerFile(path string) (Layer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Layer{}, fmt.Errorf("gpu: readout file: %w", err)
	}
	l, err := ReadLayer(bytes.NewReader(b))
	if err != nil {
		return Layer{}, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// WriteLayer writes l as a readout file, one weight row per line.
func WriteLayer(w io.Writer, l Layer) error {
	if err := l.Validate(); err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"format\": %q, \"version\": %d, \"m\": %d, \"n\": %d,\n \"weights\": [\n", LayerFormat, LayerVersion, l.M, l.N)
	for m := range l.M {
		row, _ := json.Marshal(l.W[m*l.N : (m+1)*l.N])
		b.WriteString("  ")
		b.Write(row)
		if m < l.M-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(" ]")
	if l.Bias != nil {
		bias, _ := json.Marshal(l.Bias)
		b.WriteString(",\n \"bias\": ")
		b.Write(bias)
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}
