// Package avotest checks that assembly generated with avo is current: it reruns a package's
// generator and compares its output with the committed files.
package avotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// CheckCurrent runs `go run ./gen -out S -stubs G -pkg pkg` in the calling test's package
// directory and fails the test when the results differ from the committed asm and stubs
// files, telling the reader to run `go generate pkgPath`. The first line of each file, where
// avo names the files it wrote, is not compared. Skipped in -short mode: it builds avo.
func CheckCurrent(t *testing.T, pkg, asm, stubs, pkgPath string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the avo generator; skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	gotAsm, gotStubs := filepath.Join(dir, "gen.s"), filepath.Join(dir, "gen.go")
	out, err := exec.Command(goBin, "run", "./gen", "-out", gotAsm, "-stubs", gotStubs, "-pkg", pkg).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, f := range [][2]string{{gotAsm, asm}, {gotStubs, stubs}} {
		got, err := os.ReadFile(f[0])
		require.NoError(t, err)
		want, err := os.ReadFile(f[1])
		require.NoError(t, err)
		require.Equal(t, dropFirstLine(string(want)), dropFirstLine(string(got)), "%s is stale: run go generate %s", f[1], pkgPath)
	}
}

func dropFirstLine(s string) string {
	if _, rest, ok := strings.Cut(s, "\n"); ok {
		return rest
	}
	return s
}
