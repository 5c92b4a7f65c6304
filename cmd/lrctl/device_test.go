package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/asm"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/syn"
)

// lrctlCtx runs lrctl in this process with a context; stdout and stderr are kept apart.
func lrctlCtx(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// testImage writes a small network image: 4 relay neurons fed by a 4-neuron input port.
func testImage(t *testing.T) string {
	prog, err := asm.Assemble("relay.lra", []byte(".program relay\n.state last\n.temp fire\n\tmov last, a\n\tsgt fire, a, 0\n\tspkg fire, a\n"))
	require.NoError(t, err)
	img := &image.Image{Name: "relay", Size: chip.Size{Cores: 1, NeuronsPerCore: 4},
		Cores:   []image.Core{{Index: 0, Program: prog, Neurons: 4}},
		Inputs:  []image.Input{{Name: "in", Size: 4}},
		Conns:   []image.Conn{{Name: "in", Kind: image.FromInput, SrcCount: 4, DstCount: 4, Weights: make([]int32, 16), SignMode: syn.Mixed, WeightBits: 8}},
		Pops:    []image.Population{{Name: "p", Size: 4, Segments: []image.Segment{{Core: 0, Count: 4}}}},
		Outputs: []image.Output{{Name: "out", Pop: 0, Count: 4}}}
	b, err := img.MarshalBinary()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "relay.lrni")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// serve runs "lrctl emu serve" in this process and returns its URI.
func serve(t *testing.T, dir string) string {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := lrctlCtx(ctx, "emu", "serve", "--serial", "77")
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	path := filepath.Join(dir, "emu0.sock")
	require.Eventually(t, func() bool {
		_, err := driver.Query(context.Background(), path, time.Second)
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	return "emu:unix:" + path
}

func shortRunDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "lrctl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	t.Setenv(driver.RunDirEnv, d)
	return d
}

func TestDeviceCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := shortRunDir(t)

	// Nothing there: list says so, on stderr, and prints nothing.
	out, errOut, err := lrctlCtx(ctx, "list")
	require.NoError(t, err)
	require.Empty(t, out)
	require.Contains(t, errOut, "no devices found: no USB or PCIe board, no emulator serving in "+dir)
	out, _, err = lrctlCtx(ctx, "list", "--json")
	require.NoError(t, err)
	require.Equal(t, "[]\n", out)

	uri := serve(t, dir)
	out, _, err = lrctlCtx(ctx, "list")
	require.NoError(t, err)
	require.Contains(t, out, uri)
	require.Contains(t, out, "emulator")
	require.Contains(t, out, "77")
	var found []map[string]any
	out, _, err = lrctlCtx(ctx, "list", "--json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &found))
	require.Len(t, found, 1)
	require.Equal(t, uri, found[0]["uri"])
	require.Equal(t, "77", found[0]["serial"])
	require.Equal(t, map[string]any{"cores": float64(8), "neurons_per_core": float64(1024)}, found[0]["size"])

	out, _, err = lrctlCtx(ctx, "info", "--device", uri)
	require.NoError(t, err)
	require.Contains(t, out, "8 cores × 1024 neurons")
	require.Contains(t, out, "serial 77")
	var info map[string]any
	out, _, err = lrctlCtx(ctx, "info", "--device", uri, "--json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	require.Equal(t, "1.0", info["protocol"])
	require.Equal(t, map[string]any{"cores": float64(8), "neurons_per_core": float64(1024)}, info["size"])
	require.Equal(t, "77", info["serial"], "a string, as in list")
	require.Equal(t, true, info["status"].(map[string]any)["ready"])

	img := testImage(t)
	out, _, err = lrctlCtx(ctx, "load", "--device", uri, img)
	require.NoError(t, err)
	require.Contains(t, out, "loaded")
	// The emulator process keeps it: the next host finds it loaded.
	out, _, err = lrctlCtx(ctx, "info", "--device", uri)
	require.NoError(t, err)
	require.Contains(t, out, "loaded")
	out, _, err = lrctlCtx(ctx, "load", "--device", uri, "--dry-run", "--json", img)
	require.NoError(t, err)
	require.Contains(t, out, `"dry_run": true`)
	bad := filepath.Join(t.TempDir(), "bad")
	require.NoError(t, os.WriteFile(bad, []byte("LRNI nonsense"), 0o644))
	_, _, err = lrctlCtx(ctx, "load", "--device", uri, bad)
	require.ErrorContains(t, err, "BAD_IMAGE")

	out, _, err = lrctlCtx(ctx, "sensors", "--device", uri)
	require.NoError(t, err)
	require.Contains(t, out, "core")
	require.Contains(t, out, "temperature")
	var s driver.Sensors
	out, _, err = lrctlCtx(ctx, "sensors", "--device", uri, "--json")
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	require.Len(t, raw["rails"], 3)
	_ = s

	// A second emulator gets the next socket.
	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	go lrctlCtx(ctx2, "emu", "serve", "--size", "2x256")
	require.Eventually(t, func() bool {
		_, err := driver.Query(ctx, filepath.Join(dir, "emu1.sock"), time.Second)
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	out, _, err = lrctlCtx(ctx, "list")
	require.NoError(t, err)
	require.Contains(t, out, "2×256")
	cancel2()
}

func TestDefaultDeviceIsTheEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shortRunDir(t)
	out, errOut, err := lrctlCtx(ctx, "info")
	require.NoError(t, err)
	require.Contains(t, out, "emu:")
	// Said once per process, on stderr.
	require.True(t, strings.Contains(errOut, "using the in-process emulator") || errOut == "", errOut)
	_, errOut2, err := lrctlCtx(ctx, "sensors")
	require.NoError(t, err)
	require.Empty(t, errOut2)
}

func TestValidateCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shortRunDir(t)
	out, _, err := lrctlCtx(ctx, "validate", "--device", "emu:", "--bandwidth-mib", "4")
	require.NoError(t, err, out)
	for _, c := range []string{"registers", "round trip", "core memory", "conformance", "sensors", "bandwidth host→board", "bandwidth board→host"} {
		require.Contains(t, out, "PASS  "+c)
	}
	require.NotContains(t, out, "FAIL")
	out, _, err = lrctlCtx(ctx, "validate", "--device", "emu:", "--bandwidth-mib", "1", "--json", "--vector", "/nonexistent.json")
	require.Equal(t, exitError{1}, err)
	require.Contains(t, out, `"passed": false`)
	_, _, err = lrctlCtx(ctx, "validate", "--device", "usb:1209:0001")
	require.ErrorContains(t, err, "this build has no USB transport")
}
