package nir

import (
	"fmt"
	"math"
	"sort"
)

// entry is one nonzero of a sparse row.
type entry struct {
	col int32
	w   float64
}

// csr is a sparse matrix by rows: rows[r] lists the nonzero (column, weight) pairs of row r,
// sorted by column.
type csr struct {
	rows  [][]entry
	ncols int
}

func (m *csr) nnz() int {
	n := 0
	for _, r := range m.rows {
		n += len(r)
	}
	return n
}

func identity(n int) *csr {
	m := &csr{rows: make([][]entry, n), ncols: n}
	for i := range m.rows {
		m.rows[i] = []entry{{int32(i), 1}}
	}
	return m
}

// op is a linear node as a matrix from its input (flattened, C order) to its output, plus a
// bias added to the output.
type op struct {
	a    *csr
	bias []float64 // nil: none
	out  []int
}

// shapeOf computes a linear node's output shape from its input shape, checking its
// parameters; with build it also builds the matrix. work counts the matrix's entries.
func (n *fnode) linearOp(in []int, build bool) (*op, error) {
	nin := size(in)
	switch n.typ() {
	case "Input", "Output", "Identity": // nested ports
		o := &op{out: in}
		if build {
			o.a = identity(nin)
		}
		return o, nil
	case "Flatten":
		start, err := n.ints("start_dim", 1, []int{1}, -MaxDims)
		if err != nil {
			return nil, err
		}
		end, err := n.ints("end_dim", 1, []int{-1}, -MaxDims)
		if err != nil {
			return nil, err
		}
		s, e := start[0], end[0]
		if s < 0 {
			s += len(in)
		}
		if e < 0 {
			e += len(in)
		}
		if s < 0 || e >= len(in) || s > e {
			return nil, nodeErr(n.name, ErrGraph, "flattens dimensions %d..%d of a %d-dimensional input %v", start[0], end[0], len(in), in)
		}
		out := append(append(append([]int{}, in[:s]...), size(in[s:e+1])), in[e+1:]...)
		o := &op{out: out}
		if build {
			o.a = identity(nin)
		}
		return o, nil
	case "Scale":
		sc, err := n.param("scale")
		if err != nil {
			return nil, err
		}
		if sc.Size() != nin {
			return nil, nodeErr(n.name, ErrGraph, "scale has %d values for an input of %d", sc.Size(), nin)
		}
		o := &op{out: in}
		if build {
			o.a = &csr{rows: make([][]entry, nin), ncols: nin}
			for i, v := range sc.Data {
				if v != 0 {
					o.a.rows[i] = []entry{{int32(i), v}}
				}
			}
		}
		return o, nil
	case "Affine", "Linear":
		w, err := n.param("weight")
		if err != nil {
			return nil, err
		}
		if len(w.Shape) != 2 {
			return nil, nodeErr(n.name, ErrUnsupported, "weight of shape %v: only 2-D weights [out, in] are supported", w.Shape)
		}
		rows, cols := w.Shape[0], w.Shape[1]
		if cols != nin {
			return nil, nodeErr(n.name, ErrGraph, "weight %v takes %d inputs, the node gets %d", w.Shape, cols, nin)
		}
		o := &op{out: []int{rows}}
		if n.typ() == "Affine" {
			b, err := n.param("bias")
			if err != nil {
				return nil, err
			}
			if b.Size() != rows {
				return nil, nodeErr(n.name, ErrGraph, "bias has %d values for %d outputs", b.Size(), rows)
			}
			o.bias = b.Data
		}
		if build {
			o.a = &csr{rows: make([][]entry, rows), ncols: cols}
			nnz := 0
			for r := 0; r < rows; r++ {
				for c, v := range w.Data[r*cols : (r+1)*cols] {
					if v != 0 {
						if nnz++; nnz > n.lim.Synapses {
							return nil, nodeErr(n.name, ErrLimit, "more than %d nonzero weights", n.lim.Synapses)
						}
						o.a.rows[r] = append(o.a.rows[r], entry{int32(c), v})
					}
				}
			}
		}
		return o, nil
	case "Conv1d", "Conv2d":
		return n.conv(in, build)
	case "SumPool2d", "AvgPool2d":
		return n.pool(in, build)
	}
	return nil, nodeErr(n.name, ErrUnsupported, "type %q is not a linear node", n.typ())
}

// conv expands Conv1d/Conv2d with PyTorch's semantics: cross-correlation, stride, zero
// padding (a number per side, "valid", or "same" with the odd extra on the right/bottom),
// dilation and groups; input [C_in, (H,) W], weight [C_out, C_in/groups, (KH,) KW].
func (n *fnode) conv(in []int, build bool) (*op, error) {
	nd := 2
	if n.typ() == "Conv1d" {
		nd = 1
	}
	w, err := n.param("weight")
	if err != nil {
		return nil, err
	}
	if len(w.Shape) != nd+2 {
		return nil, nodeErr(n.name, ErrGraph, "weight of shape %v, want %d dimensions", w.Shape, nd+2)
	}
	groups, err := n.ints("groups", 1, []int{1}, 1)
	if err != nil {
		return nil, err
	}
	g := groups[0]
	cout, cing := w.Shape[0], w.Shape[1]
	if cout < 1 || cing < 1 || cout%g != 0 {
		return nil, nodeErr(n.name, ErrGraph, "weight %v with %d groups: output channels must be a multiple of groups", w.Shape, g)
	}
	cin := cing * g
	k := w.Shape[2:]
	// The input: [C_in, spatial...], from input_shape (spatial) when the file has it.
	spatial := in
	if len(in) == nd+1 {
		spatial = in[1:]
	}
	if is, ok, err := n.shapeParam("input_shape"); err != nil {
		return nil, err
	} else if ok {
		spatial = is
		if len(is) == nd+1 { // a full [C, ...] shape
			spatial = is[1:]
		}
	}
	if len(spatial) != nd || cin*size(spatial) != size(in) {
		return nil, nodeErr(n.name, ErrGraph, "input of shape %v does not fit %d input channels of %d dimensions (give input_shape)", in, cin, nd)
	}
	stride, err := n.ints("stride", nd, repeatInt(1, nd), 1)
	if err != nil {
		return nil, err
	}
	dil, err := n.ints("dilation", nd, repeatInt(1, nd), 1)
	if err != nil {
		return nil, err
	}
	padLo, padHi := repeatInt(0, nd), repeatInt(0, nd)
	if p, ok := n.node.Params["padding"]; ok && p.IsStr {
		switch p.Str {
		case "valid":
		case "same":
			for d := 0; d < nd; d++ {
				if stride[d] != 1 {
					return nil, nodeErr(n.name, ErrGraph, "padding \"same\" with stride %v (PyTorch allows it with stride 1 only)", stride)
				}
				total := dil[d] * (k[d] - 1)
				padLo[d], padHi[d] = total/2, total-total/2
			}
		default:
			return nil, nodeErr(n.name, ErrGraph, "padding %q: want a number, \"same\" or \"valid\"", p.Str)
		}
	} else {
		pad, err := n.ints("padding", nd, repeatInt(0, nd), 0)
		if err != nil {
			return nil, err
		}
		padLo, padHi = pad, pad
	}
	outSp := make([]int, nd)
	for d := 0; d < nd; d++ {
		span := dil[d]*(k[d]-1) + 1
		o := (spatial[d]+padLo[d]+padHi[d]-span)/stride[d] + 1
		if spatial[d]+padLo[d]+padHi[d] < span || o < 1 {
			return nil, nodeErr(n.name, ErrGraph, "kernel %v (dilation %v) does not fit input %v with padding %v", k, dil, spatial, padLo)
		}
		outSp[d] = o
	}
	out := append([]int{cout}, outSp...)
	nout, ok := shapeSize(out, n.lim.NodeSize)
	if !ok {
		return nil, nodeErr(n.name, ErrLimit, "output %v has more than %d elements", out, n.lim.NodeSize)
	}
	o := &op{out: out}
	if b, err := n.optParam("bias"); err != nil {
		return nil, err
	} else if b != nil {
		if b.Size() != cout {
			return nil, nodeErr(n.name, ErrGraph, "bias has %d values for %d output channels", b.Size(), cout)
		}
		o.bias = make([]float64, nout)
		per := nout / cout
		for c := 0; c < cout; c++ {
			for i := 0; i < per; i++ {
				o.bias[c*per+i] = b.Data[c]
			}
		}
	}
	if !build {
		return o, nil
	}
	kn := size(k)
	if nout > n.lim.Synapses/max(1, cing*kn) {
		return nil, nodeErr(n.name, ErrLimit, "expanding it takes more than %d synapses", n.lim.Synapses)
	}
	if nd == 1 { // treat as 2-D with height 1
		spatial, outSp, k = []int{1, spatial[0]}, []int{1, outSp[0]}, []int{1, k[0]}
		stride, dil, padLo = []int{1, stride[0]}, []int{1, dil[0]}, []int{0, padLo[0]}
	}
	H, W, Ho, Wo, KH, KW := spatial[0], spatial[1], outSp[0], outSp[1], k[0], k[1]
	perG := cout / g
	o.a = &csr{rows: make([][]entry, nout), ncols: size(in)}
	for co := 0; co < cout; co++ {
		grp := co / perG
		for oy := 0; oy < Ho; oy++ {
			for ox := 0; ox < Wo; ox++ {
				var row []entry
				for cl := 0; cl < cing; cl++ {
					ci := grp*cing + cl
					for ky := 0; ky < KH; ky++ {
						iy := oy*stride[0] - padLo[0] + ky*dil[0]
						if iy < 0 || iy >= H {
							continue
						}
						for kx := 0; kx < KW; kx++ {
							ix := ox*stride[1] - padLo[1] + kx*dil[1]
							if ix < 0 || ix >= W {
								continue
							}
							v := w.Data[((co*cing+cl)*KH+ky)*KW+kx]
							if v != 0 {
								row = append(row, entry{int32((ci*H+iy)*W + ix), v})
							}
						}
					}
				}
				o.a.rows[(co*Ho+oy)*Wo+ox] = row // columns ascend: ci, then iy, then ix
			}
		}
	}
	return o, nil
}

// pool expands SumPool2d and AvgPool2d (PyTorch's AvgPool2d with count_include_pad: every
// window divides by kernel height × width) over an input [C, H, W].
func (n *fnode) pool(in []int, build bool) (*op, error) {
	if len(in) != 3 {
		return nil, nodeErr(n.name, ErrGraph, "input of shape %v, want [channels, height, width]", in)
	}
	k, err := n.ints("kernel_size", 2, nil, 1)
	if err != nil {
		return nil, err
	}
	stride, err := n.ints("stride", 2, k, 1)
	if err != nil {
		return nil, err
	}
	pad, err := n.ints("padding", 2, []int{0, 0}, 0)
	if err != nil {
		return nil, err
	}
	C, H, W := in[0], in[1], in[2]
	Ho, Wo := (H+2*pad[0]-k[0])/stride[0]+1, (W+2*pad[1]-k[1])/stride[1]+1
	if H+2*pad[0] < k[0] || W+2*pad[1] < k[1] || 2*pad[0] > k[0] || 2*pad[1] > k[1] {
		return nil, nodeErr(n.name, ErrGraph, "kernel %v with padding %v does not fit input %v", k, pad, in)
	}
	out := []int{C, Ho, Wo}
	nout, ok := shapeSize(out, n.lim.NodeSize)
	if !ok {
		return nil, nodeErr(n.name, ErrLimit, "output %v has more than %d elements", out, n.lim.NodeSize)
	}
	o := &op{out: out}
	if !build {
		return o, nil
	}
	if nout > n.lim.Synapses/max(1, k[0]*k[1]) {
		return nil, nodeErr(n.name, ErrLimit, "expanding it takes more than %d synapses", n.lim.Synapses)
	}
	w := 1.0
	if n.typ() == "AvgPool2d" {
		w = 1 / float64(k[0]*k[1])
	}
	o.a = &csr{rows: make([][]entry, nout), ncols: size(in)}
	for c := 0; c < C; c++ {
		for oy := 0; oy < Ho; oy++ {
			for ox := 0; ox < Wo; ox++ {
				var row []entry
				for ky := 0; ky < k[0]; ky++ {
					iy := oy*stride[0] - pad[0] + ky
					if iy < 0 || iy >= H {
						continue
					}
					for kx := 0; kx < k[1]; kx++ {
						ix := ox*stride[1] - pad[1] + kx
						if ix >= 0 && ix < W {
							row = append(row, entry{int32((c*H+iy)*W + ix), w})
						}
					}
				}
				o.a.rows[(c*Ho+oy)*Wo+ox] = row
			}
		}
	}
	return o, nil
}

func repeatInt(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// ---- signals: linear functions of the spike sources ----

// signal is a node's output as a linear function of spike sources: Σ_s terms[s]·spikes(s) +
// bias, with terms[s] a matrix [len][size of s].
type signal struct {
	len   int
	terms map[int]*csr
	bias  []float64 // nil: zeros
}

func sourceSignal(id, n int) *signal {
	return &signal{len: n, terms: map[int]*csr{id: identity(n)}}
}

// workBudget bounds the multiply-adds spent composing matrices.
type workBudget struct{ left int }

// apply returns o applied to x: the matrix times every term, plus the bias.
func (o *op) apply(x *signal, node string, wb *workBudget) (*signal, error) {
	y := &signal{len: len(o.a.rows), terms: map[int]*csr{}}
	for _, s := range sortedKeys(x.terms) {
		m, err := mul(o.a, x.terms[s], node, wb)
		if err != nil {
			return nil, err
		}
		if m.nnz() > 0 {
			y.terms[s] = m
		}
	}
	if x.bias != nil {
		y.bias = make([]float64, y.len)
		for r, row := range o.a.rows {
			for _, e := range row {
				y.bias[r] += e.w * x.bias[e.col]
			}
		}
	}
	if o.bias != nil {
		if y.bias == nil {
			y.bias = make([]float64, y.len)
		}
		for r, b := range o.bias {
			y.bias[r] += b
		}
	}
	return y, nil
}

// mul returns a·m.
func mul(a, m *csr, node string, wb *workBudget) (*csr, error) {
	out := &csr{rows: make([][]entry, len(a.rows)), ncols: m.ncols}
	acc := make([]float64, m.ncols)
	seen := make([]bool, m.ncols)
	var touched []int32
	for r, row := range a.rows {
		for _, e := range row {
			mr := m.rows[e.col]
			wb.left -= len(mr) + 1
			if wb.left < 0 {
				return nil, nodeErr(node, ErrLimit, "composing the linear nodes before it takes more than the limit of multiply-adds")
			}
			for _, f := range mr {
				if !seen[f.col] {
					seen[f.col] = true
					touched = append(touched, f.col)
				}
				acc[f.col] += e.w * f.w
			}
		}
		sort.Slice(touched, func(i, j int) bool { return touched[i] < touched[j] })
		for _, c := range touched {
			if acc[c] != 0 {
				out.rows[r] = append(out.rows[r], entry{c, acc[c]})
			}
			acc[c], seen[c] = 0, false
		}
		touched = touched[:0]
	}
	return out, nil
}

// add returns the sum of signals of one length.
func addSignals(xs []*signal, n int, wb *workBudget) (*signal, error) {
	y := &signal{len: n, terms: map[int]*csr{}}
	for _, x := range xs {
		if x.len != n {
			return nil, fmt.Errorf("nir: %w: signals of %d and %d values added", ErrGraph, x.len, n)
		}
		for s, m := range x.terms {
			wb.left -= m.nnz()
			if wb.left < 0 {
				return nil, fmt.Errorf("nir: %w: summing inputs takes more than the limit of operations", ErrLimit)
			}
			if old, ok := y.terms[s]; ok {
				y.terms[s] = addCSR(old, m)
			} else {
				y.terms[s] = m
			}
		}
		if x.bias != nil {
			if y.bias == nil {
				y.bias = make([]float64, n)
			}
			for i, b := range x.bias {
				y.bias[i] += b
			}
		}
	}
	return y, nil
}

func addCSR(a, b *csr) *csr {
	out := &csr{rows: make([][]entry, len(a.rows)), ncols: a.ncols}
	for r := range a.rows {
		x, y := a.rows[r], b.rows[r]
		row := make([]entry, 0, len(x)+len(y))
		i, j := 0, 0
		for i < len(x) || j < len(y) {
			switch {
			case j >= len(y) || (i < len(x) && x[i].col < y[j].col):
				row = append(row, x[i])
				i++
			case i >= len(x) || y[j].col < x[i].col:
				row = append(row, y[j])
				j++
			default:
				if s := x[i].w + y[j].w; s != 0 {
					row = append(row, entry{x[i].col, s})
				}
				i++
				j++
			}
		}
		out.rows[r] = row
	}
	return out
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// finite reports whether every value is a finite number.
func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
