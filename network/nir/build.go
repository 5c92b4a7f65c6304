package nir

import (
	"fmt"
	"math"
	"strings"

	"github.com/lrchip/lrchip/network"
)

// build assembles the network: input ports, a population per neuron node (and relay
// populations for delays, readout populations for outputs of weighted sums), a connection
// per pair of spike source and population, and output ports.
func (c *converter) build() error {
	nodes := c.f.nodes
	total := 0
	for id, n := range nodes {
		switch n.kind {
		case kInput:
			c.inputPorts(id)
		case kNeuron:
			m, err := c.model(n)
			if err != nil {
				return err
			}
			c.models[id] = m
			c.popName[id] = c.unique(n.name)
			total += m.n
		case kDelay:
			d, err := c.delay(id)
			if err != nil {
				return err
			}
			for k := 1; k <= d.steps; k++ {
				d.relays = append(d.relays, c.unique(fmt.Sprintf("%s.delay%d", n.name, k)))
				total += size(n.out)
			}
		}
		if total > c.lim.Neurons {
			return nodeErr(n.name, ErrLimit, "the network has more than %d neurons", c.lim.Neurons)
		}
	}
	for id, n := range nodes {
		var err error
		switch n.kind {
		case kNeuron:
			err = c.neuronPop(id)
		case kDelay:
			err = c.delayPops(id)
		case kOutput:
			err = c.output1(id)
		}
		if err != nil {
			return err
		}
		if c.err != nil {
			return c.err
		}
	}
	if len(c.net.Populations) == 0 {
		return fmt.Errorf("nir: %w: the graph has no neuron nodes: nothing runs on the chip", ErrUnsupported)
	}
	c.rep.note("timing: every connection delays spikes by one step, as Lava's Dense does; NIR's linear nodes are instantaneous, so a spike crossing k populations arrives k steps after it left, and an input spike sent for step s reaches the first population in step s+1")
	return nil
}

func (c *converter) inputPorts(id int) {
	n := c.f.nodes[id]
	sz := size(n.out)
	base := c.unique(n.name)
	pm := PortMap{Node: n.name, Shape: n.out}
	if c.o.PortNeurons == 0 || sz <= c.o.PortNeurons {
		c.inPorts[id] = []port{{base, 0, sz}}
	} else {
		for lo, k := 0, 0; lo < sz; lo, k = lo+c.o.PortNeurons, k+1 {
			name := base + fmt.Sprintf(".%d", k)
			c.used[name] = true
			c.inPorts[id] = append(c.inPorts[id], port{name, lo, min(sz, lo+c.o.PortNeurons)})
		}
	}
	for _, p := range c.inPorts[id] {
		c.net.Inputs = append(c.net.Inputs, network.Input{Name: p.name, Size: p.hi - p.lo})
		pm.Ports = append(pm.Ports, PortRange{Port: p.name, First: p.lo, Count: p.hi - p.lo})
	}
	c.rep.Inputs = append(c.rep.Inputs, pm)
}

// neuronPop adds a neuron node's population and the connections into it.
func (c *converter) neuronPop(id int) error {
	n, m := c.f.nodes[id], c.models[id]
	sig, err := c.input(id)
	if err != nil {
		return err
	}
	if sig.bias != nil {
		if !finite(sig.bias) {
			return nodeErr(n.name, ErrNumerics, "a bias into it is not a finite number")
		}
		m.addConstant(sig.bias)
	}
	pop, layer, err := c.population(c.popName[id], m)
	if err != nil {
		return err
	}
	c.net.Populations = append(c.net.Populations, pop)
	c.rep.Layers = append(c.rep.Layers, layer)
	return c.connect(c.popName[id], n.name, sig, m.gain)
}

// connect adds one connection per spike source of sig into population to; gain scales each
// target's weights (wScale·gain·W is the mantissa before the exponent).
func (c *converter) connect(to, toNode string, sig *signal, gain []float64) error {
	for _, s := range sortedKeys(sig.terms) {
		m, src := sig.terms[s], c.f.nodes[s]
		switch src.kind {
		case kInput:
			for _, p := range c.inPorts[s] {
				if err := c.conn(p.name, to, toNode, colSlice(m, p.lo, p.hi), gain); err != nil {
					return err
				}
			}
		case kNeuron:
			if !c.models[s].spiking {
				return nodeErr(toNode, ErrUnsupported, "its input comes from %q, a %s, whose output is a voltage, not spikes; the chip carries spikes between populations", src.name, src.typ())
			}
			if err := c.conn(c.popName[s], to, toNode, m, gain); err != nil {
				return err
			}
		case kDelay:
			d := c.delays[s]
			if err := c.conn(d.relays[len(d.relays)-1], to, toNode, m, gain); err != nil {
				return err
			}
		default:
			return nodeErr(toNode, ErrGraph, "input from %q, which is not a spike source", src.name)
		}
	}
	return nil
}

// conn quantizes one connection and adds it, dense or sparse by how full it is.
func (c *converter) conn(from, to, toNode string, m *csr, gain []float64) error {
	q, err := quantize(m, gain, toNode)
	if err != nil {
		return err
	}
	rc := Conn{From: from, To: to, SignMode: q.mode.String(), WeightExp: q.exp, Synapses: q.nnz, Zeroed: q.zeroed,
		MaxWeight: q.maxW, ErrAbs: q.errAbs, ErrRel: q.errRel}
	if q.allZero {
		if q.zeroed > 0 {
			c.rep.note("%s->%s: all %d weights truncate to 0 on the chip; the connection is left out", from, to, q.zeroed)
		}
		return nil
	}
	c.syn += q.nnz
	if c.syn > c.lim.Synapses {
		return nodeErr(toNode, ErrLimit, "the network has more than %d synapses", c.lim.Synapses)
	}
	rows, cols := len(m.rows), m.ncols
	x := network.Connection{From: from, To: to, SignMode: q.mode.String(), WeightExp: q.exp}
	if rows*cols <= 1<<16 && 4*q.nnz >= rows*cols {
		w := make([][]int32, rows)
		for r := range w {
			w[r] = make([]int32, cols)
			for _, e := range q.mant[r] {
				w[r][e.col] = e.m
			}
		}
		x.Weights = network.Rows(w)
		rc.Dense = true
	} else {
		sp := &network.Sparse{}
		var ws []int32
		same := true
		for r, row := range q.mant {
			for _, e := range row {
				sp.Pre = append(sp.Pre, int(e.col))
				sp.Post = append(sp.Post, r)
				ws = append(ws, e.m)
				same = same && e.m == ws[0]
			}
		}
		if same {
			sp.Weights = network.All(ws[0])
		} else {
			sp.Weights = network.Each(ws...)
		}
		x.Sparse = sp
	}
	c.net.Connections = append(c.net.Connections, x)
	c.rep.Conns = append(c.rep.Conns, rc)
	return nil
}

// colSlice returns columns [lo, hi) of m, renumbered from 0.
func colSlice(m *csr, lo, hi int) *csr {
	if lo == 0 && hi == m.ncols {
		return m
	}
	out := &csr{rows: make([][]entry, len(m.rows)), ncols: hi - lo}
	for r, row := range m.rows {
		for _, e := range row {
			if int(e.col) >= lo && int(e.col) < hi {
				out.rows[r] = append(out.rows[r], entry{e.col - int32(lo), e.w})
			}
		}
	}
	return out
}

// population writes a neuron model as a population: Lava's standard lif where it expresses
// the node exactly (reset to zero, one du, dv and vth for all, no constant input into the
// current), else a generated program (program.go).
func (c *converter) population(name string, m *neuron) (network.Population, Layer, error) {
	n := m.f
	pop := network.Population{Name: name, Size: m.n, Consts: map[string]int32{}, Params: map[string]network.Values{}}
	layer := Layer{Node: n.name, Type: n.typ(), Population: name, Size: m.n, DecayErr: m.decayErr,
		VthErr: m.vthErr, VthMax: m.vthMax, Spiking: m.spiking, ResetErr: m.resetErr}
	if m.spiking && !m.threshold {
		layer.Reset = m.reset.String() + " (" + m.resetWhy + ")"
	}
	layer.Du, layer.Dv, layer.Vth = span(m.du), span(m.dv), span(m.vth)
	put := func(key string, v []int32, per bool) {
		if per {
			pop.Params[key] = network.Each(v...)
		} else {
			pop.Consts[key] = v[0]
		}
	}
	if m.spiking && !m.threshold && m.reset == resetZero && uniform(m.du) && uniform(m.dv) && uniform(m.vth) && allZero(m.ubias) {
		mant, exp := make([]int32, m.n), make([]int32, m.n)
		for i, b := range m.vbias {
			mt, e, ok := biasMantExp(b)
			if !ok {
				return pop, layer, nodeErr(n.name, ErrNumerics, "bias %g per step (v_leak or input bias) is beyond Lava's bias_mant·2^bias_exp (±4095·2^7 at 2^14 per unit)", b/vScale)
			}
			mant[i], exp[i] = mt, e
			layer.BiasErr = max(layer.BiasErr, math.Abs(b-float64(mt)*float64(int(1)<<e))/vScale)
		}
		pop.Program = "lif"
		pop.Consts = map[string]int32{"du": m.du[0], "dv": m.dv[0], "vth": m.vth[0]}
		if !allZero32(mant) { // parameters of lif, one value for all or one per neuron
			for key, v := range map[string][]int32{"bias_mant": mant, "bias_exp": exp} {
				if uniform(v) {
					pop.Params[key] = network.All(v[0])
				} else {
					pop.Params[key] = network.Each(v...)
				}
			}
		}
		layer.Program, layer.LavaExact = "lif", true
		clean(&pop)
		return pop, layer, nil
	}
	if m.spiking && !m.threshold { // say why Lava's LIF does not express it
		var why []string
		if m.reset != resetZero {
			why = append(why, "it resets "+m.reset.String())
		}
		for _, x := range []struct {
			what string
			v    []int32
		}{{"du", m.du}, {"dv", m.dv}, {"vth", m.vth}} {
			if !uniform(x.v) {
				why = append(why, x.what+" differs between neurons (a core has one value)")
			}
		}
		if !allZero(m.ubias) {
			why = append(why, "a constant input (bias) enters its synaptic current, where Lava's LIF has no bias")
		}
		c.rep.note("%s: not Lava's LIF because %s; it runs a generated program with the LIF's arithmetic", n.name, strings.Join(why, ", and "))
	}
	spec := progSpec{shape: "cuba", spiking: m.spiking, reset: m.reset, regs: map[string]bool{}}
	trunc := func(what string, v []float64, scale float64) ([]int32, error) {
		out := make([]int32, len(v))
		for i, x := range v {
			t := math.Trunc(x)
			if math.Abs(t) > 1<<31-1 {
				return nil, nodeErr(n.name, ErrNumerics, "%s %g is beyond 32 bits", what, x/scale)
			}
			out[i] = int32(t)
			layer.BiasErr = max(layer.BiasErr, math.Abs(x-t)/scale)
		}
		return out, nil
	}
	if m.threshold {
		spec.shape = "threshold"
		spec.regs["vth"] = !uniform(m.vth)
		put("vth", m.vth, !uniform(m.vth))
		b, err := trunc("bias", m.vbias, wScale)
		if err != nil {
			return pop, layer, err
		}
		if !allZero32(b) {
			spec.regs["bias"] = !uniform(b)
			put("bias", b, !uniform(b))
		}
	} else {
		if spec.decayU = !all32(m.du, 4095); spec.decayU {
			spec.regs["du"] = !uniform(m.du)
			put("du", m.du, !uniform(m.du))
		}
		if spec.decayV = !all32(m.dv, 0); spec.decayV {
			spec.regs["dv"] = !uniform(m.dv)
			put("dv", m.dv, !uniform(m.dv))
		}
		if m.spiking {
			spec.regs["vth"] = !uniform(m.vth)
			put("vth", m.vth, !uniform(m.vth))
			if m.reset == resetValue {
				spec.regs["vreset"] = !uniform(m.vreset)
				put("vreset", m.vreset, !uniform(m.vreset))
			}
		}
		for _, b := range []struct {
			key string
			v   []float64
		}{{"vbias", m.vbias}, {"ubias", m.ubias}} {
			q, err := trunc(b.key, b.v, vScale)
			if err != nil {
				return pop, layer, err
			}
			if !allZero32(q) {
				spec.regs[b.key] = !uniform(q)
				put(b.key, q, !uniform(q))
			}
		}
	}
	pop.Source = spec.source()
	layer.Program = spec.name()
	clean(&pop)
	return pop, layer, nil
}

// delayPops adds the relay populations of a delay of one or more steps: each relays the
// spikes it gets one step later, so the line adds its steps to the one every connection has.
func (c *converter) delayPops(id int) error {
	n, d := c.f.nodes[id], c.delays[id]
	if d.steps == 0 {
		return nil
	}
	sig, err := c.input(id)
	if err != nil {
		return err
	}
	if len(sig.terms) == 0 && allZero(sig.bias) {
		c.rep.note("%s: the delay line has no input; its relays never fire", n.name)
	} else if len(sig.terms) != 1 || !allZero(sig.bias) {
		return nodeErr(n.name, ErrUnsupported, "it delays values that are not one source's spikes; the chip delays spikes only")
	}
	for _, src := range sortedKeys(sig.terms) {
		for _, row := range sig.terms[src].rows {
			if len(row) != 1 || row[0].w != 1 {
				return nodeErr(n.name, ErrUnsupported, "it delays weighted sums of spikes; the chip delays spikes only (put the Delay before the Affine)")
			}
		}
	}
	spec := progSpec{shape: "relay", regs: map[string]bool{}}
	sz := size(n.out)
	gain := repeat(1.0/wScale, sz) // mantissa 1: any spike makes the relay fire
	for k, name := range d.relays {
		c.net.Populations = append(c.net.Populations, network.Population{Name: name, Size: sz, Source: spec.source()})
		c.rep.Layers = append(c.rep.Layers, Layer{Node: n.name, Type: "Delay", Population: name, Size: sz, Program: spec.name(), Spiking: true,
			Delay: fmt.Sprintf("relay %d of %d", k+1, d.steps)})
		if k == 0 {
			if err := c.connect(name, n.name, sig, gain); err != nil {
				return err
			}
			continue
		}
		if err := c.conn(d.relays[k-1], name, n.name, identity(sz), gain); err != nil {
			return err
		}
	}
	return nil
}

// output1 maps an Output node: a spiking population's spikes become an output port; a leaky
// integrator's voltage is read by a probe; any other signal (weighted sums) gets a readout
// population whose v holds it.
func (c *converter) output1(id int) error {
	n := c.f.nodes[id]
	if len(n.preds) == 0 {
		c.rep.note("output %s has no incoming edge; left out", n.name)
		return nil
	}
	sig, err := c.input(id)
	if err != nil {
		return err
	}
	name := sanitize(n.name)
	for k := 2; c.outUsed[name]; k++ {
		name = fmt.Sprintf("%s_%d", sanitize(n.name), k)
	}
	c.outUsed[name] = true
	om := OutputMap{Node: n.name}
	if len(sig.terms) == 1 && allZero(sig.bias) {
		s := sortedKeys(sig.terms)[0]
		src := c.f.nodes[s]
		if isIdentity(sig.terms[s]) {
			switch src.kind {
			case kInput:
				return nodeErr(n.name, ErrUnsupported, "it reads input %q directly: nothing runs on the chip between them", src.name)
			case kNeuron:
				m := c.models[s]
				if !m.spiking {
					om.Population, om.Probe = c.popName[s], c.popName[s]+":v"
					om.Scale = vScale
					c.rep.Outputs = append(c.rep.Outputs, om)
					return nil
				}
				om.Population = c.popName[s]
			case kDelay:
				d := c.delays[s]
				om.Population = d.relays[len(d.relays)-1]
			}
			om.Port = name
			c.net.Outputs = append(c.net.Outputs, network.Output{Name: name, Population: om.Population})
			c.rep.Outputs = append(c.rep.Outputs, om)
			return nil
		}
	}
	pop := c.unique(n.name)
	sz := size(n.in)
	spec := progSpec{shape: "readout", regs: map[string]bool{}}
	p := network.Population{Name: pop, Size: sz, Consts: map[string]int32{}, Params: map[string]network.Values{}}
	if !allZero(sig.bias) {
		b := make([]int32, sz)
		for i, x := range sig.bias {
			t := math.Trunc(x * wScale)
			if math.Abs(t) > 1<<31-1 || math.IsNaN(t) {
				return nodeErr(n.name, ErrNumerics, "bias %g is beyond 32 bits at 2^8 per unit", x)
			}
			b[i] = int32(t)
		}
		spec.regs["bias"] = !uniform(b)
		if uniform(b) {
			p.Consts["bias"] = b[0]
		} else {
			p.Params["bias"] = network.Each(b...)
		}
	}
	p.Source = spec.source()
	clean(&p)
	c.net.Populations = append(c.net.Populations, p)
	c.rep.Layers = append(c.rep.Layers, Layer{Node: n.name, Type: "Output", Population: pop, Size: sz, Program: spec.name()})
	om.Population, om.Probe, om.Scale = pop, pop+":v", wScale
	c.rep.Outputs = append(c.rep.Outputs, om)
	return c.connect(pop, n.name, sig, repeat(1, sz))
}

func isIdentity(m *csr) bool {
	if m.ncols != len(m.rows) {
		return false
	}
	for r, row := range m.rows {
		if len(row) != 1 || int(row[0].col) != r || row[0].w != 1 {
			return false
		}
	}
	return true
}

func clean(p *network.Population) {
	if len(p.Consts) == 0 {
		p.Consts = nil
	}
	if len(p.Params) == 0 {
		p.Params = nil
	}
}

func uniform(v []int32) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

func all32(v []int32, x int32) bool {
	for _, y := range v {
		if y != x {
			return false
		}
	}
	return true
}

func allZero32(v []int32) bool { return all32(v, 0) }

func allZero(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// span writes "163" or "160..170".
func span(v []int32) string {
	if len(v) == 0 {
		return ""
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}

// sanitize turns a NIR name into a chip name (network.ValidName): characters other than
// letters, digits, '_', '.' and '-' become '_', and a name that does not start with a letter
// or '_' gets an "n" in front ("0" → "n0").
func sanitize(s string) string {
	b := []byte(s)
	for i, ch := range b {
		ok := ch == '_' || ch == '.' || ch == '-' || ('a' <= ch && ch <= 'z') || ('A' <= ch && ch <= 'Z') || ('0' <= ch && ch <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	out := string(b)
	if out == "" || !(out[0] == '_' || ('a' <= out[0] && out[0] <= 'z') || ('A' <= out[0] && out[0] <= 'Z')) {
		out = "n" + out
	}
	if len(out) > network.MaxNameLen-12 {
		out = out[:network.MaxNameLen-12]
	}
	return out
}

// unique returns a sanitized name not yet used by a port or population.
func (c *converter) unique(s string) string {
	base := sanitize(s)
	name := base
	for k := 2; c.used[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	c.used[name] = true
	return name
}
