package conformance

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/emu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const vectors = "../../../shared/vectors"

// emuDevice is the in-process emulator as a device.
func emuDevice(t testing.TB) device.Device {
	d, err := emu.NewDevice(emu.Opts{})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// TestLavaVectors runs every conformance vector shipped in shared/ on the emulator. These
// files are the proof of bit-exactness; the test never skips.
func TestLavaVectors(t *testing.T) {
	for _, dir := range []struct {
		name string
		want int
	}{{"lava", 48}, {"lava-graded", 32}} {
		files, err := Files([]string{filepath.Join(vectors, dir.name)})
		require.NoError(t, err, "the conformance vectors must be at %s", vectors)
		require.Len(t, files, dir.want, dir.name)
		for _, f := range files {
			r := RunFile(context.Background(), emuDevice(t), f)
			require.NoError(t, r.Err, f)
			require.Greater(t, r.Compared, 0)
			if !assert.Zero(t, r.Total, f) {
				for _, m := range r.Mismatches {
					t.Log(m)
				}
			}
		}
	}
}

// TestMismatchIsReported corrupts one expected value and checks the report names it exactly.
func TestMismatchIsReported(t *testing.T) {
	src := filepath.Join(vectors, "lava", "s101_lif.json")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	v := m["v"].([]any)
	row := v[7].([]any)
	orig := row[3].(float64)
	row[3] = orig + 1
	out, err := json.Marshal(m)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(path, out, 0o644))

	r := RunFile(context.Background(), emuDevice(t), path)
	require.NoError(t, r.Err)
	require.Equal(t, 1, r.Total)
	got := r.Mismatches[0]
	assert.Equal(t, Mismatch{File: path, Step: 7, Neuron: 3, Field: "v", Expected: int32(orig + 1), Actual: int32(orig)}, got)
	assert.Contains(t, got.String(), "step 7 (Lava step 8), neuron 3, v: expected")
}

func TestParseVectorRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(vectors, "lava", "s100_lif.json"))
	require.NoError(t, err)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	params := func(m map[string]any) map[string]any { return m["params"].(map[string]any) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("{"), "malformed vector file"},
		{"no params", []byte(`{"a_in": []}`), "no params"},
		{"unknown model", edit(func(m map[string]any) { params(m)["model"] = "izhikevich" }), `unknown kind/model "izhikevich"`},
		{"steps out of range", edit(func(m map[string]any) { params(m)["steps"] = 0 }), "params.steps = 0"},
		{"huge n_out", edit(func(m map[string]any) { params(m)["n_out"] = 1 << 30 }), "params.n_out"},
		{"short bias", edit(func(m map[string]any) { params(m)["bias_mant"] = []int{1} }), "params.bias_mant has 1 entries"},
		{"du out of range", edit(func(m map[string]any) { params(m)["du"] = 5000 }), "params.du = 5000 out of range"},
		{"missing rows", edit(func(m map[string]any) { m["u"] = []any{} }), "u has 0 rows"},
		{"value too wide", edit(func(m map[string]any) { m["v"].([]any)[0].([]any)[0] = 1 << 40 }), "v[0][0] = 1099511627776 does not fit in 32 bits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVector(tc.data)
			require.ErrorIs(t, err, ErrVector)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestImageRejectsBadSignMode(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(vectors, "lava", "s100_lif.json"))
	require.NoError(t, err)
	v, err := ParseVector(data)
	require.NoError(t, err)
	v.Params.SignMode = "SIDEWAYS"
	_, err = Image(v, chip.Prototype)
	require.ErrorContains(t, err, `unknown sign mode "SIDEWAYS"`)
}

// tinyVector is a small valid vector: a fast seed for the fuzzer.
const tinyVector = `{"params":{"model":"lif","steps":2,"n_in":1,"n_out":2,"du":10,"dv":20,"vth":5,
"bias_mant":[1,2],"bias_exp":[0,1],"u0":[0,0],"v0":[0,0],"weights":[[3],[-4]],"weight_exp":0,
"num_weight_bits":8,"sign_mode":"MIXED"},"input_spikes":[[1],[0]],"weights_effective":[[2],[-4]],
"a_in":[[0,0],[2,-4]],"u":[[0,0],[128,-256]],"v":[[1,4],[129,-249]],"s":[[0,0],[0,0]]}`

func TestTinyVector(t *testing.T) {
	v, err := ParseVector([]byte(tinyVector))
	require.NoError(t, err)
	res := &Result{File: "tiny"}
	require.NoError(t, Run(context.Background(), emuDevice(t), v, res))
	require.Zero(t, res.Total, "%v", res.Mismatches)
}

// FuzzParseVector: any input gives a vector or an error, never a panic; an accepted small
// vector runs to completion (results may differ, but nothing crashes).
func FuzzParseVector(f *testing.F) {
	f.Add([]byte(tinyVector))
	f.Add([]byte(strings.Replace(tinyVector, `"lif"`, `"lifreset","reset_interval":2,"reset_offset":1`, 1)))
	f.Add([]byte(`{"kind":"sdn","params":{"steps":1,"n_in":1,"n_out":1,"act_mode":"RELU","cum_error":true}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVector(data)
		if err != nil {
			return
		}
		if v.Steps*(v.NOut+v.NIn) > 1<<12 {
			return // keep each fuzz run quick
		}
		res := &Result{}
		_ = Run(context.Background(), emuDevice(t), v, res)
	})
}
