package network

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
)

// MaxNameLen is the longest name of a population, port or connection.
const MaxNameLen = 255

// ValidName reports whether s can name a population, port or connection: a letter or '_',
// then letters, digits, '_', '.' or '-', at most MaxNameLen bytes. (No ':' or ',', so that
// probe specs and CSV files can hold names as they are.)
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// maxPop is the most neurons a population can have: the largest chip's.
const maxPop = 128 * 8192

// compiled is a validated network with names resolved and programs assembled.
type compiled struct {
	name    string
	inputs  []Input
	pops    []cpop
	conns   []cconn
	outputs []cout
}

type cpop struct {
	name   string
	size   int
	prog   *isa.Program
	consts []int32
	params [][]int32 // [param][neuron]; nil rows are zeros
	state  [][]int32
}

type cconn struct {
	name      string
	fromInput bool
	from      int // index into inputs or pops
	fromSize  int
	to        int
	toSize    int
	dense     *Matrix
	sparse    *Sparse
	mode      syn.SignMode
	bits, exp int
	graded    bool
}

type cout struct {
	name         string
	pop          int
	start, count int
}

// Validate checks the network without placing it on a chip: names are valid, unique and
// refer to something; each population has exactly one program, which exists and assembles,
// every constant it declares and nothing else; per-neuron values are one or Size long and,
// for the standard programs, within range (see Limits); connections have one kind of weights
// of the right shape, within the sign mode's range, and valid settings; no population has
// more incoming connections than a core has accumulator banks. The error joins every problem
// found (up to 20), each an *Error that names the part at fault and wraps a sentinel.
func (n *Network) Validate() error {
	_, err := n.compile()
	return err
}

func (n *Network) compile() (*compiled, error) {
	var l errList
	c := &compiled{name: n.Name}
	if n.Name != "" && !ValidName(n.Name) {
		l.add("network", "", 0, ErrRange, "name %s: want a letter or '_', then letters, digits, '_', '.' or '-'", quote(n.Name))
	}
	if len(n.Populations) == 0 {
		l.add("network", "", 0, ErrMissing, "no populations")
	}
	// Populations and inputs share one namespace: connections name either as a source.
	kind := map[string]string{}
	name := func(k, s string, i int) bool {
		switch {
		case s == "":
			l.add(k, "", i, ErrMissing, "no name")
		case !ValidName(s):
			l.add(k, s, i, ErrRange, "bad name: want a letter or '_', then letters, digits, '_', '.' or '-' (at most %d bytes)", MaxNameLen)
		case kind[s] != "":
			l.add(k, s, i, ErrDuplicate, "name already used by %s", kind[s])
		default:
			kind[s] = fmt.Sprintf("%s %d", k, i)
			return true
		}
		return false
	}
	inputs := map[string]int{}
	for i, in := range n.Inputs {
		if name("input", in.Name, i) {
			inputs[in.Name] = i
		}
		if in.Size < 1 || in.Size > chip.Full.NeuronsPerCore {
			l.add("input", in.Name, i, ErrRange, "size %d outside [1, %d] (an input port is at most a core's neurons, %d on the largest chip)",
				in.Size, chip.Full.NeuronsPerCore, chip.Full.NeuronsPerCore)
		}
		if in.Source != nil {
			checkSource(in.Source, func(s error, f string, a ...any) { l.add("input", in.Name, i, s, f, a...) })
		}
	}
	c.inputs = n.Inputs
	pops := map[string]int{}
	progs := map[string]*isa.Program{}
	for i := range n.Populations {
		p := &n.Populations[i]
		if name("population", p.Name, i) {
			pops[p.Name] = i
		}
		c.pops = append(c.pops, n.compilePop(p, i, progs, &l))
	}
	into := map[int][]string{}
	cnames := map[string]int{}
	for i := range n.Connections {
		x := &n.Connections[i]
		cc := cconn{name: x.Name}
		if cc.name == "" {
			cc.name = x.From + "->" + x.To
		}
		bad := func(s error, f string, a ...any) { l.add("connection", cc.name, i, s, f, a...) }
		if j, dup := cnames[cc.name]; dup {
			bad(ErrDuplicate, "name already used by connection %d (give connections between the same populations distinct names)", j)
		}
		cnames[cc.name] = i
		ok := true
		if k, isIn := inputs[x.From]; isIn {
			cc.fromInput, cc.from, cc.fromSize = true, k, n.Inputs[k].Size
		} else if k, isPop := pops[x.From]; isPop {
			cc.from, cc.fromSize = k, n.Populations[k].Size
		} else {
			bad(ErrUnknown, "from %s: no population or input port of that name", quote(x.From))
			ok = false
		}
		if k, isPop := pops[x.To]; isPop {
			cc.to = k
			if x.WeightExp < 0 {
				into[k] = append(into[k], cc.name)
			}
		} else {
			if _, isIn := inputs[x.To]; isIn {
				bad(ErrUnknown, "to %s is an input port; connections go to populations", quote(x.To))
			} else {
				bad(ErrUnknown, "to %s: no population of that name", quote(x.To))
			}
			ok = false
		}
		mode := syn.Mixed
		if x.SignMode != "" {
			m, err := syn.ParseSignMode(x.SignMode)
			if err != nil {
				bad(ErrRange, "sign_mode %s: want MIXED, EXCITATORY or INHIBITORY", quote(x.SignMode))
				ok = false
			}
			mode = m
		}
		cc.mode, cc.bits, cc.exp, cc.graded = mode, x.WeightBits, x.WeightExp, x.Graded
		if cc.bits == 0 {
			cc.bits = syn.MaxWeightBits
		}
		if cc.bits < 1 || cc.bits > syn.MaxWeightBits {
			bad(ErrRange, "num_weight_bits %d outside [1, %d]", x.WeightBits, syn.MaxWeightBits)
		}
		if cc.exp < syn.MinExp || cc.exp > syn.MaxExp {
			bad(ErrRange, "weight_exp %d outside [%d, %d]", cc.exp, syn.MinExp, syn.MaxExp)
		}
		switch {
		case x.Rule != nil && x.Sparse != nil:
			bad(ErrShape, "both a rule and sparse given; give one")
			ok = false
		case x.Rule != nil:
		case x.Weights == nil && x.Sparse == nil:
			bad(ErrMissing, "no synapses: give weights (dense), sparse or a rule")
			ok = false
		case x.Weights != nil && x.Sparse != nil:
			bad(ErrShape, "both weights (dense) and sparse given; give one")
			ok = false
		}
		if ok {
			toSize := n.Populations[cc.to].Size
			cc.toSize = toSize
			y := x
			if x.Rule != nil {
				if toSize < 1 || toSize > maxPop || cc.fromSize < 1 {
					ok = false // the population's own error says why
				} else {
					z := *x
					z.Weights, z.Sparse, ok = n.expandRule(x, &cc, bad)
					y = &z
				}
			}
			if ok {
				cc.dense, cc.sparse = y.Weights, y.Sparse
				if y.Weights != nil {
					checkDense(y, cc, toSize, bad)
				} else {
					checkSparse(y, cc, toSize, bad)
				}
			}
		}
		c.conns = append(c.conns, cc)
	}
	for k, names := range into {
		if len(names) > chip.MaxBanksPerCore {
			l.add("population", n.Populations[k].Name, k, ErrFanIn, "%d incoming connections with a negative weight_exp, "+
				"a core has %d accumulator banks for them (%s)", len(names), chip.MaxBanksPerCore, strings.Join(names, ", "))
		}
	}
	onames := map[string]int{}
	for i, o := range n.Outputs {
		co := cout{name: o.Name, start: o.Start, count: o.Count}
		if co.name == "" {
			co.name = o.Population
		}
		bad := func(s error, f string, a ...any) { l.add("output", co.name, i, s, f, a...) }
		switch j, dup := onames[co.name]; {
		case co.name == "":
			bad(ErrMissing, "no population")
		case !ValidName(co.name):
			bad(ErrRange, "bad name")
		case dup:
			bad(ErrDuplicate, "name already used by output %d", j)
		}
		onames[co.name] = i
		k, isPop := pops[o.Population]
		if !isPop {
			if o.Population != "" {
				bad(ErrUnknown, "population %s: no population of that name", quote(o.Population))
			}
			continue
		}
		size := n.Populations[k].Size
		co.pop = k
		if co.count == 0 {
			co.count = size - co.start
		}
		if co.start < 0 || co.count < 1 || co.start+co.count > size {
			bad(ErrRange, "neurons [%d, %d) outside population %s of %d", co.start, co.start+co.count, quote(o.Population), size)
		}
		c.outputs = append(c.outputs, co)
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (n *Network) compilePop(p *Population, i int, progs map[string]*isa.Program, l *errList) cpop {
	cp := cpop{name: p.Name, size: p.Size}
	bad := func(s error, f string, a ...any) { l.add("population", p.Name, i, s, f, a...) }
	if p.Size < 1 || p.Size > maxPop {
		bad(ErrRange, "size %d outside [1, %d] (the largest chip, %s, holds %d neurons)", p.Size, maxPop, chip.Full, maxPop)
	}
	sizeOK := p.Size >= 1 && p.Size <= maxPop
	given := 0
	for _, s := range []string{p.Program, p.Source, p.SourceFile} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		bad(ErrMissing, "give exactly one of program (one of %s), source or source_file", strings.Join(programs.Names(), ", "))
		return cp
	}
	key := "program:" + p.Program
	if p.Source != "" {
		key = "source:" + p.Source
	} else if p.SourceFile != "" {
		key = "file:" + p.SourceFile
	}
	prog, seen := progs[key]
	if !seen {
		var err error
		switch {
		case p.Program != "":
			if !slices.Contains(programs.Names(), p.Program) {
				bad(ErrUnknownProgram, "program %s: no standard program of that name (have %s; use source or source_file for your own)", quote(p.Program), strings.Join(programs.Names(), ", "))
				return cp
			}
			prog, err = programs.Get(p.Program)
		case p.Source != "":
			if len(p.Source) > MaxSourceSize {
				err = fmt.Errorf("source is %d bytes, limit %d (a program has at most %d instructions)", len(p.Source), MaxSourceSize, isa.MaxInstrs)
			} else {
				label := fmt.Sprintf("population %s source", p.Name)
				if !ValidName(p.Name) {
					label = fmt.Sprintf("population %d source", i)
				}
				prog, err = asm.Assemble(label, []byte(p.Source))
			}
		default:
			path := p.SourceFile
			if !filepath.IsAbs(path) && n.Dir != "" {
				path = filepath.Join(n.Dir, path)
			}
			var src []byte
			if src, err = readSource(path); err == nil {
				prog, err = asm.Assemble(p.SourceFile, src)
			}
		}
		if err != nil {
			bad(ErrProgram, "%v", err)
			return cp
		}
		progs[key] = prog
	}
	if err := prog.CheckNames(); err != nil {
		bad(ErrProgram, "%v", err)
		return cp
	}
	cp.prog = prog
	lim := map[string]Range{}
	if p.Program != "" {
		lim = limits[p.Program]
	}
	check := func(what, reg string, v int32, neuron int) {
		r, ok := lim[reg]
		if !ok || int64(v) >= r.Lo && int64(v) <= r.Hi {
			return
		}
		at := ""
		if neuron >= 0 {
			at = fmt.Sprintf(" (neuron %d)", neuron)
		}
		bad(ErrRange, "%s %s = %d%s outside [%d, %d] for program %s", what, reg, v, at, r.Lo, r.Hi, p.Program)
	}
	cp.consts = make([]int32, len(prog.Consts))
	for j, cn := range prog.Consts {
		v, ok := p.Consts[cn]
		if !ok {
			bad(ErrMissing, "const %s not given (program %s declares %s)", cn, progName(p, prog), list(prog.Consts))
			continue
		}
		check("const", cn, v, -1)
		cp.consts[j] = v
	}
	for _, k := range sortedKeys(p.Consts) {
		if prog.ConstIndex(k) < 0 {
			bad(ErrUnknown, "const %s: program %s has no such constant (it declares %s)", k, progName(p, prog), list(prog.Consts))
		}
	}
	perNeuron := func(what string, vals map[string]Values, names []string, index func(string) int) [][]int32 {
		var rows [][]int32
		for _, k := range sortedKeys(vals) {
			j := index(k)
			if j < 0 {
				bad(ErrUnknown, "%s %s: program %s has no such %s (it declares %s)", what, k, progName(p, prog), what, list(names))
				continue
			}
			v := vals[k]
			if v.Each != nil && len(v.Each) != p.Size {
				bad(ErrShape, "%s %s has %d values for %d neurons (give one for all, or one per neuron)", what, k, len(v.Each), p.Size)
				continue
			}
			if rows == nil {
				rows = make([][]int32, len(names))
			}
			if !sizeOK {
				continue
			}
			row := make([]int32, p.Size)
			if v.Uniform != nil {
				row = n.uniformRow(v.Uniform, fmt.Sprintf("population %s %s %s", p.Name, what, k), p.Size)
			} else {
				for m := range row {
					row[m] = v.At(m)
				}
			}
			if v.Uniform != nil {
				for _, r := range []int32{v.Uniform.Lo, v.Uniform.Hi} {
					check(what, k, r, -1)
				}
			} else if v.Each == nil {
				check(what, k, v.All, -1)
			} else {
				for m, x := range row {
					check(what, k, x, m)
				}
			}
			rows[j] = row
		}
		return rows
	}
	cp.params = perNeuron("param", p.Params, prog.Params, prog.ParamIndex)
	cp.state = perNeuron("state", p.State, prog.State, prog.StateIndex)
	if p.Program == "lif_reset" {
		iv, off := p.Consts["interval"], p.Consts["offset"]
		if iv >= 1 && off >= iv {
			bad(ErrRange, "const offset = %d must be below interval = %d (else the reset never happens)", off, iv)
		}
	}
	return cp
}

// MaxSourceSize bounds a neuron program's assembly source: a program has at most 64
// instructions, so a source file of more than this is not one (or is /dev/zero).
const MaxSourceSize = 1 << 20

// readSource reads an assembly file of at most MaxSourceSize bytes.
func readSource(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSourceSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSourceSize {
		return nil, fmt.Errorf("%s: more than %d bytes (a program has at most %d instructions)", quote(path), MaxSourceSize, isa.MaxInstrs)
	}
	return b, nil
}

func progName(p *Population, prog *isa.Program) string {
	if p.Program != "" {
		return p.Program
	}
	if prog.Name != "" {
		return prog.Name
	}
	return "(unnamed)"
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// weightRange is the range a sign mode allows.
func weightRange(m syn.SignMode) (lo, hi int32) {
	switch m {
	case syn.Excitatory:
		return 0, 255
	case syn.Inhibitory:
		return -255, 0
	}
	return -256, 255
}

func checkDense(x *Connection, cc cconn, toSize int, bad func(error, string, ...any)) {
	lo, hi := weightRange(cc.mode)
	m := x.Weights
	if m.Rows == nil {
		if m.All < lo || m.All > hi {
			bad(ErrRange, "weight %d outside [%d, %d] for %s", m.All, lo, hi, cc.mode)
		}
		return
	}
	if len(m.Rows) != toSize {
		bad(ErrShape, "weights have %d rows, want %d (one per neuron of %s, the target; each row one weight per source neuron)", len(m.Rows), toSize, quote(x.To))
		return
	}
	for r, row := range m.Rows {
		if len(row) != cc.fromSize {
			bad(ErrShape, "weights row %d has %d columns, want %d (one per neuron of %s, the source)", r, len(row), cc.fromSize, quote(x.From))
			return
		}
		for col, w := range row {
			if w < lo || w > hi {
				bad(ErrRange, "weight %d at [%d][%d] (post %d, pre %d) outside [%d, %d] for %s", w, r, col, r, col, lo, hi, cc.mode)
				return
			}
		}
	}
}

func checkSparse(x *Connection, cc cconn, toSize int, bad func(error, string, ...any)) {
	s := x.Sparse
	if len(s.Pre) != len(s.Post) {
		bad(ErrShape, "sparse: %d pre and %d post indices; want one of each per synapse", len(s.Pre), len(s.Post))
		return
	}
	if s.Weights.Each != nil && len(s.Weights.Each) != len(s.Pre) {
		bad(ErrShape, "sparse: %d weights for %d synapses (give one for all, or one per synapse)", len(s.Weights.Each), len(s.Pre))
		return
	}
	lo, hi := weightRange(cc.mode)
	if s.Weights.Uniform != nil {
		bad(ErrRange, "sparse weights: one weight for all, or one per synapse (uniform is for parameters and state)")
		return
	}
	keys := make([]uint64, len(s.Pre)) // pre·2^32 + post, to find a pair given twice by sorting
	for k := range s.Pre {
		pre, post := s.Pre[k], s.Post[k]
		switch {
		case pre < 0 || pre >= cc.fromSize:
			bad(ErrRange, "sparse synapse %d: pre %d outside [0, %d) (%s)", k, pre, cc.fromSize, quote(x.From))
			return
		case post < 0 || post >= toSize:
			bad(ErrRange, "sparse synapse %d: post %d outside [0, %d) (%s)", k, post, toSize, quote(x.To))
			return
		}
		keys[k] = uint64(pre)<<32 | uint64(post)
		if w := s.Weights.At(k); w < lo || w > hi {
			bad(ErrRange, "sparse synapse %d: weight %d outside [%d, %d] for %s", k, w, lo, hi, cc.mode)
			return
		}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] != sorted[i-1] {
			continue
		}
		first := slices.Index(keys, sorted[i])
		k := first + 1 + slices.Index(keys[first+1:], sorted[i])
		bad(ErrDuplicate, "sparse synapse %d: (pre %d, post %d) already given as synapse %d", k, s.Pre[k], s.Post[k], first)
		return
	}
}

// Fields lists what a probe of the network can record, as POPULATION:FIELD: each
// population's state registers, then a (the dendritic input) and spike. Populations whose
// program does not assemble are left out, and the error says why.
func (n *Network) Fields() ([]string, error) {
	var l errList
	progs := map[string]*isa.Program{}
	var out []string
	for i := range n.Populations {
		p := &n.Populations[i]
		cp := n.compilePop(p, i, progs, &l)
		if cp.prog == nil {
			continue
		}
		for _, f := range append(append([]string{}, cp.prog.State...), chip.NameInput, chip.NameSpike) {
			out = append(out, p.Name+":"+f)
		}
	}
	return out, l.err()
}
