package run_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/run"
)

// Spikes a source makes chunk by chunk give the same run as the same spikes from a file,
// whatever the chunk length.
func TestSourcesRunChunkByChunk(t *testing.T) {
	n := &network.Network{Seed: 3, Inputs: []network.Input{{Name: "in", Size: 5, Source: &network.Source{Kind: network.Poisson, Rate: 0.3, Payload: 2}}},
		Populations: []network.Population{{Name: "r", Size: 7, Source: ".program relay\n.state last\n.temp fire\n\tmov last, a\n\tsne fire, a, 0\n\tspkg fire, a\n"}},
		Connections: []network.Connection{{From: "in", To: "r", Graded: true, Rule: &network.Rule{Kind: network.AllToAll}, Weights: network.Fill(2)}},
		Outputs:     []network.Output{{Population: "r"}}}
	img, err := network.Map(n, chip.Size{Cores: 4, NeuronsPerCore: 8})
	require.NoError(t, err)
	gens, err := n.Generators()
	require.NoError(t, err)
	var file []run.Spike
	gens[0].Spikes(1, 50, func(step, neuron int, payload int32) {
		file = append(file, run.Spike{Step: step, Port: "in", Neuron: neuron, Payload: payload})
	})
	require.NotEmpty(t, file)
	want, err := run.Run(context.Background(), newEmu(t, chip.Size{}), img, run.Options{Steps: 50, Inputs: file, Probes: []run.ProbeSpec{{Population: "r", Field: "a"}}})
	require.NoError(t, err)
	for _, chunk := range []int{1, 7, 50} {
		got, err := run.Run(context.Background(), newEmu(t, chip.Size{}), img, run.Options{Steps: 50, Chunk: chunk,
			Sources: []run.Source{gens[0]}, Probes: []run.ProbeSpec{{Population: "r", Field: "a"}}})
		require.NoError(t, err)
		require.Equal(t, want, got, "chunk %d", chunk)
	}
	_, err = run.Run(context.Background(), newEmu(t, chip.Size{}), relayNet(t), run.Options{Steps: 1, Sources: []run.Source{gens[0]}})
	require.NoError(t, err, "relayNet has a port named in too")
}

// JSON rows carry their step; NPZ holds one step×neuron array per port and per probe.
func TestResultFormats(t *testing.T) {
	res, err := run.Run(context.Background(), newEmu(t, chip.Size{}), relayNet(t), run.Options{Steps: 3,
		Inputs: []run.Spike{{Step: 1, Port: "in", Neuron: 1, Payload: 7}, {Step: 2, Port: "in", Neuron: 4, Payload: 1}},
		Probes: []run.ProbeSpec{{Population: "r", Field: "last", Neurons: []int{1, 4}}}})
	require.NoError(t, err)
	var js bytes.Buffer
	require.NoError(t, res.Write(&js, run.JSON))
	require.Contains(t, js.String(), `{"step": 2, "values": [14,0]}`)
	var back run.Result
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, res.Probes, back.Probes)

	var b bytes.Buffer
	require.NoError(t, res.Write(&b, run.NPZ))
	z, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	require.NoError(t, err)
	arrays := map[string]npy.Header{}
	read := func(name string, ptr any) {
		for _, f := range z.File {
			if f.Name == name+".npy" {
				rc, err := f.Open()
				require.NoError(t, err)
				r, err := npy.NewReader(rc)
				require.NoError(t, err)
				arrays[name] = r.Header
				require.NoError(t, r.Read(ptr))
				rc.Close()
				return
			}
		}
		t.Fatalf("no %s in the archive", name)
	}
	var steps, spikes, probe, neurons []int32
	read("steps", &steps)
	read("spikes/tail", &spikes)
	read("probe/r/last", &probe)
	read("neurons/r/last", &neurons)
	require.Equal(t, []int32{1, 2, 3}, steps)
	require.Equal(t, []int{3, 6}, arrays["spikes/tail"].Descr.Shape, "steps × port neurons")
	// Input neuron 1 (payload 7, weight 2) reaches r[1] in step 2: port neuron 0.
	require.Equal(t, []int32{0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0}, spikes)
	require.Equal(t, []int{3, 2}, arrays["probe/r/last"].Descr.Shape)
	require.Equal(t, []int32{0, 0, 14, 0, 0, 5}, probe)
	require.Equal(t, []int32{1, 4}, neurons)

	for file, want := range map[string]run.Format{"a.npz": run.NPZ, "a.JSON": run.JSON, "": run.CSV, "-": run.CSV} {
		f, err := run.ResultFormat(file, "")
		require.NoError(t, err)
		require.Equal(t, want, f, file)
	}
	_, err = run.ResultFormat("out.txt", "")
	require.ErrorIs(t, err, run.ErrUsage)
	require.True(t, strings.Contains(err.Error(), `unknown extension ".txt"`), err.Error())
	f, err := run.ResultFormat("out.txt", "json")
	require.NoError(t, err)
	require.Equal(t, run.JSON, f)
}
