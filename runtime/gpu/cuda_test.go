//go:build linux

package gpu

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"
)

// openCUDAOrSkip opens the real CUDA backend. Without a driver or a device the test skips
// with the reason ("gpu: no CUDA driver: ..."), unless LRCHIP_REQUIRE_GPU=1 (what
// scripts/gpu-check.sh sets), where it fails.
func openCUDAOrSkip(t *testing.T) Device {
	t.Helper()
	d, err := Open(CUDA, Opts{})
	if errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoDevice) {
		if os.Getenv("LRCHIP_REQUIRE_GPU") == "1" {
			t.Fatalf("LRCHIP_REQUIRE_GPU=1 but %v", err)
		}
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	t.Logf("device: %+v", d.Info())
	return d
}

func TestCUDAReadoutMatchesDirect(t *testing.T) {
	d := openCUDAOrSkip(t)
	require.Equal(t, CUDA, d.Info().Backend)
	checkBackend(t, d)
}

// TestCUDABitIdenticalToCPU compares the raw output bytes of the two backends.
func TestCUDABitIdenticalToCPU(t *testing.T) {
	d := openCUDAOrSkip(t)
	cpu, err := Open(CPU, Opts{})
	require.NoError(t, err)
	defer cpu.Close()
	for _, c := range readoutCases() {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, runReadout(t, cpu, c), runReadout(t, d, c))
		})
	}
}

func TestCUDAInfoAndClose(t *testing.T) {
	d := openCUDAOrSkip(t)
	info := d.Info()
	require.NotEmpty(t, info.Name)
	require.NotZero(t, info.Memory)
	s, err := d.NewStream()
	require.NoError(t, err)
	reg, err := d.RegisterHost(pageAligned(t, 1<<16))
	require.NoError(t, err)
	ro, err := d.LoadReadout(Layer{M: 1, N: 1, W: []int32{1}})
	require.NoError(t, err)
	require.NoError(t, reg.Close())
	require.NoError(t, reg.Close(), "idempotent")
	require.NoError(t, ro.Close())
	require.NoError(t, s.Close())
}

// fakeDriver builds testdata/fakecuda.c into a shared library that stands in for
// libcuda.so.1, so that the CUDA backend's calls (symbols, arguments, kernel parameters,
// contexts, ownership) are exercised without a GPU. It needs a C compiler.
func fakeDriver(t *testing.T) (lib string, live func() [7]int32, setNoDevice func(bool)) {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the fake driver", cc)
	}
	lib = filepath.Join(t.TempDir(), "libfakecuda.so")
	out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", lib, "testdata/fakecuda.c").CombinedOutput()
	require.NoError(t, err, "%s", out)
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	require.NoError(t, err)
	var liveFn func(out *[7]int32)
	var noDev func(v int32)
	purego.RegisterLibFunc(&liveFn, h, "fakecuda_live")
	purego.RegisterLibFunc(&noDev, h, "fakecuda_set_nodevice")
	live = func() (v [7]int32) { liveFn(&v); return v }
	setNoDevice = func(b bool) {
		if b {
			noDev(1)
		} else {
			noDev(0)
		}
	}
	return lib, live, setNoDevice
}

func TestFakeDriver(t *testing.T) {
	lib, live, setNoDevice := fakeDriver(t)

	setNoDevice(true)
	_, err := Open(CUDA, Opts{Library: lib})
	require.ErrorIs(t, err, ErrNoDevice)
	require.ErrorContains(t, err, "cuInit: CUDA_ERROR_NO_DEVICE (100)")
	d, err := Open(Auto, Opts{Library: lib})
	require.NoError(t, err)
	require.Equal(t, CPU, d.Info().Backend, "auto falls back to the CPU without a device")
	require.NoError(t, d.Close())
	setNoDevice(false)

	_, err = Open(CUDA, Opts{Library: lib, Device: 3})
	require.ErrorIs(t, err, ErrNoDevice)

	d, err = Open(Auto, Opts{Library: lib})
	require.NoError(t, err)
	require.Equal(t, Info{Backend: CUDA, Name: "Fake CUDA Device", Memory: 1 << 30, Driver: "12.4", Arch: "sm_90"}, d.Info())

	t.Run("readout", func(t *testing.T) { checkBackend(t, d) })
	cpu, err := Open(CPU, Opts{})
	require.NoError(t, err)
	defer cpu.Close()
	for _, c := range readoutCases() {
		require.Equal(t, runReadout(t, cpu, c), runReadout(t, d, c), c.name)
	}
	v := live()
	require.Equal(t, [6]int32{1, 1, 0, 0, 0, 0}, [6]int32(v[:6]), "objects closed one by one are released")
	require.Positive(t, v[6], "launches")

	// Calls from many goroutines each make the context current on their own thread.
	s, err := d.NewStream()
	require.NoError(t, err)
	ro, err := d.LoadReadout(Layer{M: 2, N: 2, W: []int32{1, 2, 3, 4}})
	require.NoError(t, err)
	mem := pageAligned(t, 4096)
	reg, err := d.RegisterHost(mem)
	require.NoError(t, err)
	_, err = d.RegisterHost(mem)
	require.ErrorIs(t, err, ErrCUDA, "registering twice is the driver's error, reported")
	done := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for range 50 {
				if err = ro.Launch(s, reg, Batch{In: 0, Out: 64, Windows: 1}); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
	// Launching beyond the registration is caught before the driver sees it.
	require.ErrorIs(t, ro.Launch(s, reg, Batch{In: 4096, Out: 64, Windows: 1}), ErrBatch)
	e, err := d.NewEvent()
	require.NoError(t, err)
	require.NoError(t, e.Record(s))
	require.Equal(t, int32(1), live()[5])

	// Close releases what is still open: registration, stream, readout memory, event,
	// module and context.
	require.NoError(t, d.Close())
	v = live()
	require.Equal(t, [6]int32{}, [6]int32(v[:6]))
	require.ErrorIs(t, ro.Launch(s, reg, Batch{Out: 64, Windows: 1}), ErrClosed)
	require.NoError(t, reg.Close(), "closing after the device is a no-op")
	require.NoError(t, d.Close())
}

func TestFakeDriverBadPTXLog(t *testing.T) {
	// The JIT log comes back in the error; exercised by swapping the embedded PTX.
	lib, _, _ := fakeDriver(t)
	saved := readoutPTX
	readoutPTX = "// not a kernel\n"
	defer func() { readoutPTX = saved }()
	_, err := Open(CUDA, Opts{Library: lib})
	require.ErrorIs(t, err, ErrCUDA)
	require.ErrorContains(t, err, "JIT log: fake: not the readout PTX")
	require.True(t, bytes.Contains([]byte(err.Error()), []byte("cuModuleLoadDataEx")))
}
