package nir

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadFixtures reads every file the reference nir package wrote (and the NIR paper's
// files from older exporters) through the child process, and checks it against what the
// scripts wrote: versions, node types, float32 and float64 values, literal dotted names,
// edges in the file's order, nested graphs, legacy files without v_reset.
func TestReadFixtures(t *testing.T) {
	ctx := context.Background()
	read := func(p string) *Graph {
		g, err := ReadFile(ctx, p, ReadOpts{})
		require.NoError(t, err, p)
		in, err := ReadFile(ctx, p, ReadOpts{InProcess: true})
		require.NoError(t, err, p)
		require.Equal(t, in, g, "the child process and this one read %s alike", p)
		return g
	}

	g := read("testdata/lif.nir")
	require.Equal(t, "1.0.7", g.Version)
	require.Equal(t, []string{"affine", "input", "lif", "output"}, g.Names())
	require.Equal(t, []Edge{{"input", "affine"}, {"affine", "lif"}, {"lif", "output"}}, g.Edges)
	lif := g.Nodes["lif"]
	require.Equal(t, "LIF", lif.Type)
	require.Equal(t, &Array{Shape: []int{1}, Data: []float64{0.0025}}, lif.Params["tau"])
	require.Equal(t, []float64{0}, lif.Params["v_reset"].Data)
	require.Equal(t, &Array{Shape: []int{1, 1}, Data: []float64{1}}, g.Nodes["affine"].Params["weight"])
	require.Equal(t, []float64{1}, g.Nodes["input"].Params["shape"].Data)

	g = read("testdata/lif_f32.nir")
	require.Equal(t, []float64{float64(float32(0.0025))}, g.Nodes["lif"].Params["tau"].Data, "float32 read exactly")
	require.Equal(t, []float64{float64(float32(0.1))}, g.Nodes["lif"].Params["v_threshold"].Data)

	g = read("testdata/legacy_lif.nir")
	require.Equal(t, "0.2.0", g.Version)
	require.Equal(t, []string{"0", "1", "input", "output"}, g.Names())
	require.NotContains(t, g.Nodes["1"].Params, "v_reset")
	require.ElementsMatch(t, []Edge{{"input", "0"}, {"0", "1"}, {"1", "output"}}, g.Edges)

	g = read("testdata/legacy_rnn_dotted.nir")
	require.Contains(t, g.Nodes, "lif1.lif", "a dotted name is one node's name")
	require.Contains(t, g.Nodes, "lif1.w_rec")
	require.Equal(t, "CubaLIF", g.Nodes["lif1.lif"].Type)
	require.Contains(t, g.Edges, Edge{"lif1.w_rec", "lif1.lif"})
	require.Equal(t, []int{38, 38}, g.Nodes["lif1.w_rec"].Params["weight"].Shape)

	g = read("testdata/rnn_subgraph.nir")
	sub := g.Nodes["lif1"]
	require.Equal(t, "NIRGraph", sub.Type)
	require.Equal(t, []string{"input", "lif", "output", "w_rec"}, sub.Graph.Names())
	require.Contains(t, sub.Graph.Edges, Edge{"w_rec", "lif"})

	g = read("testdata/zoo.nir")
	c1 := g.Nodes["c1"]
	require.Equal(t, &Array{Str: "same", IsStr: true}, c1.Params["padding"], "a string parameter")
	require.Equal(t, &Array{Data: []float64{2}}, c1.Params["dilation"], "a scalar")
	require.Equal(t, "I", g.Nodes["int"].Type)

	g = read("testdata/paper/lif_norse.nir")
	require.Equal(t, "0.1.1", g.Version)
	g = read("testdata/paper/cnn_sinabs.nir")
	require.Equal(t, []int{16, 2, 5, 5}, g.Nodes["0"].Params["weight"].Shape)
	require.Equal(t, "SumPool2d", g.Nodes["4"].Type)
}

// TestHostileFiles: files that break the HDF5 library, or are no HDF5 at all, give an error
// wrapping ErrFormat, and this process carries on.
func TestHostileFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/lif.nir")
	require.NoError(t, err)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	for _, c := range []struct{ name, path string }{
		{"a group containing itself: the library recurses until its memory runs out", "testdata/hostile_link_cycle.nir"},
		{"not HDF5", write("text.nir", []byte("name: not a model\n"))},
		{"truncated", write("half.nir", good[:len(good)/2])},
		{"empty", write("empty.nir", nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFile(ctx, c.path, ReadOpts{MemoryLimit: 256 << 20})
			require.ErrorIs(t, err, ErrFormat)
			require.ErrorContains(t, err, c.path)
		})
	}
	_, err = ReadFile(ctx, filepath.Join(dir, "missing.nir"), ReadOpts{})
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = ReadFile(ctx, "testdata/lif.nir", ReadOpts{Timeout: time.Nanosecond})
	require.ErrorIs(t, err, ErrFormat)
	require.ErrorContains(t, err, "took longer than")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = ReadFile(cctx, "testdata/lif.nir", ReadOpts{})
	require.ErrorIs(t, err, context.Canceled)
}

// TestTreeCaps: a dataset beyond the element caps is refused before it is read.
func TestTreeCaps(t *testing.T) {
	b := &budget{left: 10}
	require.NoError(t, b.take("/a", 6))
	require.ErrorIs(t, b.take("/b", 6), ErrLimit)
	require.ErrorIs(t, (&budget{left: MaxTotalElements}).take("/c", MaxDatasetElements+1), ErrLimit)

	for _, c := range []struct {
		info  string
		class string
		shape []int
		err   bool
	}{
		{"Dataset: float (size=8 bytes), 2D array [3 x 2], chunked (chunks=[1 1 8])", "float", []int{3, 2}, false},
		{"Dataset: class_9 (size=16 bytes), scalar, contiguous (address=0x2, size=16)", "class_9", nil, false},
		{"Dataset: integer (size=8 bytes), 4D array [16 2 5 5], contiguous (address=0x3448, size=3200)", "integer", []int{16, 2, 5, 5}, false},
		{"Dataset: float (size=8 bytes), 1D array [99999999999], contiguous (address=0x0, size=8)", "", nil, true},
		{"Dataset: float (size=8 bytes), null, contiguous (address=0x0, size=8)", "", nil, true},
		{"Dataset: float (size=8 bytes), 9D array [1 1 1 1 1 1 1 1 1], compact (size=8)", "", nil, true},
		{"something else", "", nil, true},
	} {
		class, shape, err := parseInfo(c.info)
		if c.err {
			assert.Error(t, err, c.info)
			continue
		}
		require.NoError(t, err, c.info)
		assert.Equal(t, c.class, class)
		assert.Equal(t, c.shape, shape)
	}

	_, err := treeFromJSON([]byte(`{"node": {"x": [[1, 2], [3]]}}`))
	require.ErrorIs(t, err, ErrFormat, "ragged lists")
	_, err = treeFromJSON([]byte(`{"node": {"x": [[[[[[[[[1]]]]]]]]]}}`))
	require.ErrorIs(t, err, ErrLimit, "too many dimensions")
}

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		s  string
		v  version
		ok bool
	}{{"1.0.6", version{1, 0, 6}, true}, {"0.2.0", version{0, 2, 0}, true}, {"1.0.8.dev9+g7232ada", version{1, 0, 8}, true},
		{"1.0", version{1, 0, 0}, true}, {"", version{}, false}, {"one", version{}, false}} {
		v, ok := parseVersion(c.s)
		require.Equal(t, c.ok, ok, c.s)
		if ok {
			require.Equal(t, c.v, v, c.s)
		}
	}
	require.True(t, version{1, 0, 5}.less(version{1, 0, 6}))
	require.False(t, version{1, 0, 6}.less(version{1, 0, 6}))
}
