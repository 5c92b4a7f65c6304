package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeWalkthrough follows the README's first network: it runs the lrctl command the
// README gives for examples/ei.yaml (with $out a temporary folder) and, where python3 with
// NumPy is installed, the README's Python that loads the .npz.
func TestReadmeWalkthrough(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	out := t.TempDir()

	cmdRe := regexp.MustCompile("(?s)go run ./cmd/lrctl run examples/ei.yaml (.*?)\n\n?```")
	m := cmdRe.FindStringSubmatch(readme)
	require.NotNil(t, m, "the README runs examples/ei.yaml")
	line := strings.ReplaceAll(strings.ReplaceAll(m[1], "\\\n", " "), "$out", out)
	args := append([]string{"run", examples + "ei.yaml"}, strings.Fields(line)...)
	_, stderr, err := lrctl2(t, args...)
	require.NoError(t, err, stderr)
	for _, f := range []string{"ei.npz", "ei.png", "ei-v.png"} {
		st, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
		require.Positive(t, st.Size())
	}

	pyRe := regexp.MustCompile("(?s)python3 - \\$out/ei.npz <<'PY'\n(.*?)\nPY\n")
	m = pyRe.FindStringSubmatch(readme)
	require.NotNil(t, m, "the README loads the .npz in NumPy")
	py, err := exec.LookPath("python3")
	if err == nil && exec.Command(py, "-c", "import numpy").Run() != nil {
		py, err = "/usr/bin/python3", exec.Command("/usr/bin/python3", "-c", "import numpy").Run()
	}
	if err != nil {
		t.Skip("no python3 with NumPy here (apt-get install python3-numpy): the lrctl half ran")
	}
	cmd := exec.Command(py, "-", filepath.Join(out, "ei.npz"))
	cmd.Stdin = strings.NewReader(m[1])
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", got)
	require.Contains(t, string(got), "['steps', 'spikes/exc', 'spikes/inh', 'probe/exc/v', 'neurons/exc/v']")
	require.Contains(t, string(got), "exc spikes per neuron and step: 0.0")
	require.Contains(t, string(got), "v of exc[0], first 10 steps: [")
}
