package emu

import (
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/lrchip/lrchip/emu/internal/kernels"
	"github.com/lrchip/lrchip/firmware/isa"
)

// TileSize is how many neurons the interpreter runs one instruction over before moving to the
// next instruction: small enough that a tile's registers stay in L1, large enough that the
// per-instruction dispatch is paid rarely.
const TileSize = 512

// core is one neuron core: a program, its neurons' registers as flat arrays (structure of
// arrays), its dendritic accumulators and this step's spikes.
type core struct {
	idx      int
	prog     *isa.Program
	n        int       // neurons in use
	state    [][]int32 // [reg][neuron]
	params   [][]int32 // [param][neuron]
	consts   []int32
	a        []int32              // dendritic input of the current step
	in       []*conn              // incoming connections
	nbanks   int                  // of which with an accumulator bank (negative weight exponent)
	mask     []uint64             // bit i set where neuron i spiked this step
	maskB    []uint8              // the same memory, by byte, for the kernels
	payload  []int32              // payload of this step's spike (1 for binary), 0 where none
	fired    []int32              // indices of the neurons that spiked this step, ascending
	temps    [isa.NumTemp][]int32 // tile-sized
	nalloc   int                  // arrays made by alloc
	bcast    [][]int32            // tile-sized buffers holding uniform operand values
	bcastVal []int32              // the value each holds
	nbcast   int                  // buffers in use this step
	kregs    [isa.NumUTemp]int32
	hoisted  [][]int32   // per-neuron values of step-invariant instructions (see uniformPass)
	nhoist   int         // buffers of hoisted in use
	vops     []vop       // the per-neuron instructions executed this step
	srcs     [][]isa.Reg // operands read by each instruction, decoded once
	exec     executor
	simd     *kernels.Set // the vector kernels, or nil for the portable interpreter

	events    uint64 // synaptic events delivered this step
	readsT    bool   // some instruction reads t
	passValid bool   // vops hold this step's pass (see compute)

	flat []uint16 // scratch of conn.deliverAll when cores are stepped in parallel
}

// padded is the length of every per-neuron array of a core of n neurons: the vector kernels
// work in whole multiples of kernels.Lanes, so the last tile runs over a few spare lanes.
func padded(n int) int { return (n + kernels.Lanes - 1) / kernels.Lanes * kernels.Lanes }

func newCore(idx int, cfg CoreConfig, slots int, simd bool) (*core, error) {
	p := cfg.Program
	if p == nil {
		return nil, fmt.Errorf("core %d: no program", idx)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("core %d: %w", idx, err)
	}
	if cfg.Neurons < 0 || cfg.Neurons > slots {
		return nil, fmt.Errorf("core %d: %d neurons: %w (limit %d per core)", idx, cfg.Neurons, ErrLimit, slots)
	}
	n := cfg.Neurons
	c := &core{idx: idx, prog: p, n: n, consts: make([]int32, len(p.Consts))}
	c.a, c.payload = c.alloc(padded(n)), c.alloc(padded(n))
	for i := range c.temps {
		c.temps[i] = c.alloc(TileSize)
	}
	if len(cfg.Consts) != len(p.Consts) {
		return nil, fmt.Errorf("core %d: program %q declares %d constants, %d given", idx, p.Name, len(p.Consts), len(cfg.Consts))
	}
	copy(c.consts, cfg.Consts)
	var err error
	if c.state, err = c.perNeuron("state", p.State, cfg.State); err != nil {
		return nil, err
	}
	if c.params, err = c.perNeuron("parameter", p.Params, cfg.Params); err != nil {
		return nil, err
	}
	c.mask = make([]uint64, (padded(n)+63)/64)
	c.maskB = unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(c.mask))), len(c.mask)*8)
	c.srcs = make([][]isa.Reg, len(p.Code))
	for pc, in := range p.Code {
		c.srcs[pc] = in.Sources()
		for _, r := range c.srcs[pc] {
			c.readsT = c.readsT || r == isa.T
		}
	}
	c.exec = execGo
	if simd && kernels.Available {
		c.simd = kernels.Best()
		k := c.simd
		c.exec = func(op isa.Opcode, d, a, b, cc []int32, n int32) {
			if !k.Exec(op, d, a, b, cc, n) {
				execGo(op, d, a, b, cc, n)
			}
		}
	}
	return c, nil
}

// perNeuron copies initial values: nil means all zero, otherwise one slice of n per name.
func (c *core) perNeuron(what string, names []string, vals [][]int32) ([][]int32, error) {
	if vals != nil && len(vals) != len(names) {
		return nil, fmt.Errorf("core %d: %d %s arrays given, program declares %d", c.idx, len(vals), what, len(names))
	}
	out := make([][]int32, len(names))
	for i := range names {
		out[i] = c.alloc(padded(c.n))
		if vals == nil || vals[i] == nil {
			continue
		}
		if len(vals[i]) != c.n {
			return nil, fmt.Errorf("core %d: %s %q has %d values for %d neurons", c.idx, what, names[i], len(vals[i]), c.n)
		}
		copy(out[i], vals[i])
	}
	return out, nil
}

// alloc returns a zeroed array of n elements for the kernels' operands. It starts on a cache
// line, so that no 64-byte vector access straddles two, and every array of a core starts at a
// different line of its 4 KiB page: the CPU matches a load against earlier stores by the low
// 12 bits of their addresses first, so operands that start at the same page offset make each
// store look as if it fed the next load of another array ("4K aliasing") and stall the loop.
// Left to the allocator, arrays of a few KiB all start at offset 0.
func (c *core) alloc(n int) []int32 {
	const line, page = 64, 4096
	slot := (c.nalloc*23 + c.idx*5) % (page / line) // 23 is odd: 64 arrays, 64 lines
	c.nalloc++
	buf := make([]int32, n+page/4)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	i := int((uintptr(slot*line)+page-addr%page)%page) / 4
	return buf[i : i+n : i+n]
}

// ref is where an operand lives for the neurons of a tile: a per-neuron array indexed by
// neuron (state, parameters, a) or a tile-sized buffer indexed from 0 (temporaries and
// broadcast uniform values).
type ref struct {
	arr   []int32
	local bool
}

func (r ref) tile(lo, hi int) []int32 {
	if r.arr == nil {
		return nil
	}
	if r.local {
		return r.arr[:hi-lo]
	}
	return r.arr[lo:hi]
}

// vop is a per-neuron instruction of this step with its operands resolved.
type vop struct {
	op   isa.Opcode
	n    int32
	dst  ref
	srcs [3]ref
	bin  func(d, a, b *int32, n int) // a two-operand vector kernel, called directly
	// Any other vector kernel, with the immediate bound, also called directly.
	other func(d, a, b, c *int32, n int)
}

// uniformPass runs the per-core part of the program once: it evaluates the uniform
// instructions (those writing k registers, and branches) and lists, with their operands
// resolved, the per-neuron instructions that execute this step. Branches depend only on
// uniform values, so every neuron of the core follows this same path.
//
// A per-neuron instruction that reads only parameters, constants and immediates (directly or
// through temporaries computed from them) and writes a temporary gives the same values at
// every step while the pass is kept: it is run here, once (see hoist), and the instructions
// after it read its result from there.
func (c *core) uniformPass(t int32) {
	c.vops = c.vops[:0]
	c.nbcast = 0
	c.nhoist = 0
	var held [isa.NumTemp][]int32 // where a temporary's hoisted value lives, if it has one
	code := c.prog.Code
	for pc := 0; pc < len(code); {
		in := code[pc]
		if in.Op.IsBranch() {
			x, y := c.uval(in.Ra, in, t), c.uval(in.Rb, in, t)
			take := false
			switch in.Op {
			case isa.OpJmp:
				take = true
			case isa.OpBeq:
				take = x == y
			case isa.OpBne:
				take = x != y
			case isa.OpBlt:
				take = x < y
			case isa.OpBge:
				take = x >= y
			}
			if take {
				pc = in.Target(pc)
			} else {
				pc++
			}
			continue
		}
		if d, ok := in.Dest(); ok {
			if cl, k := d.Class(); cl == isa.ClassUTemp {
				c.kregs[k] = isa.ALU(in.Op, c.uval(in.Ra, in, t), c.uval(in.Rb, in, t), c.uval(in.Rc, in, t), in.Imm)
				pc++
				continue
			}
		}
		v := vop{op: in.Op, n: in.Imm}
		if c.simd != nil {
			v.bin = c.simd.Binary(in.Op)
			if v.bin == nil {
				v.other = c.simd.Other(in.Op, in.Imm)
			}
		}
		d, hasDst := in.Dest()
		if hasDst {
			v.dst = c.ref(d)
		}
		invariant := !c.readsT
		for j, r := range c.srcs[pc] {
			cl, i := r.Class()
			switch {
			case r.Uniform():
				v.srcs[j] = ref{arr: c.broadcast(c.uval(r, in, t)), local: true}
			case cl == isa.ClassTemp && held[i] != nil:
				v.srcs[j] = ref{arr: held[i]}
			default:
				v.srcs[j] = c.ref(r)
				invariant = invariant && cl == isa.ClassParam
			}
		}
		pc++
		if !hasDst {
			c.vops = append(c.vops, v)
			continue
		}
		cl, i := d.Class()
		if cl != isa.ClassTemp {
			c.vops = append(c.vops, v)
			continue
		}
		if !invariant {
			held[i] = nil
			c.vops = append(c.vops, v)
			continue
		}
		held[i] = c.hoist(v)
	}
}

// hoist runs v, whose operands are all step-invariant, over every neuron into a buffer of
// its own, and returns the buffer. Parameters and constants never change once a core is
// configured, so while the pass is kept the buffer is the value of v's destination at every
// step: a bias computed from a mantissa and an exponent, say, costs nothing per step.
func (c *core) hoist(v vop) []int32 {
	if c.nhoist == len(c.hoisted) {
		c.hoisted = append(c.hoisted, c.alloc(padded(c.n)))
	}
	buf := c.hoisted[c.nhoist]
	c.nhoist++
	for lo := 0; lo < c.n; lo += TileSize {
		hi := lo + padded(min(TileSize, c.n-lo))
		c.exec(v.op, buf[lo:hi], v.srcs[0].tile(lo, hi), v.srcs[1].tile(lo, hi), v.srcs[2].tile(lo, hi), v.n)
	}
	return buf
}

// broadcast returns a tile-sized buffer filled with x. Buffers are shared by value within a
// step and keep their contents across steps, so a constant is written once, not every step.
func (c *core) broadcast(x int32) []int32 {
	for i := 0; i < c.nbcast; i++ {
		if c.bcastVal[i] == x {
			return c.bcast[i]
		}
	}
	i := c.nbcast
	c.nbcast++
	if i == len(c.bcast) {
		c.bcast = append(c.bcast, c.alloc(TileSize))
		c.bcastVal = append(c.bcastVal, 0)
	} else if c.bcastVal[i] == x {
		return c.bcast[i]
	}
	buf := c.bcast[i]
	for j := range buf {
		buf[j] = x
	}
	c.bcastVal[i] = x
	return buf
}

// uval is the value of a uniform operand.
func (c *core) uval(r isa.Reg, in isa.Instr, t int32) int32 {
	switch cl, i := r.Class(); cl {
	case isa.ClassConst:
		return c.consts[i]
	case isa.ClassUTemp:
		return c.kregs[i]
	case isa.ClassTime:
		return t
	case isa.ClassImm:
		return in.Imm
	}
	return 0
}

// ref resolves a per-neuron register.
func (c *core) ref(r isa.Reg) ref {
	switch cl, i := r.Class(); cl {
	case isa.ClassState:
		return ref{arr: c.state[i]}
	case isa.ClassTemp:
		return ref{arr: c.temps[i], local: true}
	case isa.ClassParam:
		return ref{arr: c.params[i]}
	case isa.ClassInput:
		return ref{arr: c.a}
	}
	panic("emu: operand of unknown class survived validation")
}

// compute runs the program over every neuron, tile by tile and, within a tile, instruction by
// instruction, then lists the neurons that spiked.
func (c *core) compute(t int32) {
	// Only the neurons that spiked last step have a payload to clear.
	for _, i := range c.fired {
		c.payload[i] = 0
	}
	clear(c.mask)
	if !c.passValid {
		c.uniformPass(t)
		// A program whose uniform values never involve t follows the same path with the same
		// operands every step: keep the pass.
		c.passValid = !c.readsT
	}
	for lo := 0; lo < c.n; lo += TileSize {
		hi := lo + padded(min(TileSize, c.n-lo))
		for i := range c.vops {
			v := &c.vops[i]
			if v.bin != nil {
				// Slicing to the tile has bounds-checked every operand to hi-lo elements.
				d, a, b := v.dst.tile(lo, hi), v.srcs[0].tile(lo, hi), v.srcs[1].tile(lo, hi)
				v.bin(&d[0], &a[0], &b[0], len(d))
				continue
			}
			a, b, cc := v.srcs[0].tile(lo, hi), v.srcs[1].tile(lo, hi), v.srcs[2].tile(lo, hi)
			if v.other != nil {
				// As above; operands the opcode does not read are nil.
				d := v.dst.tile(lo, hi)
				v.other(&d[0], unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(cc), len(d))
				continue
			}
			switch v.op {
			case isa.OpSpk:
				c.spike(c.maskB[lo/8:hi/8], c.payload[lo:hi], a, nil)
			case isa.OpSpkG:
				c.spike(c.maskB[lo/8:hi/8], c.payload[lo:hi], a, b)
			default:
				c.exec(v.op, v.dst.tile(lo, hi), a, b, cc, v.n)
			}
		}
	}
	c.fired = appendFired(c.fired[:0], c.mask, c.n)
}

// appendFired appends the indices of the set bits below n, in ascending order.
func appendFired(dst []int32, mask []uint64, n int) []int32 {
	for w, bitsw := range mask {
		for bitsw != 0 {
			i := w*64 + bits.TrailingZeros64(bitsw)
			if i >= n {
				return dst // padding lanes
			}
			dst = append(dst, int32(i))
			bitsw &= bitsw - 1
		}
	}
	return dst
}

// spike records spikes where cond is nonzero: mask bits (lo/8 is where the tile's byte
// starts) and payloads. The last spike instruction of a step wins.
func (c *core) spike(mask []uint8, payload, cond, val []int32) {
	if c.simd != nil {
		c.simd.Spike(mask, payload, cond, val)
		return
	}
	cond = cond[:len(payload)]
	for i, x := range cond {
		if x == 0 {
			continue
		}
		mask[i/8] |= 1 << (i % 8)
		if val == nil {
			payload[i] = 1
		} else {
			payload[i] = val[i]
		}
	}
}
