package run_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/run"
)

func TestParseSpikesCSV(t *testing.T) {
	in := "# comment\nstep,port,neuron,payload\n1,in,0,5\n 2, in, 3\n\n3,x,1,-7\n"
	got, err := run.ParseSpikes([]byte(in), run.Auto)
	require.NoError(t, err)
	require.Equal(t, []run.Spike{{Step: 1, Port: "in", Neuron: 0, Payload: 5}, {Step: 2, Port: "in", Neuron: 3, Payload: 1},
		{Step: 3, Port: "x", Neuron: 1, Payload: -7}}, got)
	got, err = run.ParseSpikes([]byte("1,in,0\n"), run.CSV)
	require.NoError(t, err)
	require.Equal(t, []run.Spike{{Step: 1, Port: "in", Payload: 1}}, got)
	got, err = run.ParseSpikes(nil, run.CSV)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestParseSpikesJSON(t *testing.T) {
	in := `[{"step": 1, "port": "in", "neuron": 2, "payload": -3}, {"step": 4, "port": "in", "neuron": 0}]`
	for _, f := range []run.Format{run.Auto, run.JSON} {
		got, err := run.ParseSpikes([]byte(in), f)
		require.NoError(t, err)
		require.Equal(t, []run.Spike{{Step: 1, Port: "in", Neuron: 2, Payload: -3}, {Step: 4, Port: "in", Neuron: 0, Payload: 1}}, got)
	}
}

func TestParseSpikesErrors(t *testing.T) {
	cases := []struct {
		name, in string
		f        run.Format
		want     string
	}{
		{"fields", "1,in\n", run.CSV, "line 1: 2 fields, want step,port,neuron[,payload]"},
		{"too many", "1,in,2,3,4\n", run.CSV, "line 1: 5 fields"},
		{"header", "step,port,payload\n", run.CSV, `line 1: header "step,port,payload", want step,port,neuron[,payload]`},
		{"step", "# c\n0,in,1\n", run.CSV, "line 2: step: 0 outside [1, 2147483647]"},
		{"step text", "x,in,1\n", run.CSV, `line 1: step: "x" is not an integer`},
		{"port", "1,,1\n", run.CSV, "line 1: empty port name"},
		{"neuron", "1,in,-1\n", run.CSV, "line 1: neuron: -1 outside"},
		{"payload", "1,in,1,9999999999\n", run.CSV, "line 1: payload: 9999999999 outside"},
		{"quote", "1,\"in,1\n", run.CSV, "line 1: extraneous or missing \" in quoted-field"},
		{"json syntax", `[{"step": 1,}]`, run.JSON, "byte 13: invalid character '}'"},
		{"json type", `[{"step": "1"}]`, run.JSON, `step: want int, got a JSON string`},
		{"json not list", `{"step": 1}`, run.JSON, `want []run.jsonSpike, got a JSON object`},
		{"json unknown", `[{"step": 1, "port": "in", "neuron": 0, "when": 3}]`, run.JSON, `unknown field "when"`},
		{"json no step", `[{"port": "in", "neuron": 0}]`, run.JSON, "element 0: no step"},
		{"json step 0", `[{"step": 0, "port": "in", "neuron": 0}]`, run.JSON, "element 0: step 0, steps count from 1"},
		{"json no port", `[{"step": 1, "neuron": 0}]`, run.JSON, "element 0: no port"},
		{"json no neuron", `[{"step": 1, "port": "in"}]`, run.JSON, "element 0: no neuron"},
		{"json neuron", `[{"step": 1, "port": "in", "neuron": -2}]`, run.JSON, "element 0: neuron -2 is negative"},
		{"json trailing", `[] []`, run.JSON, "data after the list"},
		{"json truncated", `[{"step": 1`, run.JSON, "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := run.ParseSpikes([]byte(c.in), c.f)
			require.ErrorIs(t, err, run.ErrSpikes)
			require.ErrorContains(t, err, c.want)
			require.True(t, strings.HasPrefix(err.Error(), "run: spikes: "), err.Error())
		})
	}
}

func TestParseProbe(t *testing.T) {
	cases := []struct {
		in   string
		want run.ProbeSpec
		str  string
	}{
		{"exc:v", run.ProbeSpec{Population: "exc", Field: "v"}, "exc:v"},
		{"exc:v:*", run.ProbeSpec{Population: "exc", Field: "v"}, "exc:v"},
		{"exc:s:3", run.ProbeSpec{Population: "exc", Field: "spike", Neurons: []int{3}}, "exc:spike:3"},
		{"p:a:0-3,7, 9-10", run.ProbeSpec{Population: "p", Field: "a", Neurons: []int{0, 1, 2, 3, 7, 9, 10}}, "p:a:0-3,7,9-10"},
	}
	for _, c := range cases {
		got, err := run.ParseProbe(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
		require.Equal(t, c.str, got.String())
	}
	for in, want := range map[string]string{
		"exc":             "1 parts",
		"a:b:c:d":         "4 parts",
		":v":              "no population",
		"exc:":            "no field",
		"exc:v:x":         `neuron "x" is not a number`,
		"exc:v:-1":        `neuron "" is not a number`,
		"exc:v:5-2":       `range "5-2": want FIRST-LAST with FIRST ≤ LAST`,
		"exc:v:0-9999999": "more than 1048576 neurons",
	} {
		_, err := run.ParseProbe(in)
		require.ErrorIs(t, err, run.ErrUsage, in)
		require.ErrorContains(t, err, want, in)
		require.ErrorContains(t, err, "want POPULATION:FIELD[:NEURONS]", in)
	}
}

func TestFormats(t *testing.T) {
	f, err := run.ParseFormat("JSON")
	require.NoError(t, err)
	require.Equal(t, run.JSON, f)
	_, err = run.ParseFormat("xml")
	require.ErrorIs(t, err, run.ErrUsage)
	require.Equal(t, run.CSV, run.FormatOf("a.CSV"))
	require.Equal(t, run.JSON, run.FormatOf("a.json"))
	require.Equal(t, run.Auto, run.FormatOf("a"))
	require.Equal(t, "csv", run.CSV.String())
	require.Equal(t, "auto", run.Auto.String())
}

// relayNet: input → "r" (a relay that spikes its input as graded payload), split over two
// cores of 5 (4 and 3 neurons), output a slice of it.
func relayNet(t *testing.T) *image.Image {
	n := &network.Network{
		Name:   "relay",
		Inputs: []network.Input{{Name: "in", Size: 5}},
		Populations: []network.Population{{Name: "r", Size: 7, Source: `
.program relay
.state last
.temp fire
	mov  last, a
	sne  fire, a, 0
	spkg fire, a
`}},
		Connections: []network.Connection{{From: "in", To: "r", Graded: true, SignMode: "EXCITATORY",
			Weights: network.Rows([][]int32{{1, 0, 0, 0, 0}, {0, 2, 0, 0, 0}, {0, 0, 3, 0, 0}, {0, 0, 0, 4, 0}, {0, 0, 0, 0, 5},
				{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}})}},
		Outputs: []network.Output{{Name: "tail", Population: "r", Start: 1}},
	}
	img, err := network.Map(n, chip.Size{Cores: 4, NeuronsPerCore: 5})
	require.NoError(t, err)
	require.Len(t, img.Cores, 2)
	return img
}

func TestRun(t *testing.T) {
	img := relayNet(t)
	dev := newEmu(t, chip.Size{Cores: 4, NeuronsPerCore: 8})
	var progress []int
	opts := run.Options{
		Steps: 4,
		Inputs: []run.Spike{{Step: 2, Port: "in", Neuron: 4, Payload: 10}, {Step: 1, Port: "in", Neuron: 0, Payload: 7},
			{Step: 1, Port: "in", Neuron: 3, Payload: -1}, {Step: 3, Port: "in", Neuron: 1, Payload: 1}},
		Probes:   []run.ProbeSpec{{Population: "r", Field: "last", Neurons: []int{4, 0}}, {Population: "r", Field: "a"}},
		Progress: func(s int) { progress = append(progress, s) },
		Chunk:    1,
	}
	res, err := run.Run(context.Background(), dev, img, opts)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3, 4}, progress)
	// Chunks of any length give the same result.
	for _, chunk := range []int{3, 4, 100} {
		opts.Chunk, opts.Progress = chunk, nil
		again, err := run.Run(context.Background(), dev, img, opts)
		require.NoError(t, err)
		require.Equal(t, res, again, "chunk %d", chunk)
	}
	require.Equal(t, "relay", res.Network)
	require.Equal(t, []run.Port{{Name: "tail", Population: "r", Start: 1, Count: 6}}, res.Outputs)
	// Injected in step s, seen in step s+1: neuron 3 (port neuron 2) gets -1·4, neuron 4 (port
	// neuron 3) 10·5; neuron 0 is not in the port; neuron 1 gets 1·2 in step 4.
	require.Equal(t, []run.Spike{{Step: 2, Port: "tail", Neuron: 2, Payload: -4}, {Step: 3, Port: "tail", Neuron: 3, Payload: 50},
		{Step: 4, Port: "tail", Neuron: 0, Payload: 2}}, res.Spikes)
	require.Equal(t, []run.Trace{
		{Population: "r", Field: "last", Neurons: []int{4, 0}, Values: [][]int32{{0, 0}, {0, 7}, {50, 0}, {0, 0}}},
		{Population: "r", Field: "a", Neurons: []int{0, 1, 2, 3, 4, 5, 6},
			Values: [][]int32{{0, 0, 0, 0, 0, 0, 0}, {7, 0, 0, -4, 0, 0, 0}, {0, 0, 0, 0, 50, 0, 0}, {0, 2, 0, 0, 0, 0, 0}}},
	}, res.Probes)
	assert.Equal(t, "r:a", res.Probes[1].Name())

	var csv bytes.Buffer
	require.NoError(t, res.Write(&csv, run.CSV))
	lines := strings.Split(csv.String(), "\n")
	require.Equal(t, "step,kind,name,neuron,value", lines[0])
	require.Contains(t, lines, "2,spike,tail,2,-4")
	require.Contains(t, lines, "3,probe,r:last,4,50")
	require.Contains(t, lines, "2,probe,r:a,3,-4")
	require.Len(t, lines, 1+3+4*2+4*7+1)

	var js bytes.Buffer
	require.NoError(t, res.Write(&js, run.JSON))
	var back run.Result
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, *res, back)
}

func TestRunEmptyResultJSON(t *testing.T) {
	res := &run.Result{Steps: 1}
	var js bytes.Buffer
	require.NoError(t, res.WriteJSON(&js))
	require.JSONEq(t, `{"network": "", "steps": 1, "outputs": [], "spikes": [], "probes": []}`, js.String())
}

// Input for steps past the run's last is left out and counted: a tool says so instead of
// refusing or staying quiet. Payloads are int32 end to end, as Lava's (docs/chip.md).
func TestRunIgnoresLateInput(t *testing.T) {
	in := []run.Spike{{Step: 1, Port: "in"}, {Step: 3, Port: "in", Neuron: 1}, {Step: 9, Port: "in", Neuron: 2},
		{Step: 2, Port: "in", Neuron: 3, Payload: 1 << 23}, {Step: 2, Port: "in", Neuron: 4, Payload: -(1 << 23)}}
	res, err := run.Run(context.Background(), newEmu(t, chip.Size{}), relayNet(t), run.Options{Steps: 2, Inputs: in})
	require.NoError(t, err)
	require.Equal(t, 2, res.Ignored)
	require.Equal(t, 2, res.Steps)
}

func TestRunErrors(t *testing.T) {
	cases := []struct {
		name string
		opts run.Options
		is   error
		want string
	}{
		{"steps", run.Options{}, run.ErrUsage, "run: bad request: 0 steps, want at least 1"},
		{"port", run.Options{Steps: 2, Inputs: []run.Spike{{Step: 1, Port: "out", Neuron: 0}}}, run.ErrSpikes,
			`spike 1 (step 1, port "out", neuron 0): no input port of that name (have in)`},
		{"step", run.Options{Steps: 2, Inputs: []run.Spike{{Step: 1, Port: "in"}, {Step: 0, Port: "in", Neuron: 1}}}, run.ErrSpikes,
			`spike 2 (step 0, port "in", neuron 1): step 0: steps count from 1`},
		{"neuron", run.Options{Steps: 2, Inputs: []run.Spike{{Step: 1, Port: "in", Neuron: 5}}}, run.ErrSpikes,
			"neuron outside [0, 5) of the port"},
		{"probe pop", run.Options{Steps: 1, Probes: []run.ProbeSpec{{Population: "x", Field: "v"}}}, run.ErrUsage,
			`run: probe x:v: bad request: no population "x" (have r)`},
		{"probe field", run.Options{Steps: 1, Probes: []run.ProbeSpec{{Population: "r", Field: "v"}}}, run.ErrUsage,
			`population "r": chip: field "v": no such field (state last, and a (input) and spike)`},
		{"probe neuron", run.Options{Steps: 1, Probes: []run.ProbeSpec{{Population: "r", Field: "spike", Neurons: []int{7}}}}, run.ErrUsage,
			`neuron 7 outside population "r" of 7`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := run.Run(context.Background(), newEmu(t, chip.Size{}), relayNet(t), c.opts)
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.want)
		})
	}

	// The device refuses the image: a chip too small.
	_, err := run.Run(context.Background(), newEmu(t, chip.Size{Cores: 1, NeuronsPerCore: 8}), relayNet(t), run.Options{Steps: 1})
	require.ErrorIs(t, err, run.ErrDevice)
	require.ErrorIs(t, err, emu.ErrLimit)
	require.ErrorContains(t, err, "it needs a 2×5 chip, this one is 1×8")

	// Cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = run.Run(ctx, newEmu(t, chip.Size{}), relayNet(t), run.Options{Steps: 1})
	require.ErrorIs(t, err, context.Canceled)
}

func newEmu(t *testing.T, size chip.Size) *emu.Device {
	d, err := emu.NewDevice(emu.Opts{Size: size})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// failing is a device that fails once it has run `after` steps.
type failing struct {
	*emu.Device
	after int
}

func (f *failing) Run(ctx context.Context, n int) error {
	left := f.after - int(f.Time())
	if err := f.Device.Run(ctx, min(n, left)); err != nil {
		return err
	}
	if n > left {
		return errors.New("link down")
	}
	return nil
}

// A run that fails keeps what the completed steps produced.
func TestRunDeviceErrorKeepsOutput(t *testing.T) {
	img := relayNet(t)
	opts := run.Options{Steps: 10, Chunk: 4,
		Inputs: []run.Spike{{Step: 1, Port: "in", Neuron: 3, Payload: 1}, {Step: 5, Port: "in", Neuron: 4, Payload: 2}, {Step: 8, Port: "in", Neuron: 4, Payload: 3}},
		Probes: []run.ProbeSpec{{Population: "r", Field: "a"}}}
	whole, err := run.Run(context.Background(), newEmu(t, chip.Size{}), img, opts)
	require.NoError(t, err)

	res, err := run.Run(context.Background(), &failing{newEmu(t, chip.Size{}), 6}, img, opts)
	require.ErrorIs(t, err, run.ErrDevice)
	require.EqualError(t, err, "run: device error: steps 5-8: link down")
	require.Equal(t, 6, res.Steps)
	require.Len(t, res.Probes[0].Values, 6)
	require.Equal(t, whole.Probes[0].Values[:6], res.Probes[0].Values)
	require.Equal(t, []run.Spike{{Step: 2, Port: "tail", Neuron: 2, Payload: 4}, {Step: 6, Port: "tail", Neuron: 3, Payload: 10}}, res.Spikes)
	require.Equal(t, whole.Spikes[:2], res.Spikes)

	// Without probes, the device's clock says how far it got.
	opts.Probes = nil
	res, err = run.Run(context.Background(), &failing{newEmu(t, chip.Size{}), 7}, img, opts)
	require.ErrorIs(t, err, run.ErrDevice)
	require.Equal(t, 7, res.Steps)
}

func FuzzParseSpikes(f *testing.F) {
	f.Add([]byte("step,port,neuron,payload\n1,in,0,5\n2,in,3\n"), uint8(0))
	f.Add([]byte(`[{"step": 1, "port": "in", "neuron": 2, "payload": -3}]`), uint8(2))
	f.Add([]byte("# x\n\n1,\"a\"\"b\",0\n"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, format uint8) {
		got, err := run.ParseSpikes(b, run.Format(format%3))
		if err != nil {
			if !errors.Is(err, run.ErrSpikes) {
				t.Fatalf("error without ErrSpikes: %v", err)
			}
			return
		}
		for _, s := range got {
			if s.Step < 1 || s.Neuron < 0 || s.Port == "" {
				t.Fatalf("accepted a bad spike %+v", s)
			}
		}
	})
}

func FuzzParseProbe(f *testing.F) {
	for _, s := range []string{"exc:v", "exc:v:0-9,12", "p:a:*", "x:s:3", "a:b:1-", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := run.ParseProbe(s)
		if err != nil {
			if !errors.Is(err, run.ErrUsage) {
				t.Fatalf("error without ErrUsage: %v", err)
			}
			return
		}
		if len(p.Neurons) > run.MaxProbeNeurons {
			t.Fatalf("%d neurons", len(p.Neurons))
		}
		q, err := run.ParseProbe(p.String())
		if err != nil {
			t.Fatalf("String() %q does not parse: %v", p.String(), err)
		}
		require.Equal(t, p, q)
	})
}
