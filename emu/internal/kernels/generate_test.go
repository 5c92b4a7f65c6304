package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGeneratedKernelsAreCurrent regenerates the assembly with avo and compares it with the
// committed files: run `go generate ./emu/internal/kernels` and commit when it fails.
func TestGeneratedKernelsAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the avo generator; skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "run", "./gen", "-out", filepath.Join(dir, "k.s"), "-stubs", filepath.Join(dir, "k.go"), "-pkg", "kernels")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, f := range [][2]string{{"k.s", "kernels_amd64.s"}, {"k.go", "kernels_amd64.go"}} {
		got, err := os.ReadFile(filepath.Join(dir, f[0]))
		require.NoError(t, err)
		want, err := os.ReadFile(f[1])
		require.NoError(t, err)
		// The generator names its output files in a header comment; compare the rest.
		require.Equal(t, stripHeader(string(want)), stripHeader(string(got)), "%s is stale: run go generate ./emu/internal/kernels", f[1])
	}
}

func stripHeader(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
