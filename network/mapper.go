package network

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/syn"
)

// Map validates the network and places it on a chip of the given size (the zero Size means
// chip.Prototype), returning its image.
//
// Placement is simple and deterministic. Populations take cores in the order they are
// declared, starting at core 0, each on cores of its own, as few as hold it: a population of
// n neurons on a chip of m neurons per core takes ⌈n/m⌉ cores, and its neurons are spread
// evenly over them in order (the first cores get one more neuron when the split is uneven).
// When that needs more cores than the chip has, populations that fit in one core share
// cores: each goes, whole, to the first core that runs the same program with the same
// constants and has room for its neurons and its accumulator banks, else to a fresh core.
// Inputs become the image's input ports in order.
//
// Every connection becomes one image connection per pair of source block and destination
// core: a source population split over k cores feeds each destination core through k
// connections; an input port is one block. Dense weights stay dense, sparse stay sparse
// (sparse blocks with no synapse are left out). A connection with a negative weight_exp needs
// an accumulator bank of its destination core (a core has chip.MaxBanksPerCore), because the
// chip shifts each bank's sum separately, which rounds differently from shifting the whole
// sum; so such a connection must also have its source on one core.
//
// Map fails, wrapping ErrDoesNotFit, when the populations need more cores than the chip has
// even when sharing them, or an input port is larger than a core, and, wrapping ErrFanIn,
// when a core would need more accumulator banks than it has; the error says by how much.
func Map(n *Network, size chip.Size) (*image.Image, error) {
	if size == (chip.Size{}) {
		size = chip.Prototype
	}
	if size.Cores < 1 || size.NeuronsPerCore < 1 || size.Cores > chip.MaxCores || size.NeuronsPerCore > chip.MaxNeuronsPerCore {
		return nil, fmt.Errorf("network: chip size %s: %w (at most %d×%d)", size, ErrRange, chip.MaxCores, chip.MaxNeuronsPerCore)
	}
	c, err := n.compile()
	if err != nil {
		return nil, err
	}
	per := size.NeuronsPerCore
	var l errList
	for i, in := range c.inputs {
		if in.Size > per {
			l.add("input", in.Name, i, ErrDoesNotFit, "%d neurons, an input port has at most %d on a %s chip", in.Size, per, size)
		}
	}
	// Placement: segments of each population, one population per core unless that does not
	// fit and sharing cores does.
	banksOf := make([]int, len(c.pops)) // accumulator banks each population's core must give it
	for _, x := range c.conns {
		if x.exp < 0 {
			banksOf[x.to]++
		}
	}
	segs, need, counts := place(c.pops, banksOf, per, false)
	if need > size.Cores {
		packed, pneed, _ := place(c.pops, banksOf, per, true)
		if pneed <= size.Cores {
			segs, need = packed, pneed
		} else {
			shared := ""
			if pneed < need {
				shared = fmt.Sprintf("; %d with populations of one program and constants sharing cores", pneed)
			}
			l.add("network", "", 0, ErrDoesNotFit, "needs %d cores, chip has %d: %d too many (cores per population of at most %d neurons: %s%s)",
				need, size.Cores, need-size.Cores, per, strings.Join(counts, ", "), shared)
		}
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	if err := c.checkSize(segs); err != nil {
		return nil, err
	}

	img := &image.Image{Name: c.name}
	for i, p := range c.pops {
		img.Pops = append(img.Pops, image.Population{Name: p.name, Size: p.size, Segments: segs[i]})
	}
	img.Cores = buildCores(c.pops, segs, need)
	for _, in := range c.inputs {
		img.Inputs = append(img.Inputs, image.Input{Name: in.Name, Size: in.Size})
	}
	banks := map[int][]string{} // per destination core, the connections feeding it
	for i := range c.conns {
		blocks, err := mapConn(&c.conns[i], i, c, segs)
		if err != nil {
			return nil, err
		}
		for _, b := range blocks {
			if b.WeightExp < 0 {
				banks[b.Dst] = append(banks[b.Dst], b.Name)
			}
		}
		img.Conns = append(img.Conns, blocks...)
	}
	cores := make([]int, 0, len(banks))
	for k := range banks {
		cores = append(cores, k)
	}
	sort.Ints(cores)
	for _, k := range cores {
		if b := banks[k]; len(b) > chip.MaxBanksPerCore {
			l.add("core", "", k, ErrFanIn, "would need %d accumulator banks (incoming connections with a negative weight_exp), "+
				"limit %d: %d too many (it holds %s; fed by %s)",
				len(b), chip.MaxBanksPerCore, len(b)-chip.MaxBanksPerCore, coreHolds(img, k), countNames(b))
		}
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	for _, o := range c.outputs {
		img.Outputs = append(img.Outputs, image.Output{Name: o.name, Pop: o.pop, Start: o.start, Count: o.count})
	}
	img.Size = chip.Size{Cores: need}
	for _, k := range img.Cores {
		img.Size.NeuronsPerCore = max(img.Size.NeuronsPerCore, k.Neurons)
	}
	for _, in := range img.Inputs {
		img.Size.NeuronsPerCore = max(img.Size.NeuronsPerCore, in.Size)
	}
	if err := img.Validate(); err != nil {
		return nil, fmt.Errorf("network: mapper produced an invalid image (a bug): %w", err)
	}
	return img, nil
}

// place assigns each population its segments, taking cores in declaration order, and returns
// them with the number of cores used and, per population, "name: cores it spans". A population
// of more than per neurons is spread evenly over as few fresh cores as hold it. With share, a
// population that fits in one core goes to the first core that holds populations of the same
// program and constants and has room left, in neurons and in accumulator banks for incoming
// connections with a negative weight_exp (a core runs one program with one set of constants;
// parameters and state are per neuron), else to a fresh core.
func place(pops []cpop, banks []int, per int, share bool) ([][]image.Segment, int, []string) {
	type open struct {
		core, used, banks int
		class             string
	}
	var cores []open
	segs := make([][]image.Segment, len(pops))
	var counts []string
	for i, p := range pops {
		class := p.class()
		if share && p.size <= per {
			placed := false
			for j := range cores {
				if o := &cores[j]; o.class == class && o.used+p.size <= per && o.banks+banks[i] <= chip.MaxBanksPerCore {
					segs[i] = []image.Segment{{Core: o.core, Start: o.used, Count: p.size}}
					o.used += p.size
					o.banks += banks[i]
					placed = true
					break
				}
			}
			if placed {
				counts = append(counts, fmt.Sprintf("%s: 0", p.name))
				continue
			}
		}
		k := (p.size + per - 1) / per
		base, extra := p.size/k, p.size%k
		for j := range k {
			cnt := base
			if j < extra {
				cnt++
			}
			segs[i] = append(segs[i], image.Segment{Core: len(cores), Count: cnt})
			cores = append(cores, open{core: len(cores), used: cnt, banks: banks[i], class: class})
		}
		counts = append(counts, fmt.Sprintf("%s: %d", p.name, k))
	}
	return segs, len(cores), counts
}

// class says which populations can share a core: those with the same program and constants.
func (p *cpop) class() string {
	b, err := p.prog.MarshalBinary()
	if err != nil {
		return fmt.Sprintf("%p", p) // unreachable for a validated program; shares nothing
	}
	return fmt.Sprint(string(b), p.consts)
}

// buildCores lays out the image's cores: each holds the segments placed on it, in order of
// their start, with their parameters and initial state side by side.
func buildCores(pops []cpop, segs [][]image.Segment, ncores int) []image.Core {
	on := make([][]part, ncores)
	for i := range pops {
		pos := 0
		for _, s := range segs[i] {
			on[s.Core] = append(on[s.Core], part{i, pos, s})
			pos += s.Count
		}
	}
	cores := make([]image.Core, 0, ncores)
	for k, parts := range on {
		sort.Slice(parts, func(a, b int) bool { return parts[a].seg.Start < parts[b].seg.Start })
		first := pops[parts[0].pop]
		core := image.Core{Index: k, Program: first.prog, Consts: first.consts}
		for _, pt := range parts {
			core.Neurons += pt.seg.Count
		}
		if len(parts) == 1 {
			core.Params = sliceRows(first.params, parts[0].pos, core.Neurons)
			core.State = sliceRows(first.state, parts[0].pos, core.Neurons)
		} else {
			core.Params = joinRows(len(first.prog.Params), core.Neurons, parts, func(pt part) [][]int32 {
				return sliceRows(pops[pt.pop].params, pt.pos, pt.seg.Count)
			})
			core.State = joinRows(len(first.prog.State), core.Neurons, parts, func(pt part) [][]int32 {
				return sliceRows(pops[pt.pop].state, pt.pos, pt.seg.Count)
			})
		}
		cores = append(cores, core)
	}
	return cores
}

// part is a segment of a population on a core.
type part struct {
	pop, pos int // population, and the index in it of the segment's first neuron
	seg      image.Segment
}

// joinRows puts the per-neuron rows of the parts of a shared core side by side; a row that is
// nil (all zero) in every part stays nil.
func joinRows(nrows, neurons int, parts []part, rows func(part) [][]int32) [][]int32 {
	var out [][]int32
	for r := 0; r < nrows; r++ {
		var row []int32
		for _, pt := range parts {
			pr := rows(pt)
			if pr == nil || pr[r] == nil {
				continue
			}
			if row == nil {
				row = make([]int32, neurons)
			}
			copy(row[pt.seg.Start:], pr[r])
		}
		if row != nil {
			if out == nil {
				out = make([][]int32, nrows)
			}
			out[r] = row
		}
	}
	return out
}

// coreHolds says which populations core k holds, and which of their neurons.
func coreHolds(img *image.Image, k int) string {
	var out []string
	for _, p := range img.Pops {
		pos := 0
		for _, s := range p.Segments {
			if s.Core == k {
				out = append(out, fmt.Sprintf("population %s, neurons %d-%d", quote(p.Name), pos, pos+s.Count-1))
			}
			pos += s.Count
		}
	}
	return strings.Join(out, "; ")
}

// countNames summarises a list of names with repeats: "a (2 blocks), b".
func countNames(names []string) string {
	var order []string
	n := map[string]int{}
	for _, s := range names {
		if n[s] == 0 {
			order = append(order, s)
		}
		n[s]++
	}
	out := make([]string, len(order))
	for i, s := range order {
		out[i] = s
		if n[s] > 1 {
			out[i] = fmt.Sprintf("%s ×%d", s, n[s])
		}
	}
	return strings.Join(out, ", ")
}

func sliceRows(rows [][]int32, lo, n int) [][]int32 {
	if rows == nil {
		return nil
	}
	out := make([][]int32, len(rows))
	for i, r := range rows {
		if r != nil {
			out[i] = r[lo : lo+n]
		}
	}
	return out
}

// srcBlock is a run of source neurons on one core or input port.
type srcBlock struct {
	kind       image.SourceKind
	src        int // core or input port
	start, cnt int // on that core or port
	off        int // index of its first neuron in the source population or port
}

// mapConn splits connection i into blocks: one per (source block, destination core).
func mapConn(x *cconn, i int, c *compiled, segs [][]image.Segment) ([]image.Conn, error) {
	var srcs []srcBlock
	if x.fromInput {
		srcs = []srcBlock{{kind: image.FromInput, src: x.from, cnt: x.fromSize}}
	} else {
		off := 0
		for _, s := range segs[x.from] {
			srcs = append(srcs, srcBlock{kind: image.FromCore, src: s.Core, start: s.Start, cnt: s.Count, off: off})
			off += s.Count
		}
	}
	var sparseOf map[[2]int][]int // (source block, destination segment) → synapse indices
	if x.sparse != nil {
		sparseOf = groupSparse(x.sparse, srcs, segs[x.to])
	}
	var out []image.Conn
	dstOff := 0
	for di, d := range segs[x.to] {
		nblocks := 0
		for si, s := range srcs {
			b := image.Conn{Name: x.name, Kind: s.kind, Src: s.src, SrcStart: s.start, SrcCount: s.cnt,
				Dst: d.Core, DstStart: d.Start, DstCount: d.Count,
				SignMode: x.mode, WeightBits: x.bits, WeightExp: x.exp, Graded: x.graded}
			if x.dense != nil {
				b.Weights = make([]int32, s.cnt*d.Count)
				for pre := range s.cnt {
					for post := range d.Count {
						b.Weights[pre*d.Count+post] = syn.Effective(x.dense.At(dstOff+post, s.off+pre), x.mode, x.bits)
					}
				}
			} else {
				ks := sparseOf[[2]int{si, di}]
				if len(ks) == 0 {
					continue
				}
				b.Index = make([]int32, s.cnt+1)
				for _, k := range ks {
					b.Index[x.sparse.Pre[k]-s.off+1]++
				}
				for j := range s.cnt {
					b.Index[j+1] += b.Index[j]
				}
				b.Targets = make([]int32, len(ks))
				b.Weights = make([]int32, len(ks))
				fill := append([]int32(nil), b.Index[:s.cnt]...)
				for _, k := range ks { // ks is in synapse order, so each source's synapses keep their order
					j := fill[x.sparse.Pre[k]-s.off]
					fill[x.sparse.Pre[k]-s.off]++
					b.Targets[j] = int32(x.sparse.Post[k] - dstOff)
					b.Weights[j] = syn.Effective(x.sparse.Weights.At(k), x.mode, x.bits)
				}
			}
			out = append(out, b)
			nblocks++
		}
		if x.exp < 0 && nblocks > 1 {
			return nil, &Error{Kind: "connection", Name: x.name, Index: i, Err: ErrDoesNotFit, Msg: fmt.Sprintf(
				"weight_exp %d is negative and its source %q spans %d cores: each core's bank would be shifted (and rounded) separately, "+
					"which is not one Dense; use weight_exp ≥ 0, or a chip with more neurons per core", x.exp, c.pops[x.from].name, len(srcs))}
		}
		dstOff += d.Count
	}
	return out, nil
}

// groupSparse assigns each synapse to its (source block, destination segment), keeping the
// synapses' order within each group.
func groupSparse(s *Sparse, srcs []srcBlock, dst []image.Segment) map[[2]int][]int {
	blockOf := func(i int, starts []int) int {
		return sort.Search(len(starts), func(j int) bool { return starts[j] > i }) - 1
	}
	var srcStarts, dstStarts []int
	for _, b := range srcs {
		srcStarts = append(srcStarts, b.off)
	}
	pos := 0
	for _, d := range dst {
		dstStarts = append(dstStarts, pos)
		pos += d.Count
	}
	out := map[[2]int][]int{}
	for k := range s.Pre {
		key := [2]int{blockOf(s.Pre[k], srcStarts), blockOf(s.Post[k], dstStarts)}
		out[key] = append(out[key], k)
	}
	return out
}

// imageBytes estimates, from above and without building anything, the bytes of the image of
// the placed network: neuron parameters and state, and the synapses (2 bytes per dense weight,
// 4 per sparse synapse plus the sparse index), with the records' fixed parts.
func (c *compiled) imageBytes(segs [][]image.Segment) (bytes, synapses int64) {
	bytes = 1024 // header, section table, checksum, names
	for i, p := range c.pops {
		regs := int64(len(p.prog.Params) + len(p.prog.State))
		bytes += int64(p.size)*4*regs + int64(len(segs[i]))*(512+4*int64(len(p.prog.Consts))) + 300
	}
	for i := range c.conns {
		x := &c.conns[i]
		blocks := int64(len(segs[x.to]))
		if !x.fromInput {
			blocks *= int64(len(segs[x.from]))
		}
		bytes += blocks * 320 // record fields, name, padding
		if x.sparse != nil {
			n := int64(len(x.sparse.Pre))
			synapses += n
			bytes += 4*n + 4*(int64(x.fromSize)+blocks)*int64(len(segs[x.to]))
			continue
		}
		n := int64(x.fromSize) * int64(x.toSize)
		synapses += n
		bytes += 2 * n
	}
	return bytes, synapses
}

// checkSize refuses, wrapping ErrTooLarge, a network whose image would exceed the format's
// limit, before anything of that size is allocated.
func (c *compiled) checkSize(segs [][]image.Segment) error {
	b, syns := c.imageBytes(segs)
	if b <= image.MaxImageSize {
		return nil
	}
	var big []string
	for i := range c.conns {
		x := &c.conns[i]
		n := int64(x.fromSize) * int64(x.toSize)
		if x.sparse != nil {
			n = int64(len(x.sparse.Pre))
		}
		if n >= 1<<24 {
			big = append(big, fmt.Sprintf("%s: %d synapses", quote(x.name), n))
		}
	}
	hint := ""
	if len(big) > 0 {
		if len(big) > 5 {
			big = append(big[:5], fmt.Sprintf("and %d more", len(big)-5))
		}
		hint = fmt.Sprintf(" (the largest connections: %s; a dense connection stores every pair, a sparse one or a rule only the synapses it has)", strings.Join(big, ", "))
	}
	return fmt.Errorf("network: %w: its image would take about %s for %d synapses, the image format's limit is %s (1 GiB)%s",
		ErrTooLarge, humanBytes(b), syns, humanBytes(image.MaxImageSize), hint)
}

// humanBytes writes n bytes in the largest binary unit that keeps a number ≥ 1.
func humanBytes(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
