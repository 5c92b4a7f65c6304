package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/pipeline"
)

const examplePipeline = "../../examples/pipeline/pipeline.yaml"

func TestPipelineCommand(t *testing.T) {
	out, err := lrctl(t, "pipeline", "--device", "emu:", examplePipeline, "--gpu", "cpu", "--windows", "40", "--window", "50", "--depth", "3", "--json")
	require.NoError(t, err, out)
	var r pipeline.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	require.Equal(t, 40, r.Windows)
	require.Equal(t, int64(40*50), r.Steps)
	require.Equal(t, gpu.CPU, r.GPU.Backend)
	require.Equal(t, 3, r.Depth)
	require.LessOrEqual(t, r.MaxInFlight, 3)
	require.Equal(t, 5, r.Classes)
	require.GreaterOrEqual(t, r.Accuracy, 0.8)
	require.Positive(t, r.WindowsPerS)
	for _, k := range []string{"chip", "queue", "gpu", "kernel", "end_to_end"} {
		require.Positive(t, r.Latency[k].Count, k)
		require.LessOrEqual(t, r.Latency[k].P50US, r.Latency[k].P99US, k)
	}

	out, err = lrctl(t, "pipeline", examplePipeline, "--gpu", "cpu", "--windows", "10")
	require.NoError(t, err, out)
	for _, want := range []string{"throughput", "windows/s", "end to end", "p99", "accuracy", "backpressure"} {
		require.Contains(t, out, want)
	}
}

func TestPipelineCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "readout.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"format":"lrchip-readout","version":1,"m":2,"n":3,"weights":[[1,2,3],[4,5,6]]}`), 0o644))
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"device", []string{"--device", "usb:1209:0001", examplePipeline}, "this build has no USB transport"},
		{"missing network", []string{filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"missing readout", []string{"--readout", filepath.Join(dir, "none.json"), examplePipeline}, "none.json"},
		{"readout shape", []string{"--readout", bad, examplePipeline}, "readout takes 3 counts, the chip has 32 outputs"},
		{"backend", []string{"--gpu", "opencl", examplePipeline}, "unknown backend"},
		{"port", []string{"--output", "nope", examplePipeline}, `no output "nope"`},
		{"patterns", []string{"--classes", "50", examplePipeline}, "50 classes over 20 input neurons"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := lrctl(t, append([]string{"pipeline", "--gpu", "cpu", "--windows", "2"}, c.args...)...)
			require.ErrorContains(t, err, c.msg)
		})
	}
	// Without a GPU, --gpu cuda says so.
	d, err := gpu.Open(gpu.CUDA, gpu.Opts{})
	if err == nil {
		d.Close()
		t.Skip("this machine has CUDA")
	}
	_, err = lrctl(t, "pipeline", "--gpu", "cuda", "--windows", "2", examplePipeline)
	require.True(t, errors.Is(err, gpu.ErrNoDriver) || errors.Is(err, gpu.ErrNoDevice), "%v", err)
}

// TestPipelineThroughEmulatorProcess runs the pipeline on a board served by another
// "process" (emu:unix:, through the driver) and checks it gives the scores of the in-process
// emulator: the same network, the same input patterns, the same accuracy and spike counts.
func TestPipelineThroughEmulatorProcess(t *testing.T) {
	dir := shortRunDir(t)
	uri := serve(t, dir)
	run := func(dev string) pipeline.Report {
		out, err := lrctl(t, "pipeline", "--device", dev, examplePipeline, "--gpu", "cpu", "--windows", "12", "--window", "40", "--json")
		require.NoError(t, err, out)
		var r pipeline.Report
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
		return r
	}
	local, remote := run("emu:"), run(uri)
	require.True(t, strings.HasPrefix(remote.Device, uri+" "), remote.Device)
	require.Equal(t, local.Accuracy, remote.Accuracy)
	require.Equal(t, local.Steps, remote.Steps)
	require.Equal(t, local.Spikes, remote.Spikes)
	require.NotZero(t, local.Spikes)
}
