package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/internal/progtest"
)

// TestKernelsMatchALU checks every vector kernel against the reference ALU, lane by lane, on
// values biased toward the edges of the widths the chip uses.
func TestKernelsMatchALU(t *testing.T) {
	if !Available {
		t.Skip("no AVX2 on this machine: the portable interpreter runs instead (tested in emu)")
	}
	for _, k := range Sets() {
		t.Run(k.Name, func(t *testing.T) { testKernelsMatchALU(t, k) })
	}
}

func testKernelsMatchALU(t *testing.T, k *Set) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m = 64
	vals := func() []int32 {
		v := make([]int32, m)
		for i := range v {
			v[i] = progtest.Value(rng)
		}
		return v
	}
	for _, o := range isa.Ops {
		for iter := 0; iter < 200; iter++ {
			a, b, c, d := vals(), vals(), vals(), make([]int32, m)
			if o.Op == isa.OpMulZ && iter%2 == 0 {
				b = make([]int32, m) // decay factors: small positive
				for i := range b {
					b[i] = int32(rng.IntN(4097))
				}
			}
			n := o.NMin + int32(rng.IntN(int(o.NMax-o.NMin+1)))
			if !k.Exec(o.Op, d, a, b, c, n) {
				continue
			}
			for i := range d {
				want := isa.ALU(o.Op, a[i], b[i], c[i], n)
				require.Equal(t, want, d[i], "%s(%d, %d, %d, n=%d) lane %d", o.Name, a[i], b[i], c[i], n, i)
			}
			// The direct entry points the interpreter calls give the same bits as Exec.
			direct := make([]int32, m)
			if f := k.Binary(o.Op); f != nil {
				f(&direct[0], &a[0], &b[0], m)
				require.Equal(t, d, direct, "%s through Binary", o.Name)
			} else if f := k.Other(o.Op, n); f != nil {
				f(&direct[0], &a[0], &b[0], &c[0], m)
				require.Equal(t, d, direct, "%s through Other", o.Name)
			}
		}
	}
}

func TestSpike(t *testing.T) {
	if !Available {
		t.Skip("no AVX2 on this machine")
	}
	for _, k := range Sets() {
		t.Run(k.Name, func(t *testing.T) {
			cond := []int32{0, 1, -5, 0, 7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2}
			val := []int32{9, 9, -9, 9, math.MaxInt32, 9, 9, math.MinInt32, 0, 0, 0, 0, 0, 0, 0, 4}
			mask, pay := []uint8{0, 0x40}, []int32{0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			k.Spike(mask, pay, cond, val)
			require.Equal(t, []uint8{0b10010110, 0b11000000}, mask, "bits are ORed in")
			require.Equal(t, []int32{0, 9, -9, 3, math.MaxInt32, 0, 0, math.MinInt32, 0, 0, 0, 0, 0, 0, 0, 4}, pay, "graded payloads are not saturated")
			k.Spike(mask, pay, []int32{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
			require.Equal(t, int32(1), pay[0])
			require.Equal(t, uint8(0b10010111), mask[0])
		})
	}
}

func TestExecRejectsShortOperands(t *testing.T) {
	if !Available {
		t.Skip("no AVX2 on this machine")
	}
	k := Best()
	require.Panics(t, func() { k.Exec(isa.OpAdd, make([]int32, 32), make([]int32, 16), make([]int32, 32), nil, 0) })
	require.Panics(t, func() { k.Exec(isa.OpAdd, make([]int32, 12), make([]int32, 12), make([]int32, 12), nil, 0) })
}

func BenchmarkMulZ(b *testing.B) {
	x, y, d := make([]int32, 512), make([]int32, 512), make([]int32, 512)
	for i := range x {
		x[i], y[i] = int32(i*7919), 4000
	}
	for _, k := range Sets() {
		b.Run(k.Name, func(b *testing.B) {
			b.SetBytes(512 * 4)
			for b.Loop() {
				k.Exec(isa.OpMulZ, d, x, y, nil, 12)
			}
		})
	}
}

// TestGatherRows checks the row gather against a plain copy, for rows shorter and longer than
// a chunk, empty ones, and both widths, with the spare room the caller promises.
func TestGatherRows(t *testing.T) {
	if !Available {
		t.Skip("no AVX2 on this machine: the emulator gathers rows in Go (tested in emu)")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for _, width := range []int{1, 2} {
		const neurons, stride = 50, 3
		var data []uint16
		rows := make([]int32, 2*neurons*stride)
		for i := 0; i < neurons*stride; i++ {
			n := rng.IntN(3) * rng.IntN(40) // a third empty, some over 32 units
			rows[2*i], rows[2*i+1] = int32(len(data)), int32(n)
			for range n * width {
				data = append(data, uint16(rng.Uint32()))
			}
		}
		data = append(data, make([]uint16, 32)...)
		for slot := 0; slot < stride; slot++ {
			var fired []int32
			for s := 0; s < neurons; s++ {
				if rng.IntN(3) == 0 {
					fired = append(fired, int32(s))
				}
			}
			var want []uint16
			for _, s := range fired {
				i := int(s)*stride + slot
				off, n := int(rows[2*i]), int(rows[2*i+1])*width
				want = append(want, data[off:off+n]...)
			}
			dst := make([]uint16, len(want)+32)
			n, ok := GatherRows(dst, data, rows[2*slot:], fired, stride, width)
			require.True(t, ok)
			require.Equal(t, len(want), n)
			require.Equal(t, want, dst[:n], "width %d slot %d", width, slot)
		}
	}
}
