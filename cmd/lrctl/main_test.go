package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lrchip/lrchip/device"
	"github.com/stretchr/testify/require"
)

// lrctl runs the command in-process and returns its output and error.
func lrctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestConformanceCommand(t *testing.T) {
	out, err := lrctl(t, "conformance", "../../../shared/vectors/lava", "../../../shared/vectors/lava-graded")
	require.NoError(t, err, out)
	require.True(t, strings.HasSuffix(out, "80 passed, 0 failed\n"), out)
}

func TestConformanceCommandFails(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../../shared/vectors/lava/s100_lif.json")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good.json"), good, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"params": {}}`), 0o644))
	out, err := lrctl(t, "conformance", dir)
	require.Equal(t, exitError{1}, err)
	require.Contains(t, out, "FAIL "+filepath.Join(dir, "bad.json"))
	require.True(t, strings.HasSuffix(out, "1 passed, 1 failed\n"), out)

	_, err = lrctl(t, "conformance", "--device", "nope:", dir)
	require.ErrorIs(t, err, device.ErrNoDevice)
	_, err = lrctl(t, "conformance", filepath.Join(dir, "missing"))
	require.Error(t, err)
}
