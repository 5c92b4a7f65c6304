package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/network/run"
)

// lrctl2 runs the command in-process and returns its standard output and error output apart.
func lrctl2(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

const examples = "../../examples/"

// helloDirect computes examples/hello.yaml's output spikes on a chip configured by hand:
// "step,neuron" strings.
func helloDirect(t *testing.T, steps int) []string {
	c, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	require.NoError(t, c.SetCore(0, emu.CoreConfig{Program: programs.MustGet("lif"), Neurons: 8, Consts: []int32{4095, 256, 200}}))
	in, err := c.AddInput(4)
	require.NoError(t, err)
	w := make([]int32, 4*8) // [input][neuron]: input i → neuron 2i (100) and 2i+1 (50)
	for i := range 4 {
		w[i*8+2*i], w[i*8+2*i+1] = 100, 50
	}
	require.NoError(t, c.Connect(emu.Connection{Kind: emu.FromInput, Src: in, SrcCount: 4, Dst: 0, DstCount: 8,
		Weights: w, SignMode: syn.Excitatory, WeightBits: 8}))
	port, err := c.AddOutput(0, 0, 8)
	require.NoError(t, err)
	var out []string
	for s := 1; s <= steps; s++ {
		for i := range 4 {
			if (s-1)%(i+1) == 0 { // examples/hello_spikes.csv: neuron i every i+1 steps
				require.NoError(t, c.Inject(in, i, 1))
			}
		}
		c.Step()
		sp, err := c.Output(port, nil)
		require.NoError(t, err)
		for _, x := range sp {
			out = append(out, strconv.Itoa(s)+","+strconv.Itoa(int(x.Neuron)))
		}
	}
	return out
}

func TestRunHelloMatchesDirect(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	raster := filepath.Join(dir, "raster.svg")
	traces := filepath.Join(dir, "v.png")
	stdout, stderr, err := lrctl2(t, "run", examples+"hello.yaml", "--steps", "40", "--input", examples+"hello_spikes.csv",
		"--probe", "exc:v:0-1", "--out", out, "--raster", raster, "--plot", traces)
	require.NoError(t, err, stderr)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "ran 40 steps on emu: (in-process emulator, 8×1024) — 38 output spikes, 1 probes; wrote "+out)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"step", "kind", "name", "neuron", "value"}, rows[0])
	var got []string
	probes := 0
	for _, r := range rows[1:] {
		switch r[1] {
		case "spike":
			require.Equal(t, "out", r[2])
			require.Equal(t, "1", r[4])
			got = append(got, r[0]+","+r[3])
		case "probe":
			require.Equal(t, "exc:v", r[2])
			probes++
		}
	}
	want := helloDirect(t, 40)
	require.NotEmpty(t, want)
	require.Equal(t, want, got)
	require.Equal(t, 40*2, probes)

	for _, p := range []string{raster, traces} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.Greater(t, st.Size(), int64(1000), p)
	}
	svg, err := os.ReadFile(raster)
	require.NoError(t, err)
	require.Contains(t, string(svg), "<svg")
}

// TestRunExamples runs every example from its description and from its image (lrctl image
// build), in both output formats: the same spikes every way.
func TestRunExamples(t *testing.T) {
	cases := []struct {
		name, input string
		steps       int
		probe       string
		minSpikes   int
	}{
		{"hello", "hello_spikes.csv", 40, "exc:v", 30},
		{"sdn", "sdn_spikes.json", 80, "diff:act", 100},
		{"rf", "rf_spikes.csv", 96, "rf8:re:0", 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			desc := examples + c.name + ".yaml"
			img := filepath.Join(dir, c.name+".lrni")
			stdout, _, err := lrctl2(t, "image", "build", desc, "-o", img)
			require.NoError(t, err)
			require.Contains(t, stdout, "wrote "+img)
			steps := strconv.Itoa(c.steps)
			var results []run.Result
			for _, netw := range []string{desc, img} {
				stdout, stderr, err := lrctl2(t, "run", netw, "--steps", steps, "--input", examples+c.input, "--probe", c.probe, "--format", "json")
				require.NoError(t, err, stderr)
				var res run.Result
				require.NoError(t, json.Unmarshal([]byte(stdout), &res))
				results = append(results, res)
				stdout, stderr, err = lrctl2(t, "run", netw, "--steps", steps, "--input", examples+c.input)
				require.NoError(t, err, stderr)
				require.Equal(t, len(res.Spikes)+1, strings.Count(stdout, "\n"), "csv: a header and one line per spike")
			}
			require.Equal(t, results[0], results[1], "description and image run the same")
			require.GreaterOrEqual(t, len(results[0].Spikes), c.minSpikes)
			require.Len(t, results[0].Probes, 1)
			require.Len(t, results[0].Probes[0].Values, c.steps)
		})
	}
}

func TestRunGradedPayloads(t *testing.T) {
	stdout, _, err := lrctl2(t, "run", examples+"sdn.yaml", "--steps", "80", "--input", examples+"sdn_spikes.json", "--format", "json")
	require.NoError(t, err)
	var res run.Result
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	graded := false
	for _, s := range res.Spikes {
		if s.Payload != 1 {
			graded = true
		}
	}
	require.True(t, graded, "sigma-delta spikes carry payloads")
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	hello := examples + "hello.yaml"
	badNet := write("bad.yaml", "populations:\n  - {name: exc, size: 4, program: lif, consts: {du: 5000, dv: 0}}\n")
	bigNet := write("big.yaml", "populations:\n  - {name: exc, size: 9000, program: rf, consts: {cos_d: 0, sin_d: 0, vth: 1}}\n")
	badSpikes := write("bad.csv", "step,port,neuron\n1,in,0\n2,in\n")
	wrongPort := write("port.csv", "1,input,0\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no steps", []string{"run", hello}, "run: --steps N is required, at least 1"},
		{"device", []string{"run", "--device", "usb:1209:0001", hello, "--steps", "1"}, `usb:1209:0001: this build has no USB transport: build the lab build`},
		{"chip", []string{"run", hello, "--steps", "1", "--chip", "huge"}, `chip: size "huge": bad chip size: want prototype, full or CORESxNEURONS`},
		{"missing network", []string{"run", filepath.Join(dir, "none.yaml"), "--steps", "1"}, "no such file or directory"},
		{"invalid network", []string{"run", badNet, "--steps", "1"}, `network: population "exc": const du = 5000 outside [0, 4095] for program lif` + "\n" +
			`network: population "exc": const vth not given (program lif declares du, dv, vth)`},
		{"too big", []string{"run", bigNet, "--steps", "1"}, "network: needs 9 cores, chip has 8: 1 too many"},
		{"bad spikes", []string{"run", hello, "--steps", "5", "--input", badSpikes}, badSpikes + ": run: spikes: bad input spikes: line 3: 2 fields, want step,port,neuron[,payload]"},
		{"wrong port", []string{"run", hello, "--steps", "5", "--input", wrongPort}, wrongPort + `: run: bad input spikes: spike 1 (step 1, port "input", neuron 0): no input port of that name (have in)`},
		{"missing spikes", []string{"run", hello, "--steps", "5", "--input", filepath.Join(dir, "none.csv")}, "run: open "},
		{"probe syntax", []string{"run", hello, "--steps", "5", "--probe", "exc"}, `run: probe "exc": bad request: 1 parts (want POPULATION:FIELD[:NEURONS], e.g. exc:v:0-9)`},
		{"probe population", []string{"run", hello, "--steps", "5", "--probe", "inh:v"}, `run: probe inh:v: bad request: no population "inh" (have exc)`},
		{"probe field", []string{"run", hello, "--steps", "5", "--probe", "exc:w"}, `population "exc": chip: field "w": no such field (state u, v, and a (input) and spike)`},
		{"probe neuron", []string{"run", hello, "--steps", "5", "--probe", "exc:v:8"}, `neuron 8 outside population "exc" of 8`},
		{"format", []string{"run", hello, "--steps", "5", "--format", "xml"}, `run: bad request: format "xml", want csv, json or npz`},
		{"unknown extension", []string{"run", hello, "--steps", "5", "--out", filepath.Join(dir, "out.txt")}, `out.txt: unknown extension ".txt": name the file .csv, .json or .npz, or give --format`},
		{"npz to stdout", []string{"run", hello, "--steps", "5", "--format", "npz"}, "run: npz is binary: give --out FILE.npz"},
		{"raster format", []string{"run", hello, "--steps", "5", "--raster", "r.gif"}, `unknown picture format "gif" (want .svg or .png`},
		{"plot without probes", []string{"run", hello, "--steps", "5", "--plot", "p.svg"}, "run: --plot draws probed traces: ask for some with --probe POPULATION:FIELD"},
		{"corrupt image", []string{"run", write("x.lrni", "LRNI\x01\x00"), "--steps", "1"}, "image: decode: malformed network image: offset 6 (header, length): truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := lrctl2(t, c.args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestProgressBarOnlyOnTerminals(t *testing.T) {
	require.Nil(t, progressBar(&bytes.Buffer{}, 10))
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	defer f.Close()
	require.Nil(t, progressBar(f, 10), "a file is not a terminal")
}
