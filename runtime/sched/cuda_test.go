//go:build linux

package sched

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/runtime/gpu"
)

// TestPipelineCUDAMatchesDirect runs the pipeline with the CUDA backend: the kernel reads the
// counts from the ring in registered host memory and writes the scores back into it. Without
// a driver or a device it skips ("gpu: no CUDA driver: ..."), unless LRCHIP_REQUIRE_GPU=1.
func TestPipelineCUDAMatchesDirect(t *testing.T) {
	dev, err := gpu.Open(gpu.CUDA, gpu.Opts{})
	if errors.Is(err, gpu.ErrNoDriver) || errors.Is(err, gpu.ErrNoDevice) {
		if os.Getenv("LRCHIP_REQUIRE_GPU") == "1" {
			t.Fatalf("LRCHIP_REQUIRE_GPU=1 but %v", err)
		}
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	defer dev.Close()
	for _, depth := range []int{1, 4} {
		noLeaks(t)
		const windows, window = 40, 10
		want := direct(t, windows, window)
		ec := testChip(t)
		var col collector
		p, err := New(ec, dev, layer(), Opts{Window: window, Depth: depth, Input: input, OnResult: col.add})
		require.NoError(t, err)
		st, err := p.Run(context.Background(), windows)
		require.NoError(t, err)
		require.NoError(t, p.Close())
		require.Equal(t, want, col.got)
		require.Equal(t, gpu.CUDA, st.Backend)
		t.Logf("depth %d: %.0f windows/s, gpu stage %v, kernels %v", depth, st.WindowsPerSec(), st.GPU, st.Kernel)
	}
}

// TestPipelineFakeDriver runs the pipeline on the CUDA backend against the stand-in driver of
// runtime/gpu/testdata (built with the C compiler), which checks that every launch reads and
// writes inside the registered ring memory through device pointers.
func TestPipelineFakeDriver(t *testing.T) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the fake driver", cc)
	}
	lib := filepath.Join(t.TempDir(), "libfakecuda.so")
	out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", lib, "../gpu/testdata/fakecuda.c").CombinedOutput()
	require.NoError(t, err, "%s", out)
	dev, err := gpu.Open(gpu.CUDA, gpu.Opts{Library: lib})
	require.NoError(t, err)
	defer dev.Close()
	require.Equal(t, "Fake CUDA Device", dev.Info().Name)
	noLeaks(t)
	const windows, window = 30, 7
	want := direct(t, windows, window)
	ec := testChip(t)
	var col collector
	p, err := New(ec, dev, layer(), Opts{Window: window, Depth: 3, Input: input, OnResult: col.add})
	require.NoError(t, err)
	st, err := p.Run(context.Background(), windows)
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.Equal(t, want, col.got)
	require.Equal(t, gpu.CUDA, st.Backend)
}
