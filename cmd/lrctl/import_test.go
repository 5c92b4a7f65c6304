package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/network/nir"
)

const nirData = "../../network/nir/testdata/"

// TestImportNIRRunsLavaTrace is the whole path: lrctl import nir writes a description
// of the reference nir package's single LIF, and lrctl run executes it with the NIR paper's
// input spikes, giving Lava's recorded fixed-point trace (v and spikes) at every step.
func TestImportNIRRunsLavaTrace(t *testing.T) {
	dir := t.TempDir()
	desc := filepath.Join(dir, "lif.yaml")
	stdout, _, err := lrctl2(t, "import", "nir", nirData+"lif.nir", "--dt", "1e-4", "-o", desc)
	require.NoError(t, err)
	require.Contains(t, stdout, "wrote "+desc+": lif (1 population, 1 neuron, 1 synapse)")
	require.Contains(t, stdout, "maps onto a 8×1024 chip: 1 core")

	f, err := os.Open(nirData + "paper/lif_lava_cpu_fixed.csv")
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	var spikes strings.Builder
	for k, r := range rows {
		if r[0] == "1" {
			fmt.Fprintf(&spikes, "%d,input,0\n", k+1)
		}
	}
	in := filepath.Join(dir, "spikes.csv")
	require.NoError(t, os.WriteFile(in, []byte(spikes.String()), 0o644))
	out := filepath.Join(dir, "out.csv")
	_, _, err = lrctl2(t, "run", desc, "--steps", "1000", "--input", in, "--probe", "lif:v", "--out", out)
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	res, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	require.NoError(t, err)
	v, s := make([]string, len(rows)), make([]bool, len(rows))
	for _, r := range res[1:] { // step,kind,name,neuron,value
		step, err := strconv.Atoi(r[0])
		require.NoError(t, err)
		switch r[1] {
		case "probe":
			v[step-1] = r[4]
		case "spike":
			s[step-1] = true
		}
	}
	fired := 0
	for k, r := range rows {
		lavaV, err := strconv.ParseFloat(r[1], 64)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(int(lavaV)), v[k], "v at step %d", k+1)
		require.Equal(t, r[2] != "0.0", s[k], "spike at step %d", k+1)
		if s[k] {
			fired++
		}
	}
	require.Equal(t, 4, fired)
}

func TestImportNIRCommand(t *testing.T) {
	dir := t.TempDir()
	_, _, err := lrctl2(t, "import", "nir", nirData+"lif.nir")
	require.ErrorContains(t, err, "--dt SECONDS is required")
	_, _, err = lrctl2(t, "import", "nir", nirData+"lif.nir", "--dt", "1e-4", "--reset", "sometimes")
	require.ErrorIs(t, err, nir.ErrUsage)
	_, _, err = lrctl2(t, "import", "nir", nirData+"cycle.nir", "--dt", "1e-3", "-o", filepath.Join(dir, "x.yaml"))
	require.ErrorContains(t, err, `nir: node "s": a cycle without a neuron or delay on it`)

	// The paper's CNN: written, but it does not fit the prototype; it fits the full chip.
	desc := filepath.Join(dir, "cnn.json")
	stdout, stderr, err := lrctl2(t, "import", "nir", nirData+"paper/cnn_sinabs.nir", "--dt", "1e-3", "-o", desc)
	require.Equal(t, exitError{1}, err)
	require.Contains(t, stdout, "wrote "+desc+": cnn_sinabs (5 populations, 8970 neurons, ")
	require.Contains(t, stderr, "cnn_sinabs does not fit a 8×1024 chip: network: needs 11 cores, chip has 8: 3 too many")
	_, err = os.Stat(desc)
	require.NoError(t, err)

	stdout, _, err = lrctl2(t, "import", "nir", nirData+"rnn_subgraph.nir", "--dt", "1e-3", "-o", filepath.Join(dir, "rnn.yaml"), "--report")
	require.NoError(t, err)
	for _, want := range []string{"network rnn_subgraph from NIR 1.0.7, dt = 0.001 s, reset: auto",
		"lif1.lif  CubaLIF  lif1.lif    40    lif (Lava)", "lif1.lif  lif1.lif", "output: output port output (spikes of population lif2)",
		"maps onto a 8×1024 chip: 2 cores"} {
		require.Contains(t, stdout, want)
	}
	stdout, _, err = lrctl2(t, "import", "nir", nirData+"legacy_lif.nir", "--dt", "1e-4", "-o", "-")
	require.NoError(t, err)
	require.Contains(t, stdout, "name: legacy_lif\n", "the description, as YAML")
	stdout, stderr, err = lrctl2(t, "import", "nir", nirData+"legacy_lif.nir", "--dt", "1e-4", "-o", filepath.Join(dir, "l.json"), "--report", "--json")
	require.NoError(t, err)
	require.Contains(t, stderr, "maps onto")
	var rep nir.Report
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "the report alone on standard output")
	require.Equal(t, "0.2.0", rep.Version)
	require.Equal(t, "nir_lif_sub", rep.Layers[0].Program)
	require.Contains(t, rep.Layers[0].Reset, "by subtraction")
}
