package emu

import (
	"slices"
	"unsafe"

	"github.com/lrchip/lrchip/emu/internal/kernels"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/syn"
)

// Synapse layouts. Delivering spikes is limited by how much synapse memory it touches, so a
// connection keeps the most compact layout its weights allow; all give the same sums, and the
// layout is invisible outside the emulator.
const (
	layoutDense  = iota // an effective weight per (source, target), [src][dst]
	layoutPacked        // sparse: per source row, (16-bit target, 16-bit weight) pairs
	layoutShared        // sparse, one weight for the whole connection: 16-bit targets only
)

// conn is a loaded connection.
type conn struct {
	Connection // settings; its Weights, Index and Targets are dropped after load
	exp        int
	src        *[]int32 // fired list of the source
	pay        []int32  // payload array of the source

	layout int
	dense  []int32
	shared int32 // layoutShared: the effective weight
	// Sparse rows: until the chip lays out its synapse memory (Chip.layoutSynapses), row i
	// of the connection is index[i]:index[i+1] of units (targets, or target/weight pairs as
	// two units each). After layout both are nil and the rows live in grp.
	index []int32
	units []uint16
	grp   *srcGroup
	slot  int

	dst  *core
	bank []int32 // the accumulator bank of a negative weight exponent, else nil
}

// target returns where x's sums go and the left shift per synapse: x's own bank when its
// exponent is negative (the sum is shifted as a whole afterwards, see flush), else the
// destination's dendritic input, each synapse shifted left by the exponent.
func (x *conn) target() ([]int32, uint) {
	if x.bank != nil {
		return x.bank, 0
	}
	return x.dst.a[x.DstStart : x.DstStart+x.DstCount], uint(x.exp)
}

// flush adds x's bank to the dendritic input, shifted right by its negative exponent as a
// whole, rounding toward −∞ as Lava's Dense does: the floor of a sum is not the sum of floors.
func (x *conn) flush() {
	e := int32(x.exp)
	a := x.dst.a[x.DstStart : x.DstStart+x.DstCount]
	for j, v := range x.bank {
		a[j] += isa.Ash(v, e)
	}
}

// srcGroup holds the sparse synapses of every connection from one source (a core or an input
// port), interleaved by source neuron: the rows a spike reads, one per connection it feeds,
// sit next to each other, and so do their table entries. A spike then touches a line of table
// and one contiguous run of synapses, instead of a pair of scattered lines per connection.
type srcGroup struct {
	simd  bool      // gather with the vector kernel where there is one
	src   *[]int32  // fired list of the source
	cols  [][]*conn // the connections of each slot (column), by ascending source range
	slots int
	rows  []synRow // [source neuron × slot]
	data  []uint16 // the rows; rows of pairs start at even offsets
	wide  []int    // per slot, the units of its longest row
}

type synRow struct{ off, n int32 } // offset in data, number of synapses

// store converts the weights to their effective values and picks the layout.
func (x *conn) store(cn Connection) {
	eff := make([]int32, len(cn.Weights))
	for i, w := range cn.Weights {
		eff[i] = syn.Effective(w, cn.SignMode, cn.WeightBits)
	}
	x.Weights, x.Index, x.Targets = nil, nil, nil
	if cn.Index == nil {
		x.layout, x.dense = layoutDense, eff
		return
	}
	uniform := len(eff) > 0
	for _, w := range eff {
		if w != eff[0] {
			uniform = false
			break
		}
	}
	x.index = append([]int32(nil), cn.Index...)
	if uniform {
		x.layout, x.shared = layoutShared, eff[0]
		x.units = make([]uint16, len(cn.Targets))
		for i, t := range cn.Targets {
			x.units[i] = uint16(t)
		}
		return
	}
	x.layout = layoutPacked
	x.units = make([]uint16, 2*len(cn.Targets))
	for i, t := range cn.Targets {
		x.units[2*i], x.units[2*i+1] = uint16(t), uint16(eff[i])
	}
}

// width is the number of 16-bit units per synapse of a sparse layout.
func (x *conn) width() int32 {
	if x.layout == layoutPacked {
		return 2
	}
	return 1
}

// row returns sparse row rel (relative to SrcStart) as 16-bit units, and its synapse count.
func (x *conn) row(rel int32) ([]uint16, int32) {
	if x.grp != nil {
		r := x.grp.rows[int(x.SrcStart+int(rel))*x.grp.slots+x.slot]
		return x.grp.data[r.off : r.off+r.n*x.width()], r.n
	}
	i0, i1 := x.index[rel], x.index[rel+1]
	return x.units[i0*x.width() : i1*x.width()], i1 - i0
}

// deliver adds source neuron rel's weighted spike (payload p), shifted left by shift, to acc,
// which spans the connection's targets, and returns the number of synapses reached. All
// arithmetic wraps mod 2^32, so (Σ w·p) << e = Σ (w·p << e). Targets were checked against
// len(acc) at load, so the sparse loops index without bounds checks.
func (x *conn) deliver(acc []int32, rel int32, p int32, shift uint) uint64 {
	if x.layout == layoutDense {
		n := len(acc)
		row := x.dense[int(rel)*n : int(rel+1)*n]
		if p == 1 && shift == 0 {
			for j, w := range row {
				acc[j] += w
			}
		} else {
			for j, w := range row {
				acc[j] += (w * p) << shift
			}
		}
		return uint64(n)
	}
	units, n := x.row(rel)
	base := unsafe.Pointer(unsafe.SliceData(acc))
	if x.layout == layoutShared {
		w := (x.shared * p) << shift
		ts := units
		// Unrolled by four: the loop is a chain of independent read-modify-writes.
		for len(ts) >= 4 {
			t := ts[:4:4]
			*(*int32)(unsafe.Add(base, uintptr(t[0])*4)) += w
			*(*int32)(unsafe.Add(base, uintptr(t[1])*4)) += w
			*(*int32)(unsafe.Add(base, uintptr(t[2])*4)) += w
			*(*int32)(unsafe.Add(base, uintptr(t[3])*4)) += w
			ts = ts[4:]
		}
		for _, t := range ts {
			*(*int32)(unsafe.Add(base, uintptr(t)*4)) += w
		}
		return uint64(n)
	}
	for i := 0; i+1 < len(units); i += 2 {
		a := (*int32)(unsafe.Add(base, uintptr(units[i])*4))
		*a += (int32(int16(units[i+1])) * p) << shift
	}
	return uint64(n)
}

// deliverAll delivers the spikes of the source neurons in fired (absolute indices, all within
// the connection's source range) to acc, shifted left by shift, and returns the number of
// synapses reached. flat is scratch space, kept by the caller from step to step. This runs
// once per connection and step with spikes: the hottest path of a step.
func (x *conn) deliverAll(acc []int32, fired []int32, shift uint, flat *[]uint16) uint64 {
	g := x.grp
	if g == nil || x.Graded {
		var events uint64
		lo := int32(x.SrcStart)
		for _, s := range fired {
			p := int32(1)
			if x.Graded {
				p = x.pay[s]
			}
			events += x.deliver(acc, s-lo, p, shift)
		}
		return events
	}
	// Binary spikes through laid-out rows: every synapse adds its weight alone, so the rows
	// can be gathered into one list and added in one loop. Rows are short and of varying
	// length; a loop per row mispredicts its exit at every row, the gather does not branch.
	buf, n := g.gather(*flat, fired, x.slot, x.width())
	*flat = buf
	base := unsafe.Pointer(unsafe.SliceData(acc))
	if x.layout == layoutShared {
		addShared(base, buf[:n], x.shared<<shift)
		return uint64(n)
	}
	addPacked(base, buf[:n], 1, shift)
	return uint64(n / 2)
}

// gather copies the rows at column slot of the neurons in fired, width units per synapse,
// one after another into buf, and returns buf (grown when it was short) and the units copied.
// A row of up to flatChunk units is copied as a fixed flatChunk units, whatever its length:
// layoutSynapses leaves flatChunk spare units at the end of data, and what lies past a row
// is overwritten by the next one or left beyond n.
func (g *srcGroup) gather(buf []uint16, fired []int32, slot int, width int32) ([]uint16, int) {
	rows, data := g.rows, g.data
	// Room for every row, and the chunk that may run past the last. The longest row bounds
	// it without reading the rows twice; only where that bound is large are they summed.
	need := len(fired)*g.wide[slot] + flatChunk
	if need > gatherSumAbove {
		need = flatChunk
		for _, s := range fired {
			need += int(rows[int(s)*g.slots+slot].n * width)
		}
	}
	if len(buf) < need {
		buf = make([]uint16, 2*need)
	}
	// synRow is two int32s: the table, from this slot on, as the kernel reads it.
	table := unsafe.Slice((*int32)(unsafe.Pointer(&rows[slot])), 2*(len(rows)-slot))
	if g.simd {
		if n, ok := kernels.GatherRows(buf, data, table, fired, g.slots, int(width)); ok {
			return buf, n
		}
	}
	n := 0
	for _, s := range fired {
		r := rows[int(s)*g.slots+slot]
		m := int(r.n * width)
		if m <= flatChunk {
			*(*[flatChunk]uint16)(buf[n:]) = *(*[flatChunk]uint16)(data[r.off:])
		} else {
			copy(buf[n:], data[r.off:int(r.off)+m])
		}
		n += m
	}
	return buf, n
}

// gatherSumAbove is the room, in units, beyond which gather sums the rows' lengths rather
// than reserve the longest row for every spike. A variable for the tests.
var gatherSumAbove = 1 << 16

// flatChunk is how many units gather copies per row without looking at its length.
const flatChunk = 32

// addShared adds w to base[t] for every target t. Unrolled by four: the loop is a chain of
// independent read-modify-writes.
func addShared(base unsafe.Pointer, ts []uint16, w int32) {
	for len(ts) >= 4 {
		t := ts[:4:4]
		*(*int32)(unsafe.Add(base, uintptr(t[0])*4)) += w
		*(*int32)(unsafe.Add(base, uintptr(t[1])*4)) += w
		*(*int32)(unsafe.Add(base, uintptr(t[2])*4)) += w
		*(*int32)(unsafe.Add(base, uintptr(t[3])*4)) += w
		ts = ts[4:]
	}
	for _, t := range ts {
		*(*int32)(unsafe.Add(base, uintptr(t)*4)) += w
	}
}

// addPacked adds each (target, weight) pair's (weight·p) << shift to base[target].
func addPacked(base unsafe.Pointer, units []uint16, p int32, shift uint) {
	for i := 0; i+1 < len(units); i += 2 {
		a := (*int32)(unsafe.Add(base, uintptr(units[i])*4))
		*a += (int32(int16(units[i+1])) * p) << shift
	}
}

// layoutSynapses rebuilds the interleaved synapse memory of every source: for each source
// neuron, the rows of all the sparse connections it feeds, one after the other. It runs before
// the first step after connections change.
func (c *Chip) layoutSynapses() {
	c.groups = c.groups[:0]
	type key struct {
		kind SourceKind
		src  int
	}
	groups := map[key][]*conn{}
	var order []key
	srcN := map[key]int{}
	for _, k := range c.cores {
		if k == nil {
			continue
		}
		for _, x := range k.in {
			if x.layout == layoutDense {
				continue
			}
			kk := key{x.Kind, x.Src}
			if _, ok := groups[kk]; !ok {
				order = append(order, kk)
			}
			groups[kk] = append(groups[kk], x)
			srcN[kk] = max(srcN[kk], x.SrcStart+x.SrcCount)
		}
	}
	for _, kk := range order {
		conns := groups[kk]
		n := srcN[kk]
		// Connections whose source ranges do not overlap share a slot (a column of the row
		// table), as the excitatory and inhibitory halves of a population do: the table is as
		// narrow as the most connections any one source neuron feeds.
		var cols [][]*conn
		slot := make([]int, len(conns))
		for j, x := range conns {
			slot[j] = len(cols)
			for c, col := range cols {
				if !overlaps(col, x) {
					slot[j] = c
					break
				}
			}
			if slot[j] == len(cols) {
				cols = append(cols, nil)
			}
			cols[slot[j]] = append(cols[slot[j]], x)
		}
		for _, col := range cols {
			slices.SortFunc(col, func(a, b *conn) int { return a.SrcStart - b.SrcStart })
		}
		g := &srcGroup{simd: c.simd, src: conns[0].src, cols: cols, slots: len(cols), rows: make([]synRow, n*len(cols)),
			wide: make([]int, len(cols))}
		total := 0
		for _, x := range conns {
			_, cnt := x.counts()
			total += int(cnt*x.width()) + x.SrcCount // room for padding to even offsets
		}
		g.data = make([]uint16, 0, total+flatChunk)
		c.groups = append(c.groups, g)
		for i := 0; i < n; i++ {
			for s, col := range cols {
				for _, x := range col {
					if i < x.SrcStart || i >= x.SrcStart+x.SrcCount {
						continue
					}
					units, cnt := x.row(int32(i - x.SrcStart))
					if x.width() == 2 && len(g.data)%2 == 1 {
						g.data = append(g.data, 0)
					}
					g.rows[i*g.slots+s] = synRow{off: int32(len(g.data)), n: cnt}
					g.wide[s] = max(g.wide[s], int(cnt*x.width()))
					g.data = append(g.data, units...)
				}
			}
		}
		g.data = append(g.data, make([]uint16, flatChunk)...) // see gather
		for j, x := range conns {
			x.grp, x.slot, x.index, x.units = g, slot[j], nil, nil
		}
	}
}

// overlaps reports whether x's source range meets that of any connection in col.
func overlaps(col []*conn, x *conn) bool {
	for _, y := range col {
		if x.SrcStart < y.SrcStart+y.SrcCount && y.SrcStart < x.SrcStart+x.SrcCount {
			return true
		}
	}
	return false
}

// counts returns the number of source rows and synapses of a sparse connection.
func (x *conn) counts() (rows int, synapses int32) {
	if x.grp == nil {
		return x.SrcCount, x.index[x.SrcCount]
	}
	for i := 0; i < x.SrcCount; i++ {
		synapses += x.grp.rows[(x.SrcStart+i)*x.grp.slots+x.slot].n
	}
	return x.SrcCount, synapses
}
