package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/image"
)

func TestImageBuildInspect(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "hello.lrni")
	stdout, _, err := lrctl2(t, "image", "build", examples+"hello.yaml", "-o", img, "--chip", "4x4")
	require.NoError(t, err)
	b, err := os.ReadFile(img)
	require.NoError(t, err)
	decoded, err := image.Decode(b)
	require.NoError(t, err)
	require.Contains(t, stdout, "wrote "+img+": ")
	require.Contains(t, stdout, "2 cores, 2 connections, needs a 2×4 chip, sha256 ")

	stdout, _, err = lrctl2(t, "image", "inspect", img)
	require.NoError(t, err)
	for _, want := range []string{
		img + ": network image v1 of network hello, ",
		"needs:   a chip of at least 2 cores × 4 neurons",
		"totals:  2 cores, 8 neurons, 2 connections, 32 synapses",
		"core 0: lif (15 instructions), 4 neurons, population exc[0:4], 1 incoming connection",
		"consts du=4095 dv=256 vth=200; params bias_mant, bias_exp; state u, v",
		"core 1: lif (15 instructions), 4 neurons, population exc[4:8], 1 incoming connection",
		"0 in: 4 neurons",
		"0 in->exc: input in[0:4] → core 0[0:4], dense, 16 synapses (12 of weight 0), EXCITATORY, 8 bits, exp 0, binary",
		"1 in->exc: input in[0:4] → core 1[0:4], dense, 16 synapses",
		"out: population exc[0:8] on core 0[0:4], core 1[0:4]",
		"exc: 8 neurons on core 0[0:4], core 1[0:4]; fields u, v, a, spike",
	} {
		require.Contains(t, stdout, want)
	}
	require.Contains(t, stdout, "sha256:  ")

	stdout, _, err = lrctl2(t, "image", "inspect", "--json", img)
	require.NoError(t, err)
	var s imageSummary
	require.NoError(t, json.Unmarshal([]byte(stdout), &s))
	require.Equal(t, "hello", s.Network)
	require.Equal(t, len(b), s.Bytes)
	require.Equal(t, sizeSummary{Cores: 2, NeuronsPerCore: 4}, s.Size)
	require.Len(t, s.Cores, 2)
	require.Equal(t, map[string]int32{"du": 4095, "dv": 256, "vth": 200}, s.Cores[0].Consts)
	require.Len(t, s.Connections, 2)
	require.Equal(t, "dense", s.Connections[0].Format)
	require.Equal(t, int64(32), s.Totals["synapses"])
	require.Equal(t, []string{"core 0[0:4]", "core 1[0:4]"}, s.Outputs[0].Blocks)
	require.Equal(t, []string{"u", "v", "a", "spike"}, s.Populations[0].Fields)
	require.Len(t, s.SHA256, 64)
	require.Equal(t, hex.EncodeToString(decoded.SHA256[:]), s.SHA256)

	// Default output name: the description's, with .lrni.
	src := filepath.Join(dir, "net.yaml")
	data, err := os.ReadFile(examples + "rf.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(src, data, 0o644))
	_, _, err = lrctl2(t, "image", "build", src)
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "net.lrni"))
}

func TestImageErrors(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "h.lrni")
	_, _, err := lrctl2(t, "image", "build", examples+"hello.yaml", "-o", img)
	require.NoError(t, err)
	good, err := os.ReadFile(img)
	require.NoError(t, err)
	corrupt := append([]byte(nil), good...)
	corrupt[200] ^= 1
	bad := filepath.Join(dir, "bad.lrni")
	require.NoError(t, os.WriteFile(bad, corrupt, 0o644))

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"inspect a description", []string{"image", "inspect", examples + "hello.yaml"}, `is not a network image (it does not start with "LRNI"); build one with lrctl image build`},
		{"inspect corrupt", []string{"image", "inspect", bad}, bad + ": image: decode: network image checksum mismatch: offset " + strconv.Itoa(len(good)-32) + " (sha256)"},
		{"inspect missing", []string{"image", "inspect", filepath.Join(dir, "none")}, "image inspect: open "},
		{"build invalid", []string{"image", "build", examples + "hello_spikes.csv"}, "network: "},
		{"build too big", []string{"image", "build", examples + "hello.yaml", "--chip", "1x2", "-o", img}, `network: input "in": 4 neurons, an input port has at most 2 on a 1×2 chip`},
		{"build bad chip", []string{"image", "build", examples + "hello.yaml", "--chip", "9"}, `chip: size "9": bad chip size`},
		{"build unwritable", []string{"image", "build", examples + "hello.yaml", "-o", filepath.Join(dir, "no", "x.lrni")}, "image build: open "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := lrctl2(t, c.args...)
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), c.want), "%q does not contain %q", err.Error(), c.want)
		})
	}
}

// TestImageInspectSharedCore builds a network of more populations than the chip has cores:
// they share one, and inspect names each of them there.
func TestImageInspectSharedCore(t *testing.T) {
	dir := t.TempDir()
	var y strings.Builder
	y.WriteString("name: many\ninputs:\n  - {name: in, size: 2}\npopulations:\n")
	for i := range 3 {
		y.WriteString("  - {name: p" + strconv.Itoa(i) + ", size: 3, program: lif, consts: {du: 4095, dv: 256, vth: 200}}\n")
	}
	y.WriteString("connections:\n")
	for i := range 3 {
		y.WriteString("  - {from: in, to: p" + strconv.Itoa(i) + ", weights: 40, weight_exp: -1}\n")
	}
	src, img := filepath.Join(dir, "many.yaml"), filepath.Join(dir, "many.lrni")
	require.NoError(t, os.WriteFile(src, []byte(y.String()), 0o644))
	_, _, err := lrctl2(t, "image", "build", src, "-o", img, "--chip", "2x16")
	require.NoError(t, err)
	stdout, _, err := lrctl2(t, "image", "inspect", img)
	require.NoError(t, err)
	require.Contains(t, stdout, "core 0: lif (15 instructions), 9 neurons, populations p0[0:3], p1[0:3], p2[0:3], "+
		"3 incoming connections (3 with an accumulator bank)")
	require.Contains(t, stdout, "p1: 3 neurons on core 0[3:6]")
}
