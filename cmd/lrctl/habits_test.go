package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The CLI habits of git and kubectl: unknown subcommands fail with a suggestion, arguments
// are named, flag typos get the nearest flag, bad numbers are said in words.
func TestCLIHabits(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"image", "biuld", "x.yaml"}, `lrctl image: unknown command "biuld" (did you mean build?); it has build, inspect`},
		{[]string{"emu", "srve"}, `lrctl emu: unknown command "srve" (did you mean serve?)`},
		{[]string{"bnech"}, `lrctl: unknown command "bnech" (did you mean bench?)`},
		{[]string{"run", "a.yaml", "b.yaml", "--steps", "3"}, `lrctl run: unexpected argument "b.yaml" (after NETWORK) (usage: lrctl run `},
		{[]string{"pipeline"}, "lrctl pipeline: missing NETWORK"},
		{[]string{"image", "build"}, "lrctl image build: missing NETWORK"},
		{[]string{"image", "inspect", "a", "b"}, `lrctl image inspect: unexpected argument "b" (after FILE)`},
		{[]string{"load"}, "lrctl load: missing IMAGE"},
		{[]string{"conformance"}, "lrctl conformance: missing PATH"},
		{[]string{"list", "usb"}, `lrctl list: unexpected argument "usb" (takes no arguments)`},
		{[]string{"run", "--stpes", "3", "x.yaml"}, "lrctl run: unknown flag --stpes (did you mean --steps?)"},
		{[]string{"image", "build", "--chp", "full", "x.yaml"}, "unknown flag --chp (did you mean --chip?)"},
		{[]string{"run", "x.yaml", "--steps", "ten"}, `lrctl run: --steps "ten": not a whole number`},
		{[]string{"run", "x.yaml", "--steps", "99999999999999999999"}, `--steps "99999999999999999999": out of range for --steps`},
		{[]string{"emu", "serve", "--serial", "-1"}, `lrctl emu serve: --serial "-1": not a whole number ≥ 0`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, _, err := lrctl2(t, c.args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	// A group with no subcommand prints its help and succeeds, as git does.
	out, _, err := lrctl2(t, "image")
	require.NoError(t, err)
	require.Contains(t, out, "Available Commands")
}

func TestVersion(t *testing.T) {
	out, _, err := lrctl2(t, "version")
	require.NoError(t, err)
	for _, want := range []string{"lrctl", "commit", "protocol  1.0", "network image v1, neuron program v1", "go1.", "kernels"} {
		require.Contains(t, out, want)
	}
	out, _, err = lrctl2(t, "--version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "lrctl devel") || strings.HasPrefix(out, "lrctl v"), out)
	require.Contains(t, out, "protocol 1.0, image v1")
	out, _, err = lrctl2(t, "version", "--json")
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, "1.0", v["protocol"])
	require.Equal(t, float64(1), v["image_version"])
	require.NotEmpty(t, v["kernels"])
}

// Completion helps: devices from discovery, chip sizes, formats, probes from the network.
func TestCompletion(t *testing.T) {
	shortRunDir(t)
	out, _, err := lrctl2(t, "__complete", "run", examples+"hello.yaml", "--probe", "")
	require.NoError(t, err)
	for _, want := range []string{"exc:u\n", "exc:v\n", "exc:a\n", "exc:spike\n"} {
		require.Contains(t, out, want)
	}
	out, _, err = lrctl2(t, "__complete", "run", "--chip", "")
	require.NoError(t, err)
	require.Contains(t, out, "prototype\t")
	require.Contains(t, out, "full\t")
	out, _, err = lrctl2(t, "__complete", "run", "--format", "")
	require.NoError(t, err)
	require.Contains(t, out, "npz\t")
	out, _, err = lrctl2(t, "__complete", "info", "--device", "")
	require.NoError(t, err)
	require.Contains(t, out, "emu:\t")
	out, _, err = lrctl2(t, "__complete", "image", "build", "")
	require.NoError(t, err)
	require.Contains(t, out, "yaml\n")
}
