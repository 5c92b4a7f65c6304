package nir

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/syn"
)

// refConv is PyTorch's Conv2d written out directly: pad the input with zeros, then slide the
// dilated kernel with the stride, per group. x is [C][H][W], w [Cout][Cin/groups][KH][KW].
func refConv(x [][][]float64, w [][][][]float64, stride, padLo, padHi, dil [2]int, groups int) [][][]float64 {
	C, H, W := len(x), len(x[0]), len(x[0][0])
	cout, cig, KH, KW := len(w), len(w[0]), len(w[0][0]), len(w[0][0][0])
	Hp, Wp := H+padLo[0]+padHi[0], W+padLo[1]+padHi[1]
	xp := make([][][]float64, C)
	for c := range xp {
		xp[c] = make([][]float64, Hp)
		for i := range xp[c] {
			xp[c][i] = make([]float64, Wp)
		}
		for i := 0; i < H; i++ {
			copy(xp[c][i+padLo[0]][padLo[1]:], x[c][i])
		}
	}
	Ho := (Hp-dil[0]*(KH-1)-1)/stride[0] + 1
	Wo := (Wp-dil[1]*(KW-1)-1)/stride[1] + 1
	y := make([][][]float64, cout)
	for co := range y {
		g := co / (cout / groups)
		y[co] = make([][]float64, Ho)
		for oy := range y[co] {
			y[co][oy] = make([]float64, Wo)
			for ox := range y[co][oy] {
				s := 0.0
				for cl := 0; cl < cig; cl++ {
					for ky := 0; ky < KH; ky++ {
						for kx := 0; kx < KW; kx++ {
							s += w[co][cl][ky][kx] * xp[g*cig+cl][oy*stride[0]+ky*dil[0]][ox*stride[1]+kx*dil[1]]
						}
					}
				}
				y[co][oy][ox] = s
			}
		}
	}
	return y
}

// linearNode builds one linear node from JSON-like parameters.
func linearNode(t *testing.T, typ string, params obj) *fnode {
	t.Helper()
	params["type"] = typ
	tr, err := treeFromJSON(file("1.0.7", graph(obj{"n": params})))
	require.NoError(t, err)
	g, err := parseFile(tr)
	require.NoError(t, err)
	lim := Limits{}.withDefaults()
	f, err := flatten(g, &lim)
	require.NoError(t, err)
	return f.nodes[0]
}

func applyCSR(a *csr, x []float64) []float64 {
	y := make([]float64, len(a.rows))
	for r, row := range a.rows {
		for _, e := range row {
			y[r] += e.w * x[e.col]
		}
	}
	return y
}

func TestConvIsPyTorch(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	for _, c := range []struct {
		name              string
		cin, cout, groups int
		k, stride, dil    [2]int
		h, w              int
		padding           any // int, [2]int or "same"/"valid"
		padLo, padHi      [2]int
		conv1d            bool
	}{
		{"plain", 2, 3, 1, [2]int{3, 3}, [2]int{1, 1}, [2]int{1, 1}, 6, 5, 0, [2]int{0, 0}, [2]int{0, 0}, false},
		{"stride, padding, dilation, groups", 4, 6, 2, [2]int{3, 2}, [2]int{2, 1}, [2]int{1, 2}, 7, 6, []int{1, 0}, [2]int{1, 0}, [2]int{1, 0}, false},
		{"depthwise", 3, 3, 3, [2]int{2, 2}, [2]int{2, 2}, [2]int{1, 1}, 5, 5, 1, [2]int{1, 1}, [2]int{1, 1}, false},
		{"same with an even kernel: the odd padding goes right and below", 1, 2, 1, [2]int{4, 2}, [2]int{1, 1}, [2]int{1, 1}, 5, 4, "same", [2]int{1, 0}, [2]int{2, 1}, false},
		{"same with dilation", 2, 2, 1, [2]int{3, 3}, [2]int{1, 1}, [2]int{2, 2}, 6, 6, "same", [2]int{2, 2}, [2]int{2, 2}, false},
		{"valid", 1, 1, 1, [2]int{2, 3}, [2]int{1, 2}, [2]int{1, 1}, 4, 7, "valid", [2]int{0, 0}, [2]int{0, 0}, false},
		{"conv1d", 2, 4, 2, [2]int{1, 3}, [2]int{1, 2}, [2]int{1, 2}, 1, 9, 2, [2]int{0, 2}, [2]int{0, 2}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := make([][][][]float64, c.cout)
			for co := range w {
				w[co] = make([][][]float64, c.cin/c.groups)
				for cl := range w[co] {
					w[co][cl] = make([][]float64, c.k[0])
					for ky := range w[co][cl] {
						w[co][cl][ky] = make([]float64, c.k[1])
						for kx := range w[co][cl][ky] {
							w[co][cl][ky][kx] = math.Round(rng.NormFloat64()*100) / 100
						}
					}
				}
			}
			x := make([][][]float64, c.cin)
			var flat []float64
			for ci := range x {
				x[ci] = make([][]float64, c.h)
				for i := range x[ci] {
					x[ci][i] = make([]float64, c.w)
					for j := range x[ci][i] {
						x[ci][i][j] = float64(rng.IntN(5))
						flat = append(flat, x[ci][i][j])
					}
				}
			}
			params := obj{"groups": c.groups, "bias": fill(c.cout, 0)}
			var node *fnode
			in := []int{c.cin, c.h, c.w}
			if c.conv1d {
				w1 := make([][][]float64, c.cout)
				for co := range w {
					w1[co] = make([][]float64, len(w[co]))
					for cl := range w[co] {
						w1[co][cl] = w[co][cl][0]
					}
				}
				params["weight"], params["stride"], params["dilation"], params["padding"] = w1, c.stride[1], c.dil[1], c.padding
				node = linearNode(t, "Conv1d", params)
				in = []int{c.cin, c.w}
			} else {
				params["weight"], params["stride"], params["dilation"], params["padding"] = w, c.stride[:], c.dil[:], c.padding
				node = linearNode(t, "Conv2d", params)
			}
			o, err := node.linearOp(in, true)
			require.NoError(t, err)
			y := refConv(x, w, c.stride, c.padLo, c.padHi, c.dil, c.groups)
			var want []float64
			for _, ch := range y {
				for _, row := range ch {
					want = append(want, row...)
				}
			}
			outShape := []int{len(y), len(y[0]), len(y[0][0])}
			if c.conv1d {
				outShape = []int{len(y), len(y[0][0])}
			}
			require.Equal(t, outShape, o.out)
			got := applyCSR(o.a, flat)
			require.Len(t, got, len(want))
			for i := range want {
				require.InDelta(t, want[i], got[i], 1e-9, "output %d", i)
			}
		})
	}

	// By hand: a 3×3 image, the kernel [[1,0],[0,1]], padding 1, stride 2.
	node := linearNode(t, "Conv2d", obj{"weight": [][][][]float64{{{{1, 0}, {0, 1}}}}, "bias": []float64{0}, "stride": 2, "padding": 1, "dilation": 1, "groups": 1})
	o, err := node.linearOp([]int{1, 3, 3}, true)
	require.NoError(t, err)
	require.Equal(t, []float64{1, 3, 7, 14}, applyCSR(o.a, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}))
}

func TestPooling(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	o, err := linearNode(t, "SumPool2d", obj{"kernel_size": []int{2, 2}, "stride": []int{2, 2}, "padding": []int{0, 0}}).linearOp([]int{1, 4, 4}, true)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 2}, o.out)
	require.Equal(t, []float64{14, 22, 46, 54}, applyCSR(o.a, x))
	// PyTorch's AvgPool2d counts the padding: a corner window holds 4 values and divides by 9.
	o, err = linearNode(t, "AvgPool2d", obj{"kernel_size": []int{3, 3}, "stride": []int{1, 1}, "padding": []int{1, 1}}).linearOp([]int{1, 4, 4}, true)
	require.NoError(t, err)
	y := applyCSR(o.a, x)
	require.InDelta(t, (1+2+5+6)/9.0, y[0], 1e-12)
	require.InDelta(t, (1+2+3+5+6+7+9+10+11)/9.0, y[5], 1e-12)
	// Flatten keeps the order.
	o, err = linearNode(t, "Flatten", obj{"start_dim": 1, "end_dim": -1}).linearOp([]int{2, 3, 4}, true)
	require.NoError(t, err)
	require.Equal(t, []int{2, 12}, o.out)
	require.True(t, isIdentity(o.a))
}

func TestQuantization(t *testing.T) {
	q, err := quantize(&csr{rows: [][]entry{{{0, 0.5}, {1, 1}}}, ncols: 2}, []float64{1}, "n")
	require.NoError(t, err)
	require.Equal(t, syn.Excitatory, q.mode)
	require.Equal(t, 1, q.exp, "256 does not fit 8 bits: exponent 1")
	require.Equal(t, []entryI{{0, 64}, {1, 128}}, q.mant[0])

	q, err = quantize(&csr{rows: [][]entry{{{0, -0.3}}, {{0, -1}}}, ncols: 1}, []float64{1, 0.5}, "n")
	require.NoError(t, err)
	require.Equal(t, syn.Inhibitory, q.mode)
	require.Equal(t, 0, q.exp)
	require.Equal(t, [][]entryI{{{0, -76}}, {{0, -128}}}, q.mant, "trunc(−76.8) = −76; the gain halves row 1")

	// MIXED keeps 7 bits of magnitude: the lowest bit of the 9-bit range is lost, and a
	// weight below 2/2^8 vanishes.
	q, err = quantize(&csr{rows: [][]entry{{{0, 0.51}, {1, -0.3}, {2, 0.0039}, {3, 0.006}}}, ncols: 4}, []float64{1}, "n")
	require.NoError(t, err)
	require.Equal(t, syn.Mixed, q.mode)
	require.Equal(t, []entryI{{0, 130}, {1, -76}}, q.mant[0])
	require.Equal(t, 2, q.zeroed)
	require.InDelta(t, 0.006, q.errAbs, 1e-12, "the largest error is the vanished 0.006")

	for _, c := range []struct {
		b         float64
		mant, exp int32
		ok        bool
	}{{100, 100, 0, true}, {-4096, -4096, 0, true}, {5000, 2500, 1, true}, {-4097.5, -2048, 1, true}, {4095 * 128, 4095, 7, true}, {1e9, 0, 0, false}} {
		m, e, ok := biasMantExp(c.b)
		require.Equal(t, c.ok, ok, c.b)
		if ok {
			require.Equal(t, [2]int32{c.mant, c.exp}, [2]int32{m, e}, c.b)
		}
	}
	require.Equal(t, int32(163), quantDecay(1e-4/2.5e-3))
	require.Equal(t, int32(4095), quantDecay(1))
	require.Equal(t, int32(0), quantDecay(0))
}
