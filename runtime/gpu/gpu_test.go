package gpu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// direct computes a window's scores exactly with big integers and wraps them to int64, as
// the layer's definition says, with the row-major weights; it shares no code with the
// backends.
func direct(l Layer, counts []int32) (int, []int64) {
	scores := make([]int64, l.M)
	mod := new(big.Int).Lsh(big.NewInt(1), 64)
	best := 0
	for m := 0; m < l.M; m++ {
		s := new(big.Int)
		if l.Bias != nil {
			s.SetInt64(l.Bias[m])
		}
		for n := 0; n < l.N; n++ {
			s.Add(s, new(big.Int).Mul(big.NewInt(int64(l.W[m*l.N+n])), big.NewInt(int64(counts[n]))))
		}
		s.Mod(s, mod) // [0, 2^64)
		scores[m] = int64(s.Uint64())
		if scores[m] > scores[best] {
			best = m
		}
	}
	return best, scores
}

// pageAligned returns n bytes of anonymous mapped memory, as a ring's memory is.
func pageAligned(t testing.TB, n int) []byte {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Munmap(mem) })
	return mem
}

type readoutCase struct {
	name    string
	layer   Layer
	windows [][]int32 // counts of each window
	// layout: input and output strides (0: packed)
	inStride, outStride int
}

func randomLayer(rng *rand.Rand, m, n int, wmax int32) Layer {
	l := Layer{M: m, N: n, W: make([]int32, m*n), Bias: make([]int64, m)}
	for i := range l.W {
		l.W[i] = rng.Int32N(2*wmax+1) - wmax
	}
	for i := range l.Bias {
		l.Bias[i] = rng.Int64N(1<<20) - 1<<19
	}
	return l
}

func randomCounts(rng *rand.Rand, k, n int, cmax int32) [][]int32 {
	out := make([][]int32, k)
	for i := range out {
		out[i] = make([]int32, n)
		for j := range out[i] {
			out[i][j] = rng.Int32N(cmax + 1)
		}
	}
	return out
}

func readoutCases() []readoutCase {
	rng := rand.New(rand.NewPCG(1, 2))
	// Extremes: every product is ±2^62 and the sums wrap modulo 2^64 several times.
	ext := Layer{M: 3, N: 5, W: make([]int32, 15), Bias: []int64{math.MaxInt64, math.MinInt64, -1}}
	for i := range ext.W {
		ext.W[i] = math.MaxInt32
		if i%2 == 1 {
			ext.W[i] = math.MinInt32
		}
	}
	extCounts := [][]int32{{math.MaxInt32, math.MinInt32, math.MaxInt32, -1, math.MinInt32}, {0, 0, 0, 0, 0}}
	ties := Layer{M: 6, N: 2, W: []int32{1, 1, 2, 0, 0, 2, 2, 0, 1, 1, 0, 2}}
	negative := Layer{M: 4, N: 1, W: []int32{-5, -3, -3, -9}, Bias: []int64{0, 0, 0, 0}}
	wide := randomLayer(rng, 300, 17, 100) // more scores than threads in a block
	allMin := Layer{M: 2, N: 1, W: []int32{0, 0}, Bias: []int64{math.MinInt64, math.MinInt64}}
	return []readoutCase{
		{name: "small random", layer: randomLayer(rng, 10, 32, 255), windows: randomCounts(rng, 5, 32, 20)},
		{name: "one by one", layer: Layer{M: 1, N: 1, W: []int32{-7}}, windows: [][]int32{{3}, {0}, {-2}}},
		{name: "wrapping extremes", layer: ext, windows: extCounts},
		{name: "ties pick the first", layer: ties, windows: [][]int32{{1, 1}, {0, 0}, {3, 3}}},
		{name: "all negative", layer: negative, windows: [][]int32{{1}, {7}}},
		{name: "all INT64_MIN", layer: allMin, windows: [][]int32{{5}}},
		{name: "more scores than threads", layer: wide, windows: randomCounts(rng, 3, 17, 50)},
		{name: "long input", layer: randomLayer(rng, 7, MaxN, 255), windows: randomCounts(rng, 2, MaxN, 3)},
		{name: "strided", layer: randomLayer(rng, 5, 9, 255), windows: randomCounts(rng, 4, 9, 9), inStride: 256, outStride: 128},
	}
}

// runReadout lays the windows out in registered memory, launches one batch, and returns
// every window's output bytes.
func runReadout(t *testing.T, d Device, c readoutCase) [][]byte {
	t.Helper()
	l := c.layer
	inStride, outStride := c.inStride, c.outStride
	if inStride == 0 {
		inStride = (4*l.N + 7) &^ 7
	}
	if outStride == 0 {
		outStride = OutputSize(l.M)
	}
	k := len(c.windows)
	outBase := (k*inStride + 4095) &^ 4095
	mem := pageAligned(t, (outBase+k*outStride+4095)&^4095)
	for w, counts := range c.windows {
		for n, v := range counts {
			binary.LittleEndian.PutUint32(mem[w*inStride+4*n:], uint32(v))
		}
	}
	for i := outBase; i < len(mem); i++ {
		mem[i] = 0xa5 // the kernel must write every output byte
	}
	reg, err := d.RegisterHost(mem)
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Close()) }()
	s, err := d.NewStream()
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ro, err := d.LoadReadout(l)
	require.NoError(t, err)
	defer func() { require.NoError(t, ro.Close()) }()
	m, n := ro.Shape()
	require.Equal(t, [2]int{l.M, l.N}, [2]int{m, n})
	start, end := newEvent(t, d), newEvent(t, d)
	defer func() { require.NoError(t, start.Close()); require.NoError(t, end.Close()) }()
	require.NoError(t, start.Record(s))
	require.NoError(t, ro.Launch(s, reg, Batch{In: 0, InStride: inStride, Out: outBase, OutStride: outStride, Windows: k}))
	require.NoError(t, end.Record(s))
	require.NoError(t, end.Synchronize())
	require.NoError(t, s.Synchronize())
	el, err := end.Since(start)
	require.NoError(t, err)
	require.GreaterOrEqual(t, el, time.Duration(0))
	outs := make([][]byte, k)
	for w := range outs {
		outs[w] = append([]byte(nil), mem[outBase+w*outStride:][:OutputSize(l.M)]...)
	}
	return outs
}

func newEvent(t *testing.T, d Device) Event {
	e, err := d.NewEvent()
	require.NoError(t, err)
	return e
}

// checkBackend runs every case on d and compares with the direct computation.
func checkBackend(t *testing.T, d Device) {
	for _, c := range readoutCases() {
		t.Run(c.name, func(t *testing.T) {
			outs := runReadout(t, d, c)
			for w, counts := range c.windows {
				wantArg, wantScores := direct(c.layer, counts)
				arg, scores := Output(outs[w], c.layer.M, nil)
				require.Equal(t, wantScores, scores, "window %d scores", w)
				require.Equal(t, wantArg, arg, "window %d argmax", w)
				require.Equal(t, []byte{0, 0, 0, 0}, outs[w][4:8], "window %d reserved word", w)
				// Layer.Apply, the host reference, agrees too.
				ref := make([]int64, c.layer.M)
				require.Equal(t, wantArg, c.layer.Apply(counts, ref))
				require.Equal(t, wantScores, ref)
			}
		})
	}
}

func TestCPUReadoutMatchesDirect(t *testing.T) {
	d, err := Open(CPU, Opts{})
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, CPU, d.Info().Backend)
	checkBackend(t, d)
}

func TestOpenBackends(t *testing.T) {
	_, err := Open("opencl", Opts{})
	require.ErrorIs(t, err, ErrBackend)

	_, err = Open(CUDA, Opts{Library: "libcuda-that-does-not-exist.so.1"})
	require.ErrorIs(t, err, ErrNoDriver)
	require.ErrorContains(t, err, "no CUDA driver")

	d, err := Open(Auto, Opts{Library: "libcuda-that-does-not-exist.so.1"})
	require.NoError(t, err)
	require.Equal(t, CPU, d.Info().Backend)
	require.NoError(t, d.Close())
}

func TestBatchChecks(t *testing.T) {
	d, err := Open(CPU, Opts{})
	require.NoError(t, err)
	defer d.Close()
	l := Layer{M: 2, N: 3, W: make([]int32, 6)}
	ro, err := d.LoadReadout(l)
	require.NoError(t, err)
	s, err := d.NewStream()
	require.NoError(t, err)
	reg, err := d.RegisterHost(make([]byte, 256))
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		b    Batch
		msg  string
	}{
		{"no windows", Batch{Windows: 0}, "0 windows"},
		{"misaligned input", Batch{In: 4, Out: 64, Windows: 1}, "input offset 4"},
		{"misaligned stride", Batch{InStride: 12, Out: 64, OutStride: 24, Windows: 2}, "input stride 12"},
		{"overlapping outputs", Batch{Out: 64, OutStride: 16, Windows: 2}, "less than the 24-byte output"},
		{"input beyond", Batch{In: 248, Out: 0, Windows: 1}, "counts end at byte 260"},
		{"output beyond", Batch{In: 0, Out: 240, Windows: 1}, "output ends at byte 264"},
		{"too many", Batch{Windows: MaxWindows + 1}, "at most"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ro.Launch(s, reg, c.b)
			require.ErrorIs(t, err, ErrBatch)
			require.ErrorContains(t, err, c.msg)
		})
	}
	// Objects of another device are refused.
	other, err := Open(CPU, Opts{})
	require.NoError(t, err)
	defer other.Close()
	foreign, err := other.NewStream()
	require.NoError(t, err)
	require.ErrorIs(t, ro.Launch(foreign, reg, Batch{Out: 64, Windows: 1}), ErrForeign)
}

func TestCPUCloseReleasesEverything(t *testing.T) {
	d, err := Open(CPU, Opts{})
	require.NoError(t, err)
	ro, err := d.LoadReadout(Layer{M: 1, N: 1, W: []int32{1}})
	require.NoError(t, err)
	s, err := d.NewStream()
	require.NoError(t, err)
	reg, err := d.RegisterHost(make([]byte, 64))
	require.NoError(t, err)
	e, err := d.NewEvent()
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "idempotent")
	require.ErrorIs(t, ro.Launch(s, reg, Batch{Out: 8, Windows: 1}), ErrClosed)
	require.ErrorIs(t, e.Record(s), ErrClosed)
	require.ErrorIs(t, s.Synchronize(), ErrClosed)
	_, err = d.NewStream()
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, ro.Close())
	require.NoError(t, reg.Close())
}

func TestLayerValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Layer
		msg  string
	}{
		{"ok", Layer{M: 2, N: 1, W: []int32{1, 2}}, ""},
		{"ok with bias", Layer{M: 2, N: 1, W: []int32{1, 2}, Bias: []int64{3, 4}}, ""},
		{"no scores", Layer{M: 0, N: 1}, "m = 0"},
		{"no inputs", Layer{M: 1, N: 0}, "n = 0"},
		{"too many inputs", Layer{M: 1, N: MaxN + 1}, "n = 8193"},
		{"weights short", Layer{M: 2, N: 2, W: []int32{1}}, "1 weights for 2×2"},
		{"bias short", Layer{M: 2, N: 1, W: []int32{1, 2}, Bias: []int64{1}}, "1 biases"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.l.Validate()
			if c.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrLayer)
			require.ErrorContains(t, err, c.msg)
		})
	}
}

func TestLayerFileRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, l := range []Layer{randomLayer(rng, 3, 4, 1000), {M: 1, N: 2, W: []int32{math.MinInt32, math.MaxInt32}}} {
		var b bytes.Buffer
		require.NoError(t, WriteLayer(&b, l))
		got, err := ReadLayer(&b)
		require.NoError(t, err)
		require.Equal(t, l, got)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"format":"lrchip-readout","version":1,"m":1,"n":2,"weights":[[1,2]]}`), 0o644))
	l, err := ReadLayerFile(path)
	require.NoError(t, err)
	require.Equal(t, Layer{M: 1, N: 2, W: []int32{1, 2}}, l)
	_, err = ReadLayerFile(path + ".missing")
	require.Error(t, err)
}

func TestReadLayerErrors(t *testing.T) {
	for _, c := range []struct{ name, in, msg string }{
		{"not json", `hello`, "invalid character"},
		{"wrong format", `{"format":"x","version":1}`, `format "x"`},
		{"future version", `{"format":"lrchip-readout","version":2}`, "version 2"},
		{"rows", `{"format":"lrchip-readout","version":1,"m":2,"n":1,"weights":[[1]]}`, "1 weight rows, m = 2"},
		{"row length", `{"format":"lrchip-readout","version":1,"m":2,"n":2,"weights":[[1,2],[3]]}`, "weight row 1 has 1 values, n = 2"},
		{"weight range", `{"format":"lrchip-readout","version":1,"m":1,"n":1,"weights":[[2147483648]]}`, "cannot unmarshal"},
		{"unknown field", `{"format":"lrchip-readout","version":1,"m":1,"n":1,"weights":[[1]],"extra":1}`, "unknown field"},
		{"bias length", `{"format":"lrchip-readout","version":1,"m":1,"n":1,"weights":[[1]],"bias":[1,2]}`, "2 biases"},
		{"trailing", `{"format":"lrchip-readout","version":1,"m":1,"n":1,"weights":[[1]]} {}`, "data after"},
		{"empty", ``, "EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadLayer(strings.NewReader(c.in))
			require.ErrorIs(t, err, ErrLayer)
			require.ErrorContains(t, err, c.msg)
		})
	}
}

func FuzzReadLayer(f *testing.F) {
	f.Add([]byte(`{"format":"lrchip-readout","version":1,"m":1,"n":2,"weights":[[1,2]],"bias":[3]}`))
	f.Add([]byte(`{"format":"lrchip-readout","version":1,"m":2,"n":1,"weights":[[1],[2]]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ReadLayer(bytes.NewReader(b))
		if err != nil {
			require.True(t, errors.Is(err, ErrLayer), "%v", err)
			return
		}
		require.NoError(t, l.Validate())
		var out bytes.Buffer
		require.NoError(t, WriteLayer(&out, l))
		back, err := ReadLayer(&out)
		require.NoError(t, err)
		require.Equal(t, l, back)
	})
}

// TestReadoutPTXAssembles runs NVIDIA's PTX assembler over the embedded kernel for the
// oldest and a recent target when ptxas is on PATH (or named by LRCHIP_PTXAS); CI has no
// CUDA toolkit and skips it.
func TestReadoutPTXAssembles(t *testing.T) {
	ptxas := os.Getenv("LRCHIP_PTXAS")
	if ptxas == "" {
		var err error
		if ptxas, err = exec.LookPath("ptxas"); err != nil {
			t.Skip("no ptxas on PATH (set LRCHIP_PTXAS to check the PTX without a GPU)")
		}
	}
	src := filepath.Join(t.TempDir(), "readout.ptx")
	require.NoError(t, os.WriteFile(src, []byte(ReadoutPTX()), 0o644))
	for _, arch := range []string{"sm_52", "sm_80", "sm_90"} {
		out, err := exec.Command(ptxas, "-arch="+arch, "-o", filepath.Join(t.TempDir(), arch+".cubin"), src).CombinedOutput()
		assert.NoError(t, err, "ptxas -arch=%s: %s", arch, out)
	}
}
