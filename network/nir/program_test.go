package nir

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/run"
)

// simulate runs a converted network on the emulator through network.Map and network/run, with
// input spikes in[step][neuron] on its first input port, and returns v of population pop and
// its spikes, per step.
func simulate(t *testing.T, n *network.Network, pop string, in [][]bool) ([][]int32, [][]bool) {
	t.Helper()
	size, err := chip.ParseSize("prototype")
	require.NoError(t, err)
	img, err := network.Map(n, size)
	require.NoError(t, err)
	dev, err := emu.NewDevice(emu.Opts{Size: size})
	require.NoError(t, err)
	var spikes []run.Spike
	for k, row := range in {
		for j, x := range row {
			if x {
				spikes = append(spikes, run.Spike{Step: k + 1, Port: n.Inputs[0].Name, Neuron: j, Payload: 1})
			}
		}
	}
	res, err := run.Run(context.Background(), dev, img, run.Options{Steps: len(in), Inputs: spikes,
		Probes: []run.ProbeSpec{{Population: pop, Field: "v"}, {Population: pop, Field: "spike"}}})
	require.NoError(t, err)
	s := make([][]bool, len(in))
	for k, row := range res.Probes[1].Values {
		for _, x := range row {
			s[k] = append(s[k], x != 0)
		}
	}
	return res.Probes[0].Values, s
}

// popValue reads a population's value of a register for neuron i: a constant, a parameter,
// or def when the population does not set it.
func popValue(p network.Population, key string, i int, def int32) int32 {
	if v, ok := p.Consts[key]; ok {
		return v
	}
	if v, ok := p.Params[key]; ok {
		return v.At(i)
	}
	return def
}

// reference runs the CUBA dynamics of docs/chip.md §9 with the importer's additions (docs/nir.md,
// "Programs"), written out from the population's values: u' = wrap24(T(u·(4095 − du)) + (a << 6)
// + ubias); v' = sat24(T(v·(4096 − dv)) + u' + vbias); a spike when v' > vth << 6, then reset
// to 0, by subtracting vth << 6, or to vreset; no spike for a leaky integrator. a sums the
// effective weights (shifted by weight_exp) of the inputs that spiked the step before.
func reference(p network.Population, x network.Connection, nIn int, in [][]bool, reset string, spiking bool) ([][]int32, [][]bool) {
	T := func(z int64) int64 {
		if z < 0 {
			return -(-z / 4096)
		}
		return z / 4096
	}
	mode, _ := syn.ParseSignMode(x.SignMode)
	w := func(post, pre int) int64 {
		var m int32
		if x.Weights != nil {
			m = x.Weights.At(post, pre)
		} else {
			for k := range x.Sparse.Pre {
				if x.Sparse.Pre[k] == pre && x.Sparse.Post[k] == post {
					m = x.Sparse.Weights.At(k)
				}
			}
		}
		return int64(syn.Effective(m, mode, 8))
	}
	u, v := make([]int64, p.Size), make([]int64, p.Size)
	var vs [][]int32
	var ss [][]bool
	for k := range in {
		vrow, srow := make([]int32, p.Size), make([]bool, p.Size)
		for i := 0; i < p.Size; i++ {
			var a int64
			if k > 0 {
				for j := 0; j < nIn; j++ {
					if in[k-1][j] {
						a += w(i, j)
					}
				}
				a <<= x.WeightExp
			}
			du, dv := int64(popValue(p, "du", i, 4095)), int64(popValue(p, "dv", i, 0))
			vbias := int64(popValue(p, "vbias", i, 0)) + int64(popValue(p, "bias_mant", i, 0))<<popValue(p, "bias_exp", i, 0)
			uu := T(u[i]*(4095-du)) + a<<6 + int64(popValue(p, "ubias", i, 0))
			if uu > 1<<23 {
				uu -= 1 << 24
			} else if uu <= -(1 << 23) {
				uu += 1 << 24
			}
			u[i] = uu
			vv := T(v[i]*(4096-dv)) + uu + vbias
			vv = max(-(1<<23 - 1), min(1<<23-1, vv))
			theta := int64(popValue(p, "vth", i, 0)) << 6
			if spiking && vv > theta {
				srow[i] = true
				switch reset {
				case "zero":
					vv = 0
				case "subtract":
					vv -= theta
				case "value":
					vv = int64(popValue(p, "vreset", i, 0))
				}
			}
			v[i], vrow[i] = vv, int32(vv)
		}
		vs, ss = append(vs, vrow), append(ss, srow)
	}
	return vs, ss
}

func convertGraph(t *testing.T, b []byte, o Opts) (*network.Network, *Report) {
	t.Helper()
	tr, err := treeFromJSON(b)
	require.NoError(t, err)
	g, err := parseFile(tr)
	require.NoError(t, err)
	n, rep, err := Convert(g, o)
	require.NoError(t, err)
	return n, rep
}

func randomSpikes(seed uint64, steps, n int, p float64) [][]bool {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := make([][]bool, steps)
	for k := range in {
		in[k] = make([]bool, n)
		for j := range in[k] {
			in[k][j] = rng.Float64() < p
		}
	}
	return in
}

// TestGeneratedPrograms: every kind of neuron the importer writes a program for runs, on the
// emulator, exactly the dynamics docs/nir.md gives, neuron by neuron and step by step.
func TestGeneratedPrograms(t *testing.T) {
	const nIn, n = 3, 4
	w := [][]float64{{0.6, 0.3, -0.2}, {0.2, 0.5, 0.1}, {0.9, -0.4, 0.3}, {0.1, 0.1, 0.8}}
	bias := []float64{0.02, -0.01, 0, 0.05}
	f := func(v ...float64) []float64 { return v }
	for _, c := range []struct {
		name     string
		version  string
		node     obj
		reset    Reset
		affine   bool // an Affine with bias (else Linear)
		program  string
		resetHow string
		spiking  bool
	}{
		{"LIF, Lava's program", "1.0.7", lif(n, 5e-3, 0.5), ResetAuto, false, "lif", "zero", true},
		{"LIF reset by subtraction (legacy file)", "0.2.0",
			obj{"type": "LIF", "tau": fill(n, 5e-3), "r": fill(n, 1), "v_leak": fill(n, 0), "v_threshold": fill(n, 0.5)},
			ResetAuto, false, "nir_lif_sub", "subtract", true},
		{"LIF reset to v_reset", "1.0.7",
			obj{"type": "LIF", "tau": fill(n, 5e-3), "r": fill(n, 1), "v_leak": fill(n, 0), "v_threshold": fill(n, 0.5), "v_reset": f(-0.1, 0, 0.05, -0.2)},
			ResetAuto, false, "nir_lif_val_p_vreset", "value", true},
		{"LIF per-neuron thresholds and time constants, v_leak", "1.0.7",
			obj{"type": "LIF", "tau": f(5e-3, 4e-3, 1e-2, 2e-3), "r": f(1, 2, 1, 0.5), "v_leak": f(0.1, 0, -0.2, 0), "v_threshold": f(0.5, 0.3, 0.7, 0.4), "v_reset": fill(n, 0)},
			ResetAuto, true, "nir_lif_zero_p_dv_vbias_vth", "zero", true},
		{"CubaLIF with an input bias: a constant current", "1.0.7",
			obj{"type": "CubaLIF", "tau_syn": fill(n, 2e-3), "tau_mem": fill(n, 4e-3), "r": fill(n, 4), "v_leak": fill(n, 0), "v_threshold": fill(n, 1), "v_reset": fill(n, 0), "w_in": fill(n, 2)},
			ResetAuto, true, "nir_lif_zero_p_ubias", "zero", true},
		{"CubaLIF, --reset subtract", "1.0.7",
			obj{"type": "CubaLIF", "tau_syn": fill(n, 2e-3), "tau_mem": fill(n, 4e-3), "r": fill(n, 4), "v_leak": fill(n, 0), "v_threshold": fill(n, 1), "v_reset": fill(n, 0), "w_in": fill(n, 2)},
			ResetSubtract, false, "nir_lif_sub", "subtract", true},
		{"IF", "1.0.7", obj{"type": "IF", "r": fill(n, 1), "v_threshold": fill(n, 1), "v_reset": fill(n, 0)}, ResetAuto, true, "lif", "zero", true},
		{"LI: no spikes", "1.0.7", obj{"type": "LI", "tau": fill(n, 5e-3), "r": fill(n, 1), "v_leak": fill(n, 0)}, ResetAuto, false, "nir_li", "", false},
		{"CubaLI", "1.0.7", obj{"type": "CubaLI", "tau_syn": fill(n, 2e-3), "tau_mem": fill(n, 4e-3), "r": fill(n, 4), "v_leak": fill(n, 0.05), "w_in": fill(n, 2)}, ResetAuto, false, "nir_li", "", false},
		{"I: an integrator", "1.0.7", obj{"type": "I", "r": fill(n, 0.5)}, ResetAuto, false, "nir_li", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			syn := obj{"type": "Linear", "weight": w}
			if c.affine {
				syn = obj{"type": "Affine", "weight": w, "bias": bias}
			}
			net, _ := convertGraph(t, file(c.version, graph(obj{"input": input(nIn), "syn": syn, "nrn": c.node, "output": output(n)},
				[2]string{"input", "syn"}, [2]string{"syn", "nrn"}, [2]string{"nrn", "output"})), Opts{Dt: 1e-3, Reset: c.reset})
			require.Len(t, net.Populations, 1)
			p := net.Populations[0]
			name := p.Program
			if name == "" {
				name = progNameOf(p.Source)
			}
			require.Equal(t, c.program, name)
			in := randomSpikes(7, 120, nIn, 0.3)
			v, s := simulate(t, net, p.Name, in)
			rv, rs := reference(p, net.Connections[0], nIn, in, c.resetHow, c.spiking)
			require.Equal(t, rv, v, "v")
			require.Equal(t, rs, s, "spikes")
			if c.spiking {
				fired := 0
				for _, row := range s {
					for _, x := range row {
						if x {
							fired++
						}
					}
				}
				require.Positive(t, fired, "the test must make the neurons fire")
			}
		})
	}
}

func progNameOf(src string) string {
	for _, line := range splitLines(src) {
		if len(line) > 9 && line[:9] == ".program " {
			return line[9:]
		}
	}
	return ""
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// TestThresholdAndDelay: a Threshold node spikes when its weighted input exceeds its threshold,
// the step after the input spike; a Delay of three steps makes the spike arrive three steps
// later, through three relays.
func TestThresholdAndDelay(t *testing.T) {
	th := obj{"type": "Threshold", "threshold": []float64{0.5, 0.7}}
	net, rep := convertGraph(t, file("1.0.7", graph(obj{"input": input(2), "lin": obj{"type": "Linear", "weight": [][]float64{{0.6, 0}, {0.6, 0.2}}},
		"th": th, "output": output(2)}, [2]string{"input", "lin"}, [2]string{"lin", "th"}, [2]string{"th", "output"})), Opts{Dt: 1e-3})
	require.Equal(t, "nir_threshold_p_vth", progNameOf(net.Populations[0].Source))
	in := make([][]bool, 6)
	for k := range in {
		in[k] = []bool{k == 1 || k == 3, k == 3}
	}
	_, s := simulate(t, net, "th", in)
	require.Equal(t, [][]bool{{false, false}, {false, false}, {true, false}, {false, false}, {true, true}, {false, false}}, s,
		"0.6 > 0.5 fires neuron 0; neuron 1 needs both inputs (0.8 > 0.7)")
	require.Len(t, rep.Outputs, 1)
	require.Equal(t, "th", rep.Outputs[0].Population)

	net, _ = convertGraph(t, file("1.0.7", graph(obj{"input": input(1), "dly": obj{"type": "Delay", "delay": []float64{3e-3}},
		"lin": obj{"type": "Linear", "weight": [][]float64{{1}}}, "if": obj{"type": "IF", "r": []float64{1}, "v_threshold": []float64{0.5}, "v_reset": []float64{0}},
		"output": output(1)}, [2]string{"input", "dly"}, [2]string{"dly", "lin"}, [2]string{"lin", "if"}, [2]string{"if", "output"})), Opts{Dt: 1e-3})
	require.Len(t, net.Populations, 4, "three relays and the IF")
	in = make([][]bool, 12)
	for k := range in {
		in[k] = []bool{k == 4}
	}
	_, s = simulate(t, net, "if", in)
	for k, row := range s {
		require.Equal(t, k == 4+1+3, row[0], "step %d: an input spike sent for step s reaches the IF in step s+1, plus 3 for the delay", k+1)
	}
}

// TestResetDefaults: v_reset where the file has it; without it, subtraction before NIR 1.0.6
// (what NIR specified then) and zero from 1.0.6 on; --reset overrides.
func TestResetDefaults(t *testing.T) {
	noReset := obj{"type": "LIF", "tau": fill(1, 5e-3), "r": fill(1, 1), "v_leak": fill(1, 0), "v_threshold": fill(1, 0.5)}
	for _, c := range []struct {
		version string
		node    obj
		reset   Reset
		want    string
	}{
		{"0.2.0", noReset, ResetAuto, "nir_lif_sub"},
		{"", noReset, ResetAuto, "nir_lif_sub"},
		{"1.0.5", noReset, ResetAuto, "nir_lif_sub"},
		{"1.0.6", noReset, ResetAuto, "lif"},
		{"1.0.7", lif(1, 5e-3, 0.5), ResetAuto, "lif"},
		{"1.0.7", lif(1, 5e-3, 0.5), ResetSubtract, "nir_lif_sub"},
		{"0.2.0", noReset, ResetZero, "lif"},
	} {
		net, rep := convertGraph(t, file(c.version, chain(1, []string{"lif"}, c.node)), Opts{Dt: 1e-3, Reset: c.reset})
		got := net.Populations[0].Program
		if got == "" {
			got = progNameOf(net.Populations[0].Source)
		}
		require.Equal(t, c.want, got, "version %q, reset %v: %s", c.version, c.reset, rep.Layers[0].Reset)
	}
}

// TestReadout: an Output fed by weights rather than a population gets a readout population
// whose v is this step's weighted input (at 2^8 per unit) plus the bias; nothing spikes.
func TestReadout(t *testing.T) {
	net, rep := convertGraph(t, file("1.0.7", graph(obj{"input": input(2), "if": obj{"type": "IF", "r": fill(2, 1), "v_threshold": fill(2, 0.5), "v_reset": fill(2, 0)},
		"fc": obj{"type": "Affine", "weight": [][]float64{{1, -0.5}}, "bias": []float64{0.25}}, "out": output(1)},
		[2]string{"input", "if"}, [2]string{"if", "fc"}, [2]string{"fc", "out"})), Opts{Dt: 1e-3})
	require.Equal(t, []OutputMap{{Node: "out", Population: "out", Probe: "out:v", Scale: wScale}}, rep.Outputs)
	p := net.Populations[1]
	require.Equal(t, "nir_readout", progNameOf(p.Source))
	require.Equal(t, int32(64), p.Consts["bias"])
	in := [][]bool{{true, false}, {false, false}, {false, false}, {true, true}, {false, false}, {false, false}}
	v, _ := simulate(t, net, "out", in)
	// The input spike of step 1 reaches the IF in step 2 (it fires), the readout in step 3.
	require.Equal(t, [][]int32{{64}, {64}, {64 + 256}, {64}, {64}, {64 + 256 - 128}}, v)
}
