package main

import (
	"os"
	"path/filepath"
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

// Input spikes past --steps are left out and counted on stderr; payloads beyond 24 bits are
// counted too.
func TestRunIgnoresLateSpikes(t *testing.T) {
	late := writeFile(t, "late.csv", "1,in,0\n3,in,1,9000000\n50,in,1\n60,in,2\n")
	stdout, stderr, err := lrctl2(t, "run", examples+"hello.yaml", "--steps", "5", "--input", late)
	require.NoError(t, err)
	require.Contains(t, stderr, "ignored 2 input spikes after step 5 (the run's last; --steps)")
	require.Contains(t, stderr, "warning: 1 input payload beyond 24 bits")
	require.Contains(t, stdout, "step,kind,name,neuron,value")
}
