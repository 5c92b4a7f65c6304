package emu

import (
	"fmt"

	"github.com/lrchip/lrchip/emu/internal/kernels"
	"github.com/lrchip/lrchip/firmware/isa"
)

// TileSize is how many neurons the interpreter runs one instruction over before moving to the
// next instruction: small enough that a tile's registers stay in L1, large enough that the
// per-instruction dispatch is paid rarely.
const TileSize = 256

// core is one neuron core: a program, its neurons' registers as flat arrays (structure of
// arrays), its dendritic accumulators and this step's spikes.
type core struct {
	idx     int
	prog    *isa.Program
	n       int       // neurons in use
	state   [][]int32 // [reg][neuron]
	params  [][]int32 // [param][neuron]
	consts  []int32
	a       []int32 // dendritic input of the current step
	banks   []*bank // one accumulator bank per incoming connection
	spiked  []int32 // 1 where the neuron spiked this step
	payload []int32 // payload of this step's spike (1 for binary), 0 where none
	fired   []int32 // indices of the neurons that spiked this step, ascending
	temps   [isa.NumTemp][TileSize]int32
	bcast   [][]int32 // per-instruction broadcast buffers for uniform operands
	kregs   [isa.NumUTemp]int32
	trace   []int       // program counters of the per-neuron instructions executed this step
	srcs    [][]isa.Reg // operands read by each instruction, decoded once
	exec    executor
	simd    bool // spikes through the vector kernel
}

// padded is the length of every per-neuron array of a core of n neurons: the vector kernels
// work in whole multiples of kernels.Lanes, so the last tile runs over a few spare lanes.
func padded(n int) int { return (n + kernels.Lanes - 1) / kernels.Lanes * kernels.Lanes }

// bank accumulates one connection's weighted spikes for every neuron of the destination core.
type bank struct {
	conn *conn
	acc  []int32
}

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
	c := &core{idx: idx, prog: p, n: n,
		a: make([]int32, padded(n)), spiked: make([]int32, padded(n)), payload: make([]int32, padded(n)),
		consts: make([]int32, len(p.Consts))}
	if len(cfg.Consts) != len(p.Consts) {
		return nil, fmt.Errorf("core %d: program %q declares %d constants, %d given", idx, p.Name, len(p.Consts), len(cfg.Consts))
	}
	copy(c.consts, cfg.Consts)
	var err error
	if c.state, err = perNeuron(idx, "state", p.State, cfg.State, n); err != nil {
		return nil, err
	}
	if c.params, err = perNeuron(idx, "parameter", p.Params, cfg.Params, n); err != nil {
		return nil, err
	}
	c.bcast = make([][]int32, len(p.Code)*3)
	c.srcs = make([][]isa.Reg, len(p.Code))
	for pc, in := range p.Code {
		c.srcs[pc] = in.Sources()
	}
	c.exec, c.simd = execGo, false
	if simd && kernels.Available {
		c.exec, c.simd = execSIMD, true
	}
	return c, nil
}

// perNeuron copies initial values: nil means all zero, otherwise one slice of n per name.
func perNeuron(core int, what string, names []string, vals [][]int32, n int) ([][]int32, error) {
	if vals != nil && len(vals) != len(names) {
		return nil, fmt.Errorf("core %d: %d %s arrays given, program declares %d", core, len(vals), what, len(names))
	}
	out := make([][]int32, len(names))
	for i := range names {
		out[i] = make([]int32, padded(n))
		if vals == nil || vals[i] == nil {
			continue
		}
		if len(vals[i]) != n {
			return nil, fmt.Errorf("core %d: %s %q has %d values for %d neurons", core, what, names[i], len(vals[i]), n)
		}
		copy(out[i], vals[i])
	}
	return out, nil
}

// uniformPass runs the per-core part of the program once: it evaluates the uniform
// instructions (those writing k registers, and branches) and records which per-neuron
// instructions execute this step. Branches depend only on uniform values, so every neuron of
// the core follows this same path.
func (c *core) uniformPass(t int32) {
	c.trace = c.trace[:0]
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
		c.trace = append(c.trace, pc)
		// Broadcast this instruction's uniform operands once per step, so that every
		// per-neuron kernel reads plain arrays.
		for j, r := range c.srcs[pc] {
			if !r.Uniform() {
				continue
			}
			buf := c.bcastBuf(pc, j)
			v := c.uval(r, in, t)
			if buf[0] != v || buf[TileSize-1] != v {
				for i := range buf {
					buf[i] = v
				}
			}
		}
		pc++
	}
}

func (c *core) bcastBuf(pc, j int) []int32 {
	b := c.bcast[pc*3+j]
	if b == nil {
		b = make([]int32, TileSize)
		// Force the first fill: make it differ from any value at both ends.
		b[0], b[TileSize-1] = 1, 0
		c.bcast[pc*3+j] = b
	}
	return b
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

// operand returns the slice an instruction's source j reads for neurons [lo, hi).
func (c *core) operand(pc, j int, r isa.Reg, lo, hi int) []int32 {
	if r.Uniform() {
		return c.bcast[pc*3+j][:hi-lo]
	}
	switch cl, i := r.Class(); cl {
	case isa.ClassState:
		return c.state[i][lo:hi]
	case isa.ClassTemp:
		return c.temps[i][:hi-lo]
	case isa.ClassParam:
		return c.params[i][lo:hi]
	case isa.ClassInput:
		return c.a[lo:hi]
	}
	panic("emu: operand of unknown class survived validation")
}

// dest returns the slice an instruction writes for neurons [lo, hi).
func (c *core) dest(r isa.Reg, lo, hi int) []int32 {
	switch cl, i := r.Class(); cl {
	case isa.ClassState:
		return c.state[i][lo:hi]
	case isa.ClassTemp:
		return c.temps[i][:hi-lo]
	}
	panic("emu: destination of unknown class survived validation")
}

// compute runs the program over every neuron, tile by tile and, within a tile, instruction by
// instruction, then lists the neurons that spiked.
func (c *core) compute(t int32) {
	clear(c.spiked)
	clear(c.payload)
	c.uniformPass(t)
	code := c.prog.Code
	var srcs [3][]int32
	for lo := 0; lo < c.n; lo += TileSize {
		hi := lo + padded(min(TileSize, c.n-lo))
		for _, pc := range c.trace {
			in := code[pc]
			srcs = [3][]int32{}
			for j, r := range c.srcs[pc] {
				srcs[j] = c.operand(pc, j, r, lo, hi)
			}
			switch in.Op {
			case isa.OpSpk:
				c.spike(c.spiked[lo:hi], c.payload[lo:hi], srcs[0], nil)
			case isa.OpSpkG:
				c.spike(c.spiked[lo:hi], c.payload[lo:hi], srcs[0], srcs[1])
			default:
				c.exec(in.Op, c.dest(in.Rd, lo, hi), srcs[0], srcs[1], srcs[2], in.Imm)
			}
		}
	}
	c.fired = c.fired[:0]
	for i, s := range c.spiked[:c.n] {
		if s != 0 {
			c.fired = append(c.fired, int32(i))
		}
	}
}

// spike sets the spike outputs where cond is nonzero; the last spike instruction of a step wins.
func (c *core) spike(spiked, payload, cond, val []int32) {
	if c.simd {
		kernels.Spike(spiked, payload, cond, val)
		return
	}
	cond = cond[:len(spiked)]
	if val == nil {
		for i, x := range cond {
			if x != 0 {
				spiked[i], payload[i] = 1, 1
			}
		}
		return
	}
	val = val[:len(spiked)]
	for i, x := range cond {
		if x != 0 {
			spiked[i], payload[i] = 1, isa.SatPayload(val[i])
		}
	}
}
