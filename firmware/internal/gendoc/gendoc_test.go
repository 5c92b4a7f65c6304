package gendoc

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGeneratedDocsAreCurrent fails when a generated block in docs/ differs from what the
// code defines now: run `go generate ./firmware/...` and commit the result.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	for _, f := range []string{"../../../docs/chip.md"} {
		in, err := os.ReadFile(f)
		require.NoError(t, err)
		out, err := Apply(in, Blocks())
		require.NoError(t, err)
		require.Equal(t, string(in), string(out), "%s is stale: run go generate ./firmware/...", f)
	}
}

func TestApplyReplacesOnlyTheBlock(t *testing.T) {
	doc := "head\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\ntail\n"
	out, err := Apply([]byte(doc), map[string]string{"x": "new\n"})
	require.NoError(t, err)
	require.Equal(t, "head\n<!-- BEGIN GENERATED: x -->\nnew\n<!-- END GENERATED: x -->\ntail\n", string(out))
	_, err = Apply([]byte("<!-- BEGIN GENERATED: x -->\n"), map[string]string{"x": ""})
	require.Error(t, err)
}
