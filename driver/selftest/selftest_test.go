package selftest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver"
	_ "github.com/lrchip/lrchip/emu/register" // emu:
)

func TestValidateTheEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := driver.Open(ctx, "emu:", driver.Opts{})
	require.NoError(t, err)
	defer d.Close()
	r := Run(ctx, d, Opts{BandwidthBytes: 8 << 20, RoundTrips: 200})
	for _, c := range r.Checks {
		t.Logf("%-22s %v %s (%.1f %s)", c.Name, c.Passed, c.Detail, c.Value, c.Unit)
	}
	require.True(t, r.Passed)
	require.Len(t, r.Checks, 8)
}

// TestEveryVectorAsAnImage runs every non-stress conformance vector through the board
// protocol, as images.
func TestEveryVectorAsAnImage(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	files, err := filepath.Glob("../../../shared/vectors/*/*.json")
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skip("no vectors in ../shared")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := driver.Open(ctx, "emu:", driver.Opts{})
	require.NoError(t, err)
	defer d.Close()
	for _, f := range files {
		c, err := vector(ctx, d, Opts{Vector: f})
		require.NoError(t, err, f)
		t.Log(c.Detail)
	}
}

func TestVectorFailuresAreReported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := driver.Open(ctx, "emu:", driver.Opts{})
	require.NoError(t, err)
	defer d.Close()
	r := Run(ctx, d, Opts{Vector: "/nonexistent.json", BandwidthBytes: 1 << 20, RoundTrips: 10})
	require.False(t, r.Passed)
	require.Len(t, r.Checks, 8, "a failed check does not stop the others")
	for _, c := range r.Checks {
		if c.Name == "conformance" {
			require.False(t, c.Passed)
			require.Contains(t, c.Detail, "nonexistent")
		}
	}
}
