package network_test

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
)

func rfPop(name string, size int) network.Population {
	return network.Population{Name: name, Size: size, Program: "rf", Consts: map[string]int32{"cos_d": 1, "sin_d": 1, "vth": 1}}
}

func ptr[T any](v T) *T { return &v }

// synapses lists the (pre, post) pairs of a connection of an image: population neurons.
func synapses(t *testing.T, img *image.Image, name string) map[[2]int]int32 {
	t.Helper()
	out := map[[2]int]int32{}
	popStart := func(core, start int) int { // population index of a core neuron
		for _, p := range img.Pops {
			pos := 0
			for _, s := range p.Segments {
				if s.Core == core && start >= s.Start && start < s.Start+s.Count {
					return pos + start - s.Start
				}
				pos += s.Count
			}
		}
		return -1
	}
	for _, c := range img.Conns {
		if c.Name != name {
			continue
		}
		srcAt := func(i int) int {
			if c.Kind == image.FromInput {
				return c.SrcStart + i
			}
			return popStart(c.Src, c.SrcStart+i)
		}
		if c.Index == nil {
			for i := range c.SrcCount {
				for j := range c.DstCount {
					if w := c.Weights[i*c.DstCount+j]; w != 0 {
						out[[2]int{srcAt(i), popStart(c.Dst, c.DstStart+j)}] = w
					}
				}
			}
			continue
		}
		for i := range c.SrcCount {
			for k := c.Index[i]; k < c.Index[i+1]; k++ {
				out[[2]int{srcAt(i), popStart(c.Dst, c.DstStart+int(c.Targets[k]))}] = c.Weights[k]
			}
		}
	}
	return out
}

func mapRule(t *testing.T, n *network.Network) *image.Image {
	t.Helper()
	img, err := network.Map(n, chip.Size{Cores: 8, NeuronsPerCore: 256})
	require.NoError(t, err)
	return img
}

func TestRules(t *testing.T) {
	net := func(r network.Rule, from, to int, self bool) *network.Network {
		n := &network.Network{Seed: 11, Inputs: []network.Input{{Name: "in", Size: max(from, 1)}},
			Populations: []network.Population{rfPop("p", to)}}
		src := "in"
		if self {
			src = "p"
		}
		n.Connections = []network.Connection{{Name: "c", From: src, To: "p", Rule: &r, Weights: network.Fill(4)}}
		return n
	}
	t.Run("all_to_all", func(t *testing.T) {
		s := synapses(t, mapRule(t, net(network.Rule{Kind: network.AllToAll}, 20, 30, false)), "c")
		require.Len(t, s, 600)
		s = synapses(t, mapRule(t, net(network.Rule{Kind: network.AllToAll, AllowSelf: ptr(false)}, 0, 30, true)), "c")
		require.Len(t, s, 30*29)
		for k := range s {
			require.NotEqual(t, k[0], k[1])
		}
	})
	t.Run("one_to_one", func(t *testing.T) {
		s := synapses(t, mapRule(t, net(network.Rule{Kind: network.OneToOne}, 200, 200, false)), "c")
		require.Len(t, s, 200)
		for k, w := range s {
			require.Equal(t, k[0], k[1])
			require.Equal(t, int32(4), w)
		}
		err := net(network.Rule{Kind: network.OneToOne}, 3, 4, false).Validate()
		require.ErrorIs(t, err, network.ErrShape)
	})
	t.Run("fixed_probability", func(t *testing.T) {
		n := net(network.Rule{Kind: network.FixedProbability, P: 0.1, AllowSelf: ptr(false)}, 0, 400, true)
		a := synapses(t, mapRule(t, n), "c")
		// 400·399 pairs at p = 0.1: 15960 expected, σ ≈ 120.
		require.InDelta(t, 15960, len(a), 600)
		for k := range a {
			require.NotEqual(t, k[0], k[1])
		}
		require.Equal(t, a, synapses(t, mapRule(t, n), "c"), "the same description expands the same")
		n.Seed = 12
		require.NotEqual(t, a, synapses(t, mapRule(t, n), "c"), "another seed, other synapses")
		n.Connections[0].Rule.Seed = ptr(uint64(11))
		require.Equal(t, a, synapses(t, mapRule(t, n), "c"), "the rule's own seed wins")
	})
	t.Run("fixed_in_degree", func(t *testing.T) {
		n := net(network.Rule{Kind: network.FixedInDegree, InDegree: 7, AllowSelf: ptr(false)}, 0, 300, true)
		s := synapses(t, mapRule(t, n), "c")
		per := map[int]int{}
		for k := range s {
			require.NotEqual(t, k[0], k[1])
			per[k[1]]++
		}
		require.Len(t, per, 300)
		for post, c := range per {
			require.Equal(t, 7, c, "target %d", post)
		}
		all := net(network.Rule{Kind: network.FixedInDegree, InDegree: 299, AllowSelf: ptr(false)}, 0, 300, true)
		require.Len(t, synapses(t, mapRule(t, all), "c"), 300*299, "every other source")
		err := net(network.Rule{Kind: network.FixedInDegree, InDegree: 300, AllowSelf: ptr(false)}, 0, 300, true).Validate()
		require.ErrorIs(t, err, network.ErrRange)
		require.ErrorContains(t, err, "in_degree 300 outside [0, 299]")
	})
	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			n    *network.Network
			is   error
			want string
		}{
			{net(network.Rule{Kind: "nearest"}, 3, 3, false), network.ErrRange, `rule kind "nearest": want one of all_to_all, one_to_one, fixed_probability, fixed_in_degree, file`},
			{net(network.Rule{Kind: network.FixedProbability, P: 1.5}, 3, 3, false), network.ErrRange, "p = 1.5 outside [0, 1]"},
			{net(network.Rule{Kind: network.AllToAll, P: 0.5}, 3, 3, false), network.ErrRange, "p is for fixed_probability"},
			{net(network.Rule{Kind: network.FixedProbability, P: 0.5}, 8192, 1<<20, false), network.ErrTooLarge, "pairs are more than"},
			{net(network.Rule{Kind: network.FixedInDegree, InDegree: 100}, 8192, 1<<20, false), network.ErrTooLarge, "would make 104857600 synapses"},
		}
		for _, c := range cases {
			err := c.n.Validate()
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.want)
		}
		n := net(network.Rule{Kind: network.AllToAll}, 3, 3, false)
		n.Connections[0].Weights = nil
		require.ErrorIs(t, n.Validate(), network.ErrMissing)
		n.Connections[0].Weights = network.Rows([][]int32{{1}})
		require.ErrorIs(t, n.Validate(), network.ErrShape)
	})
}

func TestRuleFromFiles(t *testing.T) {
	dir := t.TempDir()
	writeNPY := func(name string, v any) {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, npy.Write(f, v))
		require.NoError(t, f.Close())
	}
	writeNPZ := func(name string, arrays map[string]any) {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		z := zip.NewWriter(f)
		for k, v := range arrays {
			w, err := z.Create(k + ".npy")
			require.NoError(t, err)
			require.NoError(t, npy.Write(w, v))
		}
		require.NoError(t, z.Close())
		require.NoError(t, f.Close())
	}
	writeNPY("dense.npy", [][]float64{{2, 0, 4}, {0, 6, 8}}) // [target][source]: 2 targets, 3 sources
	writeNPZ("sparse.npz", map[string]any{"pre": []int64{0, 2, 1}, "post": []int64{1, 0, 1}, "weights": []int32{8, -6, 10}})
	writeNPZ("noweights.npz", map[string]any{"pre": []int64{0}, "post": []int64{1}})
	writeNPY("frac.npy", [][]float64{{0.5, 0, 0}, {0, 0, 0}})
	writeNPY("shape.npy", []int32{1, 2})
	hdr := "{'descr': '<i8', 'fortran_order': False, 'shape': (100000000, 100000000), }\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "huge.npy"), append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(hdr)), 0}, hdr...), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hdr.npy"), []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"), 0o644))

	net := func(file string, w *network.Matrix) *network.Network {
		return &network.Network{Dir: dir, Inputs: []network.Input{{Name: "in", Size: 3}}, Populations: []network.Population{rfPop("p", 2)},
			Connections: []network.Connection{{Name: "c", From: "in", To: "p", Rule: &network.Rule{Kind: network.FromFile, File: file}, Weights: w}}}
	}
	require.Equal(t, map[[2]int]int32{{0, 0}: 2, {2, 0}: 4, {1, 1}: 6, {2, 1}: 8}, synapses(t, mapRule(t, net("dense.npy", nil)), "c"))
	require.Equal(t, map[[2]int]int32{{0, 1}: 8, {2, 0}: -6, {1, 1}: 10}, synapses(t, mapRule(t, net("sparse.npz", nil)), "c"))
	require.Equal(t, map[[2]int]int32{{0, 1}: 12}, synapses(t, mapRule(t, net("noweights.npz", network.Fill(12))), "c"))
	for file, want := range map[string]string{
		"frac.npy":      "element 0 is 0.5, not a 32-bit integer",
		"shape.npy":     "shape [2], want [2, 3]",
		"huge.npy":      "more than 67108864 elements",
		"hdr.npy":       ".npy header of 4294967295 bytes, limit 65536",
		"noweights.npz": "no weights array",
		"none.npy":      "no such file",
		"x.csv":         "want an .npy",
	} {
		err := net(file, nil).Validate()
		require.ErrorIs(t, err, network.ErrRange, file)
		require.ErrorContains(t, err, want, file)
	}
}

func TestSources(t *testing.T) {
	n := &network.Network{Seed: 5, Inputs: []network.Input{
		{Name: "noise", Size: 50, Source: &network.Source{Kind: network.Poisson, Rate: 0.1}},
		{Name: "clock", Size: 2, Source: &network.Source{Kind: network.Regular, Interval: 10, Start: 3, Stop: 40, Payload: 5}},
		{Name: "file", Size: 1},
	}, Populations: []network.Population{rfPop("p", 1)}}
	gens, err := n.Generators()
	require.NoError(t, err)
	require.Len(t, gens, 2)
	type sp struct{ step, neuron int }
	collect := func(g *network.Generator, chunks ...[2]int) []sp {
		var out []sp
		for _, c := range chunks {
			g.Spikes(c[0], c[1], func(step, neuron int, payload int32) { out = append(out, sp{step, neuron}) })
		}
		return out
	}
	whole := collect(gens[0], [2]int{1, 1000})
	require.InDelta(t, 5000, len(whole), 300, "50 neurons × 1000 steps × 0.1")
	require.InDelta(t, 5000, gens[0].Expected(1000), 1e-9)
	require.Equal(t, whole, collect(gens[0], [2]int{1, 17}, [2]int{18, 600}, [2]int{601, 1000}), "chunks do not change the spikes")
	var steps []int
	gens[1].Spikes(1, 100, func(step, neuron int, payload int32) {
		require.Equal(t, int32(5), payload)
		if neuron == 0 {
			steps = append(steps, step)
		}
	})
	require.Equal(t, []int{3, 13, 23, 33}, steps)
	require.Equal(t, float64(8), gens[1].Expected(100))

	n.Inputs[0].Source.Rate = 0
	n.Inputs[1].Source.Kind = "burst"
	_, err = n.Generators()
	require.ErrorIs(t, err, network.ErrRange)
	require.ErrorContains(t, err, "rate 0 outside (0, 1]")
	require.ErrorContains(t, err, `source kind "burst": want poisson or regular`)
}

// Uniform values are drawn per neuron, within the range, the same every time, and differently
// for another population or register.
func TestUniformValues(t *testing.T) {
	n := &network.Network{Populations: []network.Population{rfPop("a", 300), rfPop("b", 300)}}
	for i := range n.Populations {
		n.Populations[i].State = map[string]network.Values{
			"re": {Uniform: &network.Uniform{Lo: -10, Hi: 10}},
			"im": {Uniform: &network.Uniform{Lo: -10, Hi: 10}},
		}
	}
	img, err := network.Map(n, chip.Prototype)
	require.NoError(t, err)
	a, b := img.Cores[0].State, img.Cores[1].State
	seen := map[int32]bool{}
	for _, v := range a[0] {
		require.GreaterOrEqual(t, v, int32(-10))
		require.LessOrEqual(t, v, int32(10))
		seen[v] = true
	}
	require.Len(t, seen, 21, "every value of the range turns up")
	require.NotEqual(t, a[0], a[1], "re and im draw from streams of their own")
	require.NotEqual(t, a[0], b[0], "so do populations")
	again, err := network.Map(n, chip.Prototype)
	require.NoError(t, err)
	require.Equal(t, img.Cores, again.Cores)

	n.Populations[0].State["re"] = network.Values{Uniform: &network.Uniform{Lo: -10, Hi: 1 << 24}}
	require.ErrorContains(t, n.Validate(), "state re = 16777216 outside [-8388607, 8388607] for program rf")
}
