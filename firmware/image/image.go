package image

import (
	"errors"
	"fmt"
	"github.com/lrchip/lrchip/chip"
	"unicode"
	"unicode/utf8"

	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/syn"
)

// Format constants. The chip limits an image is checked against are package chip's.
const (
	Magic      = "LRNI"
	Version    = 1
	MaxNameLen = 255
)

// Errors. Decode wraps ErrFormat (a malformed image), ErrVersion (a version this package does
// not read), ErrChecksum (a SHA-256 mismatch), ErrInvalid (a well-formed image whose content
// breaks a rule of Validate) or ErrTooLarge (more than MaxImageSize bytes). Validate and
// Encode wrap ErrInvalid; Encode wraps ErrTooLarge for an image above MaxImageSize.
var (
	ErrFormat   = errors.New("malformed network image")
	ErrVersion  = errors.New("unsupported network image version")
	ErrChecksum = errors.New("network image checksum mismatch")
	ErrInvalid  = errors.New("invalid network image")
	ErrTooLarge = errors.New("network image too large")
)

// Image is a network placed on a chip: what the driver loads onto a board. Its encoding is
// described in the package documentation.
type Image struct {
	Name    string       // the network's name (may be empty)
	Size    chip.Size    // the smallest chip it runs on
	Cores   []Core       // the cores it uses, by ascending Index
	Inputs  []Input      // input ports; a connection's Src indexes this for FromInput
	Conns   []Conn       // connections, each occupying one accumulator bank of its Dst core
	Pops    []Population // where each population's neurons are: the names probes use
	Outputs []Output     // output ports

	// SHA256 is the checksum Decode found (and checked) at the end of the encoding. Encode
	// ignores it and computes its own.
	SHA256 [32]byte
}

// Core is the configuration of one neuron core: the emu.CoreConfig of core Index.
type Core struct {
	Index   int
	Program *isa.Program
	Neurons int
	Consts  []int32   // one per constant of the program
	Params  [][]int32 // [param][neuron]; nil (or a nil row) means zeros
	State   [][]int32 // [state register][neuron], the initial state; nil means zeros
}

// Input is an input port: Size virtual source neurons the host injects spikes into.
type Input struct {
	Name string
	Size int
}

// SourceKind says where a connection's spikes come from.
type SourceKind uint8

// Source kinds, with their encodings.
const (
	FromCore  SourceKind = 0 // neurons of a core
	FromInput SourceKind = 1 // an input port
)

func (k SourceKind) String() string {
	switch k {
	case FromCore:
		return "core"
	case FromInput:
		return "input"
	}
	return fmt.Sprintf("SourceKind(%d)", uint8(k))
}

// Conn is one connection: a block of synapses from source neurons [SrcStart, SrcStart+SrcCount)
// of a core or input port to neurons [DstStart, DstStart+DstCount) of core Dst, as
// emu.Connection. Weights are effective weights, as the chip stores them: syn.Effective of
// each is itself.
type Conn struct {
	Name     string // the network connection this block comes from (for messages and tools)
	Kind     SourceKind
	Src      int // core index (FromCore) or index into Inputs (FromInput)
	SrcStart int
	SrcCount int
	Dst      int // core index
	DstStart int
	DstCount int
	// Dense (Index nil): Weights is [src][dst], SrcCount×DstCount. Sparse: source i has
	// synapses k in [Index[i], Index[i+1]) onto DstStart+Targets[k] with weight Weights[k].
	Weights    []int32
	Index      []int32
	Targets    []int32
	SignMode   syn.SignMode
	WeightBits int
	WeightExp  int
	Graded     bool
}

// Sparse reports whether c is a sparse connection.
func (c *Conn) Sparse() bool { return c.Index != nil }

// Synapses is the number of synapses of c.
func (c *Conn) Synapses() int { return len(c.Weights) }

// Segment is a run of neurons of one core: [Start, Start+Count).
type Segment struct {
	Core  int
	Start int
	Count int
}

// Population names a set of neurons: neuron i of the population is the i-th neuron met when
// walking its segments in order. Probes and output ports refer to populations.
type Population struct {
	Name     string
	Size     int
	Segments []Segment
}

// Output is an output port: neurons [Start, Start+Count) of population Pop; neuron j of the
// port is neuron Start+j of the population.
type Output struct {
	Name  string
	Pop   int // index into Pops
	Start int
	Count int
}

// Block is the part of an output port that lies on one core: neurons [Start, Start+Count) of
// Core are neurons [Offset, Offset+Count) of the port. A chip output port is one block.
type Block struct {
	Core   int
	Start  int
	Count  int
	Offset int
}

// OutputBlocks returns the blocks of output port i, in port order. The image must be valid.
func (img *Image) OutputBlocks(i int) []Block {
	o := img.Outputs[i]
	return segmentsOf(img.Pops[o.Pop].Segments, o.Start, o.Count)
}

// Locate returns the blocks holding neurons [start, start+count) of population p, in order;
// Offset counts from start. The image must be valid and the range within the population.
func (img *Image) Locate(p, start, count int) []Block {
	return segmentsOf(img.Pops[p].Segments, start, count)
}

func segmentsOf(segs []Segment, start, count int) []Block {
	var out []Block
	pos := 0 // population index of the segment's first neuron
	for _, s := range segs {
		lo, hi := max(start, pos), min(start+count, pos+s.Count)
		if lo < hi {
			out = append(out, Block{Core: s.Core, Start: s.Start + lo - pos, Count: hi - lo, Offset: lo - start})
		}
		pos += s.Count
	}
	return out
}

// Pop returns the index of the population named name, or -1.
func (img *Image) Pop(name string) int {
	for i, p := range img.Pops {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// Core returns the core with the given index, or nil.
func (img *Image) Core(index int) *Core {
	for i := range img.Cores {
		if img.Cores[i].Index == index {
			return &img.Cores[i]
		}
	}
	return nil
}

// Input returns the index of the input port named name, or -1.
func (img *Image) Input(name string) int {
	for i, in := range img.Inputs {
		if in.Name == name {
			return i
		}
	}
	return -1
}

// Output returns the index of the output port named name, or -1.
func (img *Image) Output(name string) int {
	for i, o := range img.Outputs {
		if o.Name == name {
			return i
		}
	}
	return -1
}

// FieldError is a Validate error about one record of an image.
type FieldError struct {
	Section string // "header", "cores", "inputs", "conns", "pops", "outputs"
	Record  int    // index within the section (-1 for the header)
	Name    string // the record's name, where it has one
	Msg     string
	Offset  int // byte offset of the record in the encoding, where known (Decode), else -1
}

func (e *FieldError) Error() string {
	where := e.Section
	if e.Record >= 0 {
		where = fmt.Sprintf("%s[%d]", e.Section, e.Record)
		if e.Name != "" {
			where += fmt.Sprintf(" %q", e.Name)
		}
	}
	if e.Offset >= 0 {
		where = fmt.Sprintf("offset %d (%s)", e.Offset, where)
	}
	return where + ": " + e.Msg
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// validName: 1..MaxNameLen bytes of UTF-8 without control characters or spaces.
func validName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("name is %d bytes, limit %d", len(s), MaxNameLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("name %q is not UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("name %q contains a space or control character", s)
		}
	}
	return nil
}

// Validate checks everything a chip relies on: the size is within the full design's limits
// and every core fits it; core indices ascend; each program passes isa's Validate and
// CheckNames and gets its constants, parameters and state in the right shapes; every
// connection's source and destination exist and its ranges lie within them, its weights are
// effective weights for its sign mode and precision, its sparse index is well formed, and no
// core has more than chip.MaxBanksPerCore incoming connections with a negative weight exponent;
// population segments lie on cores,
// do not overlap and add up to the population; names are present and unique within their
// section; output ports lie within their population. Errors are *FieldError (wrapping
// ErrInvalid), joined.
func (img *Image) Validate() error { return img.validate(nil) }

// validate is Validate; offs, when non-nil, gives each record's offset for the messages.
func (img *Image) validate(offs map[string][]int) error {
	var errs []error
	add := func(sect string, rec int, name, f string, a ...any) {
		if len(errs) >= 20 {
			return
		}
		off := -1
		if offs != nil {
			if o := offs[sect]; rec >= 0 && rec < len(o) {
				off = o[rec]
			} else if rec < 0 {
				off = 0
			}
		}
		errs = append(errs, &FieldError{Section: sect, Record: rec, Name: name, Msg: fmt.Sprintf(f, a...), Offset: off})
	}
	s := img.Size
	if s.Check() != nil {
		add("header", -1, "", "chip size %s outside [1×1, %s]", s, chip.Full)
		return errors.Join(errs...) // everything below is measured against it
	}
	if img.Name != "" {
		if err := validName(img.Name); err != nil {
			add("header", -1, "", "network name: %v", err)
		}
	}
	cores := map[int]*Core{}
	for i := range img.Cores {
		c := &img.Cores[i]
		name := ""
		if c.Program != nil {
			name = c.Program.Name
		}
		bad := func(f string, a ...any) { add("cores", i, name, f, a...) }
		if c.Index < 0 || c.Index >= s.Cores {
			bad("core index %d outside the chip's %d cores", c.Index, s.Cores)
			continue
		}
		if i > 0 && c.Index <= img.Cores[i-1].Index {
			bad("core index %d does not ascend (previous %d)", c.Index, img.Cores[i-1].Index)
			continue
		}
		if c.Neurons < 1 || c.Neurons > s.NeuronsPerCore {
			bad("core %d: %d neurons outside [1, %d]", c.Index, c.Neurons, s.NeuronsPerCore)
			continue
		}
		if c.Program == nil {
			bad("core %d: no program", c.Index)
			continue
		}
		if err := c.Program.Validate(); err != nil {
			bad("core %d: %v", c.Index, err)
			continue
		}
		if err := c.Program.CheckNames(); err != nil {
			bad("core %d: %v", c.Index, err)
			continue
		}
		p := c.Program
		if len(c.Consts) != len(p.Consts) {
			bad("core %d: program declares %d constants, %d given", c.Index, len(p.Consts), len(c.Consts))
			continue
		}
		if msg := checkRows("parameter", p.Params, c.Params, c.Neurons); msg != "" {
			bad("core %d: %s", c.Index, msg)
			continue
		}
		if msg := checkRows("state", p.State, c.State, c.Neurons); msg != "" {
			bad("core %d: %s", c.Index, msg)
			continue
		}
		cores[c.Index] = c
	}
	inputs := map[string]bool{}
	for i, in := range img.Inputs {
		if err := validName(in.Name); err != nil {
			add("inputs", i, "", "%v", err)
		} else if inputs[in.Name] {
			add("inputs", i, in.Name, "duplicate name")
		}
		inputs[in.Name] = true
		if in.Size < 1 || in.Size > s.NeuronsPerCore {
			add("inputs", i, in.Name, "%d neurons outside [1, %d]", in.Size, s.NeuronsPerCore)
		}
	}
	banks := map[int]int{}
	for i := range img.Conns {
		c := &img.Conns[i]
		if msg := checkConn(c, cores, img.Inputs); msg != "" {
			add("conns", i, c.Name, "%s", msg)
			continue
		}
		if c.WeightExp >= 0 {
			continue // adds straight into the dendritic input: no bank
		}
		banks[c.Dst]++
		if banks[c.Dst] == chip.MaxBanksPerCore+1 {
			add("conns", i, c.Name, "core %d has more than %d incoming connections with a negative weight exponent (accumulator banks)", c.Dst, chip.MaxBanksPerCore)
		}
	}
	used := map[int][]Segment{} // per core, the segments claimed so far
	pops := map[string]bool{}
	for i, p := range img.Pops {
		if err := validName(p.Name); err != nil {
			add("pops", i, "", "%v", err)
		} else if pops[p.Name] {
			add("pops", i, p.Name, "duplicate name")
		}
		pops[p.Name] = true
		total := 0
		for j, sg := range p.Segments {
			k := cores[sg.Core]
			switch {
			case k == nil:
				add("pops", i, p.Name, "segment %d: no core %d in the image", j, sg.Core)
				continue
			case sg.Count < 1 || sg.Start < 0 || sg.Start+sg.Count > k.Neurons:
				add("pops", i, p.Name, "segment %d: neurons [%d, %d) outside core %d's %d", j, sg.Start, sg.Start+sg.Count, sg.Core, k.Neurons)
				continue
			}
			for _, u := range used[sg.Core] {
				if sg.Start < u.Start+u.Count && u.Start < sg.Start+sg.Count {
					add("pops", i, p.Name, "segment %d: neurons [%d, %d) of core %d already belong to a population", j, sg.Start, sg.Start+sg.Count, sg.Core)
					break
				}
			}
			used[sg.Core] = append(used[sg.Core], sg)
			total += sg.Count
		}
		if total != p.Size || p.Size < 1 {
			add("pops", i, p.Name, "size %d, but its segments hold %d neurons", p.Size, total)
		}
	}
	outs := map[string]bool{}
	for i, o := range img.Outputs {
		if err := validName(o.Name); err != nil {
			add("outputs", i, "", "%v", err)
		} else if outs[o.Name] {
			add("outputs", i, o.Name, "duplicate name")
		}
		outs[o.Name] = true
		if o.Pop < 0 || o.Pop >= len(img.Pops) {
			add("outputs", i, o.Name, "population %d: image has %d", o.Pop, len(img.Pops))
			continue
		}
		if n := img.Pops[o.Pop].Size; o.Count < 1 || o.Start < 0 || o.Start+o.Count > n {
			add("outputs", i, o.Name, "neurons [%d, %d) outside population %q of %d", o.Start, o.Start+o.Count, img.Pops[o.Pop].Name, n)
		}
	}
	return errors.Join(errs...)
}

func checkRows(what string, names []string, rows [][]int32, n int) string {
	if rows == nil {
		return ""
	}
	if len(rows) != len(names) {
		return fmt.Sprintf("%d %s rows, program declares %d", len(rows), what, len(names))
	}
	for i, r := range rows {
		if r != nil && len(r) != n {
			return fmt.Sprintf("%s %q has %d values for %d neurons", what, names[i], len(r), n)
		}
	}
	return ""
}

func checkConn(c *Conn, cores map[int]*Core, inputs []Input) string {
	if c.Name != "" {
		if err := validName(c.Name); err != nil {
			return err.Error()
		}
	}
	dst := cores[c.Dst]
	if dst == nil {
		return fmt.Sprintf("destination core %d is not in the image", c.Dst)
	}
	if c.DstCount < 1 || c.DstStart < 0 || c.DstStart+c.DstCount > dst.Neurons {
		return fmt.Sprintf("destination neurons [%d, %d) outside core %d's %d", c.DstStart, c.DstStart+c.DstCount, c.Dst, dst.Neurons)
	}
	var srcN int
	switch c.Kind {
	case FromCore:
		k := cores[c.Src]
		if k == nil {
			return fmt.Sprintf("source core %d is not in the image", c.Src)
		}
		srcN = k.Neurons
	case FromInput:
		if c.Src < 0 || c.Src >= len(inputs) {
			return fmt.Sprintf("source input port %d: image has %d", c.Src, len(inputs))
		}
		srcN = inputs[c.Src].Size
	default:
		return fmt.Sprintf("source kind %d", c.Kind)
	}
	if c.SrcCount < 1 || c.SrcStart < 0 || c.SrcStart+c.SrcCount > srcN {
		return fmt.Sprintf("source neurons [%d, %d) outside the source's %d", c.SrcStart, c.SrcStart+c.SrcCount, srcN)
	}
	if !c.SignMode.Valid() {
		return fmt.Sprintf("sign mode %d", c.SignMode)
	}
	if err := syn.CheckWeightBits(c.WeightBits); err != nil {
		return err.Error()
	}
	if err := syn.CheckExp(c.WeightExp); err != nil {
		return err.Error()
	}
	if c.Index == nil {
		if c.Targets != nil {
			return "dense connection with sparse targets"
		}
		if len(c.Weights) != c.SrcCount*c.DstCount {
			return fmt.Sprintf("%d weights for %d×%d dense synapses", len(c.Weights), c.SrcCount, c.DstCount)
		}
	} else {
		if len(c.Index) != c.SrcCount+1 {
			return fmt.Sprintf("sparse index has %d offsets, want %d", len(c.Index), c.SrcCount+1)
		}
		if len(c.Targets) != len(c.Weights) {
			return fmt.Sprintf("%d sparse targets for %d weights", len(c.Targets), len(c.Weights))
		}
		if c.Index[0] != 0 || int(c.Index[c.SrcCount]) != len(c.Weights) {
			return fmt.Sprintf("sparse index runs from %d to %d, want 0 to %d", c.Index[0], c.Index[c.SrcCount], len(c.Weights))
		}
		for i := range c.SrcCount {
			if c.Index[i+1] < c.Index[i] {
				return fmt.Sprintf("sparse index decreases at source %d", i)
			}
		}
		for k, t := range c.Targets {
			if t < 0 || int(t) >= c.DstCount {
				return fmt.Sprintf("synapse %d targets neuron %d outside [0, %d)", k, t, c.DstCount)
			}
		}
	}
	for k, w := range c.Weights {
		if e := syn.Effective(w, c.SignMode, c.WeightBits); e != w {
			return fmt.Sprintf("weight %d (synapse %d) is not an effective %s weight of %d bits (it would load as %d)", w, k, c.SignMode, c.WeightBits, e)
		}
	}
	return ""
}
