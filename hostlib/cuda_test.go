package hostlib_test

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/hostlib"
	"github.com/lrchip/lrchip/runtime/gpu"
)

// TestCUDASameBits serves the example with the readout on CUDA, from concurrent callers,
// and checks every result against the CPU backend's. Without a driver or a device it skips
// ("gpu: no CUDA driver"), unless LRCHIP_REQUIRE_GPU=1 (scripts/gpu-check.sh's machines).
func TestCUDASameBits(t *testing.T) {
	d, err := gpu.Open(gpu.CUDA, gpu.Opts{})
	if errors.Is(err, gpu.ErrNoDriver) || errors.Is(err, gpu.ErrNoDevice) {
		if os.Getenv("LRCHIP_REQUIRE_GPU") == "1" {
			t.Fatalf("LRCHIP_REQUIRE_GPU=1 but %v", err)
		}
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	d.Close()
	const window = 20
	ins := inputSet(24, window)
	want := singleThreaded(t, ins, window) // CPU
	_, m := load(t, []string{"emu:", "emu:"}, hostlib.Spec{Window: window, GPU: gpu.CUDA})
	require.Equal(t, gpu.CUDA, m.Info().GPU)
	ps := make([]*hostlib.Pending, 0, 4*len(ins))
	for range 4 {
		for _, in := range ins {
			p, err := m.Submit(ctxT(t), in)
			require.NoError(t, err)
			ps = append(ps, p)
		}
	}
	for k, p := range ps {
		r, err := p.Wait(ctxT(t))
		require.NoError(t, err)
		requireEqualResult(t, want[k%len(ins)], r, "request %d", k)
	}
}
