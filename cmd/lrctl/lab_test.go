package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/network"
)

// writeFile writes body to name in a temporary folder and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// quantNet has weights that MIXED 8-bit quantization changes: 1 becomes 0, 3 becomes 2.
const quantNet = `name: q
inputs: [{name: in, size: 2}]
populations:
  - {name: p, size: 2, program: lif, consts: {du: 4095, dv: 4095, vth: 1}}
connections:
  - {from: in, to: p, weights: [[1, 3], [4, 6]]}
  - {name: exact, from: in, to: p, weights: 2, weight_exp: 1}
outputs: [{population: p}]
`

// A description whose weights quantization changes is said, per connection, by image build
// and run; --strict refuses it; inspect counts the synapses left with weight 0.
func TestQuantizationIsReported(t *testing.T) {
	net := writeFile(t, "q.yaml", quantNet)
	img := filepath.Join(t.TempDir(), "q.lrni")
	_, stderr, err := lrctl2(t, "image", "build", net, "-o", img)
	require.NoError(t, err)
	require.Contains(t, stderr, `warning: connection "in->p": 2 of 4 weights changed by quantization to MIXED 8 bits (1 zeroed), largest change 1 (e.g. 1 → 0) (--strict to refuse)`)
	require.NotContains(t, stderr, "exact")

	_, _, err = lrctl2(t, "image", "build", net, "-o", img, "--strict")
	require.ErrorIs(t, err, network.ErrQuantized)
	require.ErrorContains(t, err, `connection "in->p": 2 of 4 weights changed`)

	stdout, _, err := lrctl2(t, "image", "inspect", img)
	require.NoError(t, err)
	require.Contains(t, stdout, "4 synapses (1 of weight 0), MIXED")

	_, stderr, err = lrctl2(t, "run", net, "--steps", "2")
	require.NoError(t, err)
	require.Contains(t, stderr, `warning: connection "in->p": 2 of 4 weights changed`)
	_, _, err = lrctl2(t, "run", net, "--steps", "2", "--strict")
	require.ErrorIs(t, err, network.ErrQuantized)
}

// Input spikes past --steps are left out and counted on stderr; payloads beyond 24 bits go
// through untouched (the chip carries int32 payloads, as Lava does).
func TestRunIgnoresLateSpikes(t *testing.T) {
	late := writeFile(t, "late.csv", "1,in,0\n3,in,1,9000000\n50,in,1\n60,in,2\n")
	stdout, stderr, err := lrctl2(t, "run", examples+"hello.yaml", "--steps", "5", "--input", late)
	require.NoError(t, err)
	require.Contains(t, stderr, "ignored 2 input spikes after step 5 (the run's last; --steps)")
	require.NotContains(t, stderr, "24 bits")
	require.Contains(t, stdout, "step,kind,name,neuron,value")
}

// noisyNet is a stochastic network: a noisy LIF program drawing from rand, seeded per neuron
// from the description, driven by a Poisson source.
const noisyNet = `name: noisy
seed: 9
inputs: [{name: in, size: 8, source: {kind: poisson, rate: 0.2}}]
populations:
  - name: p
    size: 40
    source: |
      .program noisy_lif
      .state   v
      .param   seed
      .const   vth, leak, mask
      .temp    r, noise, x, fire
              rand  r, seed, t
              and   noise, r, mask
              sra   x, v, leak
              sub   x, v, x
              add   x, x, a
              add   x, x, noise
              sgt   fire, x, vth
              spk   fire
              sel   v, fire, 0, x
    consts: {vth: 600, leak: 3, mask: 127}
    params: {seed: {uniform: [-2147483648, 2147483647]}}
connections:
  - {from: in, to: p, rule: {kind: fixed_probability, p: 0.5}, weights: 40}
outputs: [{population: p}]
`

// A stochastic program gives the same bits on every run and on every device: the emulator in
// this process and an emulator process.
func TestRandIsTheSameOnEveryDevice(t *testing.T) {
	dir := shortRunDir(t)
	net := writeFile(t, "noisy.yaml", noisyNet)
	args := []string{"run", net, "--steps", "300", "--format", "json", "--probe", "p:v:0-9"}
	here, _, err := lrctl2(t, append(args, "--device", "emu:")...)
	require.NoError(t, err)
	again, _, err := lrctl2(t, append(args, "--device", "emu:")...)
	require.NoError(t, err)
	require.Equal(t, here, again)
	there, _, err := lrctl2(t, append(args, "--device", serve(t, dir))...)
	require.NoError(t, err)
	require.Equal(t, here, there)
	var res struct {
		Spikes []struct{ Neuron int } `json:"spikes"`
	}
	require.NoError(t, json.Unmarshal([]byte(here), &res))
	require.Greater(t, len(res.Spikes), 100, "the network spikes")
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkStyle walks a JSON value: keys are snake_case, "serial" is a string, "size" an object
// of cores and neurons_per_core.
func checkStyle(t *testing.T, where string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			require.Regexp(t, snake, k, "%s: key", where)
			switch k {
			case "serial":
				require.IsType(t, "", e, "%s: serial", where)
			case "size":
				if m, ok := e.(map[string]any); ok {
					require.Contains(t, m, "cores", where)
					require.Contains(t, m, "neurons_per_core", where)
				} else {
					require.IsType(t, float64(0), e, "%s: size is the chip's (an object) or a count", where)
				}
			}
			checkStyle(t, where+"."+k, e)
		}
	case []any:
		for _, e := range x {
			checkStyle(t, where, e)
		}
	}
}

// Every command's JSON has one style: snake_case keys, no HTML escaping, serial a string and
// size an object everywhere.
func TestJSONStyle(t *testing.T) {
	ctx := context.Background()
	dir := shortRunDir(t)
	uri := serve(t, dir)
	img := filepath.Join(t.TempDir(), "h.lrni")
	_, _, err := lrctl2(t, "image", "build", examples+"hello.yaml", "-o", img)
	require.NoError(t, err)
	for _, args := range [][]string{
		{"version", "--json"},
		{"list", "--json"},
		{"info", "--json", "--device", uri},
		{"info", "--json", "--device", "emu:"},
		{"sensors", "--json", "--device", uri},
		{"load", "--json", "--device", uri, img},
		{"load", "--json", "--dry-run", "--device", uri, img},
		{"image", "inspect", "--json", img},
		{"run", examples + "hello.yaml", "--steps", "20", "--format", "json", "--probe", "exc:v", "--input", examples + "hello_spikes.csv"},
	} {
		out, _, err := lrctlCtx(ctx, args...)
		require.NoError(t, err, "%v", args)
		require.NotContains(t, out, `\u003c`, "%v: no HTML escaping", args)
		require.NotContains(t, out, `\u0026`, "%v", args)
		var v any
		require.NoError(t, json.Unmarshal([]byte(out), &v), "%v", args)
		checkStyle(t, strings.Join(args[:2], " "), v)
	}
}
