package main

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serveVFIOUserCmd runs "lrctl emu serve --vfio-user" in this process and returns its URI.
func serveVFIOUserCmd(t *testing.T, path string) string {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := lrctlCtx(ctx, "emu", "serve", "--vfio-user", path, "--serial", "88")
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	return "vfio-user:" + path
}

// TestVFIOUserCommands is the check: the emulated board served as a PCIe function
// over vfio-user passes the conformance suite and the self-test, and lrctl list finds it.
func TestVFIOUserCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := shortRunDir(t)
	uri := serveVFIOUserCmd(t, filepath.Join(dir, "pcie0.sock"))

	out, _, err := lrctlCtx(ctx, "conformance", "--device", uri, "../../../shared/vectors/lava", "../../../shared/vectors/lava-graded")
	require.NoError(t, err, out)
	require.True(t, strings.HasSuffix(out, "80 passed, 0 failed\n"), out)

	out, _, err = lrctlCtx(ctx, "validate", "--device", uri, "--bandwidth-mib", "4")
	require.NoError(t, err, out)
	require.NotContains(t, out, "FAIL")

	out, _, err = lrctlCtx(ctx, "list", "--json")
	require.NoError(t, err, out)
	var found []struct {
		URI    string `json:"uri"`
		Serial string `json:"serial"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &found))
	require.Len(t, found, 1, out)
	require.Equal(t, uri, found[0].URI)
	require.Equal(t, "88", found[0].Serial)

	out, _, err = lrctlCtx(ctx, "info", "--device", uri)
	require.NoError(t, err, out)
	require.Contains(t, out, "serial 88")
}
