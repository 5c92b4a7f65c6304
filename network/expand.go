package network

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
)

// MaxRuleSynapses bounds the synapses a rule or a file may make in one connection (64 Mi:
// already more than the 1 GiB image format holds as sparse synapses), and MaxRulePairs the
// (source, target) pairs fixed_probability looks at (4 Gi: seconds of drawing); larger
// connections are refused before anything is drawn or read.
const (
	MaxRuleSynapses = 1 << 26
	MaxRulePairs    = 1 << 32
)

// seedOf is a part's own seed, else the network's.
func (n *Network) seedOf(own *uint64) uint64 {
	if own != nil {
		return *own
	}
	return n.Seed
}

// expandRule returns the synapses of a connection given by a rule: dense (all_to_all that
// may connect every pair, or an .npy file) or sparse. ok is false when it reported a problem.
func (n *Network) expandRule(x *Connection, cc *cconn, bad func(error, string, ...any)) (dense *Matrix, sparse *Sparse, ok bool) {
	r := x.Rule
	from, to := cc.fromSize, cc.toSize
	self := !cc.fromInput && cc.from == cc.to
	allowSelf := r.AllowSelf == nil || *r.AllowSelf
	noSelf := self && !allowSelf
	if r.Kind != FromFile {
		switch {
		case x.Weights == nil:
			bad(ErrMissing, "rule %s needs weights: W, the weight of every synapse it makes", r.Kind)
			return nil, nil, false
		case x.Weights.Rows != nil:
			bad(ErrShape, "rule %s takes one weight for every synapse (weights: W), not a matrix", r.Kind)
			return nil, nil, false
		}
		if r.File != "" {
			bad(ErrRange, "rule %s takes no file (kind: file does)", r.Kind)
			return nil, nil, false
		}
	}
	w := Values{}
	if x.Weights != nil {
		w = All(x.Weights.All)
	}
	st := newStream(n.seedOf(r.Seed), "connection "+cc.name)
	tooMany := func(count float64, what string) bool {
		if count > MaxRuleSynapses {
			bad(ErrTooLarge, "rule %s would make %s synapses, at most %d in one connection", r.Kind, what, MaxRuleSynapses)
			return true
		}
		return false
	}
	if r.Kind != FixedProbability && r.P != 0 {
		bad(ErrRange, "p is for fixed_probability, not %s", r.Kind)
		return nil, nil, false
	}
	if r.Kind != FixedInDegree && r.InDegree != 0 {
		bad(ErrRange, "in_degree is for fixed_in_degree, not %s", r.Kind)
		return nil, nil, false
	}
	switch r.Kind {
	case AllToAll:
		if !noSelf {
			return Fill(w.All), nil, true
		}
		if tooMany(float64(from)*float64(to-1), fmt.Sprint(int64(from)*int64(to-1))) {
			return nil, nil, false
		}
		sp := &Sparse{Weights: w}
		for post := range to {
			for pre := range from {
				if pre != post {
					sp.Pre, sp.Post = append(sp.Pre, pre), append(sp.Post, post)
				}
			}
		}
		return nil, sp, true
	case OneToOne:
		if from != to {
			bad(ErrShape, "rule one_to_one joins neuron i to neuron i: the source has %d neurons, the target %d", from, to)
			return nil, nil, false
		}
		sp := &Sparse{Pre: make([]int, from), Post: make([]int, from), Weights: w}
		for i := range from {
			sp.Pre[i], sp.Post[i] = i, i
		}
		return nil, sp, true
	case FixedProbability:
		if !(r.P >= 0 && r.P <= 1) {
			bad(ErrRange, "rule fixed_probability: p = %v outside [0, 1]", r.P)
			return nil, nil, false
		}
		pairs := uint64(from) * uint64(to)
		if pairs > MaxRulePairs {
			bad(ErrTooLarge, "rule fixed_probability looks at every pair, and %d×%d = %d pairs are more than %d; use fixed_in_degree", to, from, pairs, uint64(MaxRulePairs))
			return nil, nil, false
		}
		if tooMany(r.P*float64(pairs), fmt.Sprintf("about %.0f", r.P*float64(pairs))) {
			return nil, nil, false
		}
		th := threshold(r.P)
		sp := &Sparse{Weights: w}
		for post := range to {
			base := uint64(post) * uint64(from)
			for pre := range from {
				if st.hit(base+uint64(pre), th) && !(noSelf && pre == post) {
					sp.Pre, sp.Post = append(sp.Pre, pre), append(sp.Post, post)
				}
			}
		}
		return nil, sp, true
	case FixedInDegree:
		avail := from
		if noSelf {
			avail--
		}
		k := r.InDegree
		if k < 0 || k > avail {
			bad(ErrRange, "rule fixed_in_degree: in_degree %d outside [0, %d] (distinct sources per target)", k, avail)
			return nil, nil, false
		}
		if tooMany(float64(k)*float64(to), fmt.Sprint(int64(k)*int64(to))) {
			return nil, nil, false
		}
		sp := &Sparse{Pre: make([]int, 0, k*to), Post: make([]int, 0, k*to), Weights: w}
		chosen := map[uint64]bool{}
		picks := make([]int, 0, k)
		for post := range to {
			// Floyd's algorithm: k distinct values of [0, avail) in k draws.
			q := seq{s: st.sub(uint64(post))}
			clear(chosen)
			picks = picks[:0]
			for j := uint64(avail - k); j < uint64(avail); j++ {
				v := q.below(j + 1)
				if chosen[v] {
					v = j
				}
				chosen[v] = true
				pre := int(v)
				if noSelf && pre >= post {
					pre++
				}
				picks = append(picks, pre)
			}
			slices.Sort(picks)
			for _, pre := range picks {
				sp.Pre, sp.Post = append(sp.Pre, pre), append(sp.Post, post)
			}
		}
		return nil, sp, true
	case FromFile:
		if r.File == "" {
			bad(ErrMissing, "rule file needs file: PATH (.npy or .npz)")
			return nil, nil, false
		}
		if x.Weights != nil && x.Weights.Rows != nil {
			bad(ErrShape, "rule file takes its weights from the file, or one weight for all (weights: W)")
			return nil, nil, false
		}
		path := r.File
		if !filepath.IsAbs(path) && n.Dir != "" {
			path = filepath.Join(n.Dir, path)
		}
		var err error
		switch strings.ToLower(filepath.Ext(path)) {
		case ".npy":
			dense, err = readDense(path, to, from)
		case ".npz":
			sparse, err = readSparse(path, from, to, x.Weights)
		default:
			err = fmt.Errorf("%s: want an .npy (dense weights [target][source]) or .npz (pre, post, weights)", quote(r.File))
		}
		if err != nil {
			bad(ErrRange, "rule file: %v", err)
			return nil, nil, false
		}
		return dense, sparse, true
	}
	bad(ErrRange, "rule kind %s: want one of %s", quote(r.Kind), strings.Join(RuleKinds, ", "))
	return nil, nil, false
}

// checkSource validates an input port's spike source.
func checkSource(s *Source, bad func(error, string, ...any)) {
	switch s.Kind {
	case Poisson:
		if !(s.Rate > 0 && s.Rate <= 1) {
			bad(ErrRange, "source poisson: rate %v outside (0, 1] (spikes per neuron per step)", s.Rate)
		}
		if s.Interval != 0 {
			bad(ErrRange, "source poisson takes a rate, not an interval")
		}
	case Regular:
		if s.Interval < 1 {
			bad(ErrRange, "source regular: interval %d, want at least 1 step", s.Interval)
		}
		if s.Rate != 0 {
			bad(ErrRange, "source regular takes an interval, not a rate")
		}
	default:
		bad(ErrRange, "source kind %s: want poisson or regular", quote(s.Kind))
	}
	if s.Start < 0 || s.Stop < 0 || s.Stop > 0 && s.Stop < max(1, s.Start) {
		bad(ErrRange, "source: steps [%d, %d]: want 1 ≤ start ≤ stop (stop 0: the run's last)", s.Start, s.Stop)
	}
}

// Generator makes the spikes of an input port's source (see Source).
type Generator struct {
	Port string
	Size int
	src  Source
	st   stream
	th   uint64
}

// Generators validates the network and returns the generators of its input ports that have a
// source, in port order.
func (n *Network) Generators() ([]*Generator, error) {
	if _, err := n.compile(); err != nil {
		return nil, err
	}
	var out []*Generator
	for _, in := range n.Inputs {
		if in.Source == nil {
			continue
		}
		g := &Generator{Port: in.Name, Size: in.Size, src: *in.Source, st: newStream(n.seedOf(in.Source.Seed), "input "+in.Name)}
		if g.src.Start == 0 {
			g.src.Start = 1
		}
		if g.src.Payload == 0 {
			g.src.Payload = 1
		}
		g.th = threshold(g.src.Rate)
		out = append(out, g)
	}
	return out, nil
}

// Spikes calls emit for every spike of steps [lo, hi], in step then neuron order. A step's
// spikes depend on the step alone, so any split of a run into chunks gives the same spikes.
// Poisson: neuron i spikes in step t when draw (t−1)·Size + i of the port's stream is a hit.
func (g *Generator) Spikes(lo, hi int, emit func(step, neuron int, payload int32)) {
	lo = max(lo, g.src.Start)
	if g.src.Stop > 0 {
		hi = min(hi, g.src.Stop)
	}
	for t := lo; t <= hi; t++ {
		switch g.src.Kind {
		case Poisson:
			base := uint64(t-1) * uint64(g.Size)
			for i := range g.Size {
				if g.st.hit(base+uint64(i), g.th) {
					emit(t, i, g.src.Payload)
				}
			}
		case Regular:
			if (t-g.src.Start)%g.src.Interval == 0 {
				for i := range g.Size {
					emit(t, i, g.src.Payload)
				}
			}
		}
	}
}

// Expected returns the expected number of spikes of steps [1, steps], to size what a run
// would hold before generating it.
func (g *Generator) Expected(steps int) float64 {
	hi := steps
	if g.src.Stop > 0 {
		hi = min(hi, g.src.Stop)
	}
	n := float64(max(0, hi-g.src.Start+1))
	if g.src.Kind == Regular {
		n = math.Ceil(n / float64(g.src.Interval))
		return n * float64(g.Size)
	}
	return n * float64(g.Size) * g.src.Rate
}

// uniformRow draws a population's values of a Uniform generator: neuron i gets Lo plus an
// integer uniform in [0, Hi−Lo] from sub-stream i of the stream labelled by what.
func (n *Network) uniformRow(u *Uniform, label string, size int) []int32 {
	st := newStream(n.seedOf(u.Seed), label)
	m := uint64(int64(u.Hi)-int64(u.Lo)) + 1
	row := make([]int32, size)
	for i := range row {
		q := seq{s: st.sub(uint64(i))}
		row[i] = int32(int64(u.Lo) + int64(q.below(m)))
	}
	return row
}

// PortName is the input port the generator feeds (run.Source).
func (g *Generator) PortName() string { return g.Port }
