package nir

import (
	"math"

	"github.com/lrchip/lrchip/firmware/syn"
)

// Scales of the chip's integers (docs/nir.md, "Numerics"): a weight or threshold of 1.0 in the
// model is a mantissa of 2^8, as the NIR paper's Lava import has it, and the LIF program
// shifts the dendritic input and the threshold left by 6 into v, so 1.0 volt is 2^14 in u and v.
const (
	wScale = 1 << 8
	vScale = 1 << 14
)

// neuron is a neuron node's chip model: per-neuron values in the chip's integers (and the
// floats they came from, for the report).
type neuron struct {
	f         *fnode
	n         int
	spiking   bool
	threshold bool      // a Threshold node: stateless
	cuba      bool      // has a synaptic current (CubaLIF, CubaLI): constant input goes to u
	gain      []float64 // input weight W becomes the mantissa wScale·gain·W (before the exponent)
	du, dv    []int32
	vth       []int32
	vreset    []int32
	vbias     []float64 // added to v every step, chip units (v_leak; constant input unless cuba)
	ubias     []float64 // added to u every step, chip units (constant input of a cuba node)
	reset     resetMode
	resetWhy  string

	// for the report
	decayErr  float64 // largest |decay factor on the chip − (1 − dt/τ)|, v and u
	vthErr    float64 // largest |threshold on the chip − v_threshold|, in the model's units
	vthMax    float64
	resetErr  float64
	approxNot []string
}

var zero = 0.0
var one = 1.0

// model derives the chip model of a neuron node (docs/nir.md has the equations).
func (c *converter) model(f *fnode) (*neuron, error) {
	dt := c.o.Dt
	n := size(f.out)
	m := &neuron{f: f, n: n, gain: make([]float64, n), du: make([]int32, n), dv: make([]int32, n),
		vbias: make([]float64, n), ubias: make([]float64, n)}
	get := func(name string, def *float64) []float64 {
		v, err := f.vec(name, n, def)
		if err != nil && c.err == nil {
			c.err = err
		}
		if v == nil {
			v = make([]float64, n)
		}
		return v
	}
	// decay returns dt/τ, checked: 0 for τ = +Inf, at most 1.
	decay := func(what string, tau []float64) []float64 {
		out := make([]float64, n)
		for i, t := range tau {
			switch {
			case math.IsNaN(t) || t <= 0:
				c.fail(nodeErr(f.name, ErrNumerics, "%s = %v s: a time constant must be positive", what, t))
			case dt > t*(1+1e-6): // float32 files round τ = dt a little below dt
				c.fail(nodeErr(f.name, ErrNumerics, "%s = %g s is shorter than dt = %g s: forward Euler needs dt ≤ τ", what, t, dt))
			case math.IsInf(t, 1):
			default:
				out[i] = min(1, dt/t)
			}
		}
		return out
	}
	typ := f.typ()
	for i := range m.du {
		m.du[i] = 4095 // no synaptic state: u is this step's input
	}
	switch typ {
	case "LIF", "LI":
		a := decay("tau", get("tau", nil))
		r, leak := get("r", nil), get("v_leak", nil)
		for i := range a {
			m.dv[i] = quantDecay(a[i])
			m.gain[i] = r[i] * a[i]
			m.vbias[i] = vScale * a[i] * leak[i]
			m.noteDecay(a[i], m.dv[i], 4096)
		}
		m.spiking = typ == "LIF"
	case "CubaLIF", "CubaLI":
		am, as := decay("tau_mem", get("tau_mem", nil)), decay("tau_syn", get("tau_syn", nil))
		r, leak, win := get("r", nil), get("v_leak", nil), get("w_in", &one)
		m.cuba = true
		for i := range am {
			m.dv[i], m.du[i] = quantDecay(am[i]), quantDecay(as[i])
			m.gain[i] = am[i] * r[i] * as[i] * win[i]
			m.vbias[i] = vScale * am[i] * leak[i]
			m.noteDecay(am[i], m.dv[i], 4096)
			m.noteDecay(as[i], m.du[i], 4095)
		}
		m.spiking = typ == "CubaLIF"
	case "IF", "I", "Integrator": // the reference package writes the integrator as "I"
		// dv/dt = R·I: every step adds R·x (the dt of forward Euler folded into R, as every
		// exporter writes IF: Sinabs' IAF has r = 1 and adds its input each step).
		r := get("r", nil)
		copy(m.gain, r)
		m.spiking = typ == "IF"
	case "Threshold":
		for i := range m.gain {
			m.gain[i] = 1
		}
		m.spiking, m.threshold = true, true
		th := get("threshold", nil)
		m.vth = make([]int32, n)
		for i, t := range th {
			m.vth[i] = c.quantThreshold(f, "threshold", t)
			m.noteThreshold(t)
		}
	}
	for _, v := range [][]float64{m.gain, m.vbias} {
		if !finite(v) {
			c.fail(nodeErr(f.name, ErrNumerics, "a parameter is not a finite number"))
		}
	}
	if m.spiking && !m.threshold {
		th := get("v_threshold", nil)
		m.vth = make([]int32, n)
		for i, t := range th {
			m.vth[i] = c.quantThreshold(f, "v_threshold", t)
			m.noteThreshold(t)
		}
		c.resetOf(m)
	}
	return m, c.err
}

func quantDecay(a float64) int32 { return int32(a * 4095) } // truncates, as Lava's import does

// noteDecay records the decay factor's error: the chip multiplies by (full − d)/4096 where the
// model has 1 − a.
func (m *neuron) noteDecay(a float64, d int32, full float64) {
	m.decayErr = max(m.decayErr, math.Abs((full-float64(d))/4096-(1-a)))
}

func (m *neuron) noteThreshold(t float64) {
	q := math.Trunc(t*wScale) / wScale
	m.vthErr = max(m.vthErr, math.Abs(t-q))
	m.vthMax = max(m.vthMax, math.Abs(t))
}

// quantThreshold is trunc(v·2^8), which must fit the LIF's 17-bit threshold.
func (c *converter) quantThreshold(f *fnode, what string, t float64) int32 {
	q := math.Trunc(t * wScale)
	if math.IsNaN(t) || q < 0 || q > 1<<17-1 {
		c.fail(nodeErr(f.name, ErrNumerics, "%s = %v: the chip's thresholds are 0 ≤ v < %v (17 bits at 2^8 per unit)", what, t, float64(1<<17)/wScale))
		return 0
	}
	return int32(q)
}

// resetOf decides how a spiking node resets (Opts.Reset, the node's v_reset, the file's version).
func (c *converter) resetOf(m *neuron) {
	f := m.f
	switch c.o.Reset {
	case ResetZero:
		m.reset, m.resetWhy = resetZero, "--reset zero"
		return
	case ResetSubtract:
		m.reset, m.resetWhy = resetSubtract, "--reset subtract"
		return
	}
	vr, err := f.optParam("v_reset")
	if err != nil {
		c.fail(err)
		return
	}
	if vr == nil {
		if c.legacy {
			m.reset, m.resetWhy = resetSubtract, "no v_reset in a file of NIR "+c.versionText()+" (before 1.0.6, NIR's LIF, CubaLIF and IF reset by subtracting the threshold)"
		} else {
			m.reset, m.resetWhy = resetZero, "no v_reset in a file of NIR "+c.versionText()+" (the reference reader takes 0)"
		}
		return
	}
	v, err := f.vec("v_reset", m.n, nil)
	if err != nil {
		c.fail(err)
		return
	}
	m.reset, m.resetWhy = resetZero, "v_reset = 0"
	for _, x := range v {
		if x != 0 {
			m.reset, m.resetWhy = resetValue, "v_reset"
			break
		}
	}
	if m.reset == resetValue {
		m.vreset = make([]int32, m.n)
		for i, x := range v {
			q := math.Trunc(x * vScale)
			if math.IsNaN(x) || math.Abs(q) > 1<<23-1 {
				c.fail(nodeErr(f.name, ErrNumerics, "v_reset = %v: v holds ±%v at 2^14 per unit", x, float64(1<<23-1)/vScale))
				return
			}
			m.vreset[i] = int32(q)
			m.resetErr = max(m.resetErr, math.Abs(x-q/vScale))
		}
	}
}

// addConstant adds a constant input c (per neuron, in the model's units: an Affine or
// convolution bias) to the neuron's bias: into u for nodes with a synaptic current (it is
// filtered like any input), else into v (u keeps only this step's input, so it is the same).
func (m *neuron) addConstant(cst []float64) {
	for i, x := range cst {
		if x == 0 {
			continue
		}
		switch {
		case m.threshold:
			m.vbias[i] += wScale * x // compared with the input at 2^8
		case m.cuba:
			m.ubias[i] += vScale * m.gain[i] * x
		default:
			m.vbias[i] += vScale * m.gain[i] * x
		}
	}
}

// biasMantExp splits a bias into Lava's bias_mant (13-bit signed) and bias_exp (0..7),
// truncating: the smallest exponent whose mantissa fits.
func biasMantExp(b float64) (mant, exp int32, ok bool) {
	for e := 0; e <= 7; e++ {
		m := math.Trunc(b / float64(int(1)<<e))
		if m >= -4096 && m <= 4095 {
			return int32(m), int32(e), true
		}
	}
	return 0, 0, false
}

// quantized is a connection's weights on the chip.
type quantized struct {
	mode    syn.SignMode
	exp     int
	mant    [][]entryI // per row: (column, mantissa) of every nonzero effective weight
	nnz     int
	zeroed  int     // synapses whose mantissa truncated to 0
	maxW    float64 // largest |W| in the model's units
	errAbs  float64 // largest |W − chip weight| in the model's units
	errRel  float64 // errAbs / maxW
	allZero bool
}

type entryI struct {
	col int32
	m   int32
}

// quantize turns a connection's model weights W (rows: target neurons) into mantissas: chip
// weight = wScale·gain[row]·W, truncated at exponent e, the smallest e ≥ 0 at which every
// mantissa fits 8 bits in the sign mode Lava's determine_sign_mode would pick (all ≥ 0:
// EXCITATORY, all ≤ 0: INHIBITORY, else MIXED, whose 9-bit range loses the lowest bit).
func quantize(m *csr, gain []float64, node string) (*quantized, error) {
	q := &quantized{mant: make([][]entryI, len(m.rows))}
	hi, lo := 0.0, 0.0
	for r, row := range m.rows {
		for _, e := range row {
			w := wScale * gain[r] * e.w
			if math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, nodeErr(node, ErrNumerics, "a weight into it is not a finite number")
			}
			hi, lo = max(hi, w), min(lo, w)
			q.maxW = max(q.maxW, math.Abs(e.w))
		}
	}
	q.mode = syn.Mixed
	top, bottom := 255.0, -256.0
	switch {
	case lo >= 0:
		q.mode, bottom = syn.Excitatory, 0
	case hi <= 0:
		q.mode, top, bottom = syn.Inhibitory, 0, -255
	}
	for q.exp = 0; ; q.exp++ {
		s := float64(int(1) << q.exp)
		if math.Trunc(hi/s) <= top && math.Trunc(lo/s) >= bottom {
			break
		}
		if q.exp == syn.MaxExp {
			return nil, nodeErr(node, ErrNumerics, "weights into it reach %g (×2^8 = %g): more than 8 bits at weight_exp %d", max(hi, -lo)/wScale, max(hi, -lo), syn.MaxExp)
		}
	}
	s := float64(int(1) << q.exp)
	for r, row := range m.rows {
		for _, e := range row {
			w := wScale * gain[r] * e.w
			mt := int32(math.Trunc(w / s))
			eff := syn.Effective(mt, q.mode, syn.MaxWeightBits)
			if gain[r] != 0 {
				err := math.Abs(e.w - float64(eff)*s/(wScale*gain[r]))
				q.errAbs = max(q.errAbs, err)
			}
			if eff == 0 {
				q.zeroed++
				continue
			}
			q.mant[r] = append(q.mant[r], entryI{e.col, mt})
			q.nnz++
		}
	}
	if q.maxW > 0 {
		q.errRel = q.errAbs / q.maxW
	}
	q.allZero = q.nnz == 0
	return q, nil
}
