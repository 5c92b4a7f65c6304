package emu_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/network"
)

// imageTestNet is a network with every kind of connection: dense and sparse, binary and
// graded, from an input port and from populations, recurrent, with a negative exponent.
type imageTestNet struct {
	n                   *network.Network
	wIn                 [][]int32 // [exc][in]
	preES, postES       []int     // exc → sd, sparse
	wES                 []int32
	wSE                 [][]int32 // [exc][sd]
	preEE, postEE       []int     // exc → exc, sparse
	wEE                 []int32
	bias, v0            []int32
	nIn, nExc, nSD      int
	excConsts, sdConsts []int32
}

func newImageTestNet(r *rand.Rand) *imageTestNet {
	x := &imageTestNet{nIn: 6, nExc: 40, nSD: 12}
	x.excConsts = []int32{800, 300, 60} // du, dv, vth
	x.sdConsts = []int32{6, 0, 1, 0}    // vth, state_exp, relu, cum_error
	for range x.nExc {
		row := make([]int32, x.nIn)
		for i := range row {
			row[i] = int32(r.IntN(256))
		}
		x.wIn = append(x.wIn, row)
		x.bias = append(x.bias, int32(r.IntN(40)))
		x.v0 = append(x.v0, int32(r.IntN(3000)))
	}
	seen := map[[2]int]bool{}
	for len(x.preES) < 70 {
		p, q := r.IntN(x.nExc), r.IntN(x.nSD)
		if !seen[[2]int{p, q}] {
			seen[[2]int{p, q}] = true
			x.preES, x.postES = append(x.preES, p), append(x.postES, q)
			x.wES = append(x.wES, int32(r.IntN(256)))
		}
	}
	for range x.nExc {
		row := make([]int32, x.nSD)
		for i := range row {
			row[i] = int32(r.IntN(512) - 256)
		}
		x.wSE = append(x.wSE, row)
	}
	seen = map[[2]int]bool{}
	for len(x.preEE) < 100 {
		p, q := r.IntN(x.nExc), r.IntN(x.nExc)
		if !seen[[2]int{p, q}] {
			seen[[2]int{p, q}] = true
			x.preEE, x.postEE = append(x.preEE, p), append(x.postEE, q)
			x.wEE = append(x.wEE, -int32(r.IntN(256)))
		}
	}
	x.n = &network.Network{
		Name:   "loadtest",
		Inputs: []network.Input{{Name: "in", Size: x.nIn}},
		Populations: []network.Population{
			{Name: "exc", Size: x.nExc, Program: "lif",
				Consts: map[string]int32{"du": x.excConsts[0], "dv": x.excConsts[1], "vth": x.excConsts[2]},
				Params: map[string]network.Values{"bias_mant": network.Each(x.bias...), "bias_exp": network.All(2)},
				State:  map[string]network.Values{"v": network.Each(x.v0...)}},
			{Name: "sd", Size: x.nSD, Program: "sigma_delta",
				Consts: map[string]int32{"vth": x.sdConsts[0], "state_exp": x.sdConsts[1], "relu": x.sdConsts[2], "cum_error": x.sdConsts[3]}},
		},
		Connections: []network.Connection{
			{From: "in", To: "exc", Weights: network.Rows(x.wIn), SignMode: "EXCITATORY", WeightBits: 7},
			{From: "exc", To: "sd", Sparse: &network.Sparse{Pre: x.preES, Post: x.postES, Weights: network.Each(x.wES...)},
				SignMode: "EXCITATORY", WeightExp: 2},
			{From: "sd", To: "exc", Weights: network.Rows(x.wSE), Graded: true, WeightExp: -3},
			{From: "exc", To: "exc", Sparse: &network.Sparse{Pre: x.preEE, Post: x.postEE, Weights: network.Each(x.wEE...)},
				SignMode: "INHIBITORY", WeightBits: 5},
		},
		Outputs: []network.Output{{Population: "exc"}, {Population: "sd"}},
	}
	return x
}

// direct configures the same network by hand on a chip with one core per population.
func (x *imageTestNet) direct(t *testing.T) *emu.Chip {
	c, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	biasExp := make([]int32, x.nExc)
	for i := range biasExp {
		biasExp[i] = 2
	}
	require.NoError(t, c.SetCore(0, emu.CoreConfig{Program: programs.MustGet("lif"), Neurons: x.nExc, Consts: x.excConsts,
		Params: [][]int32{x.bias, biasExp}, State: [][]int32{nil, x.v0}}))
	require.NoError(t, c.SetCore(1, emu.CoreConfig{Program: programs.MustGet("sigma_delta"), Neurons: x.nSD, Consts: x.sdConsts}))
	in, err := c.AddInput(x.nIn)
	require.NoError(t, err)
	transpose := func(m [][]int32) []int32 { // [post][pre] → [pre][post]
		var out []int32
		for pre := range m[0] {
			for post := range m {
				out = append(out, m[post][pre])
			}
		}
		return out
	}
	csr := func(pre, post []int, w []int32, n int) (idx, tg, ws []int32) {
		idx = make([]int32, n+1)
		for p := range n {
			for k := range pre {
				if pre[k] == p {
					tg, ws = append(tg, int32(post[k])), append(ws, w[k])
				}
			}
			idx[p+1] = int32(len(ws))
		}
		return idx, tg, ws
	}
	require.NoError(t, c.Connect(emu.Connection{Kind: emu.FromInput, Src: in, SrcCount: x.nIn, Dst: 0, DstCount: x.nExc,
		Weights: transpose(x.wIn), SignMode: syn.Excitatory, WeightBits: 7}))
	idx, tg, ws := csr(x.preES, x.postES, x.wES, x.nExc)
	require.NoError(t, c.Connect(emu.Connection{Src: 0, SrcCount: x.nExc, Dst: 1, DstCount: x.nSD,
		Index: idx, Targets: tg, Weights: ws, SignMode: syn.Excitatory, WeightBits: 8, WeightExp: 2}))
	require.NoError(t, c.Connect(emu.Connection{Src: 1, SrcCount: x.nSD, Dst: 0, DstCount: x.nExc,
		Weights: transpose(x.wSE), SignMode: syn.Mixed, WeightBits: 8, WeightExp: -3, Graded: true}))
	idx, tg, ws = csr(x.preEE, x.postEE, x.wEE, x.nExc)
	require.NoError(t, c.Connect(emu.Connection{Src: 0, SrcCount: x.nExc, Dst: 0, DstCount: x.nExc,
		Index: idx, Targets: tg, Weights: ws, SignMode: syn.Inhibitory, WeightBits: 5}))
	_, err = c.AddOutput(0, 0, x.nExc)
	require.NoError(t, err)
	_, err = c.AddOutput(1, 0, x.nSD)
	require.NoError(t, err)
	return c
}

// TestLoadImageMatchesDirect: the network mapped onto small cores (exc split over three),
// encoded, decoded and loaded, gives bit-identical spikes and state to the same network
// configured by hand on whole cores.
func TestLoadImageMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := newImageTestNet(r)
	size := chip.Size{Cores: 8, NeuronsPerCore: 16}
	img, err := network.Map(x.n, size)
	require.NoError(t, err)
	require.Len(t, img.Pops[0].Segments, 3, "exc is split")
	b, err := img.MarshalBinary()
	require.NoError(t, err)
	img, err = image.Decode(b)
	require.NoError(t, err)

	viaImage, err := emu.New(emu.Opts{Size: size})
	require.NoError(t, err)
	require.NoError(t, viaImage.LoadImage(img))
	direct := x.direct(t)

	vReg := programs.MustGet("lif").StateIndex("v")
	sigma := programs.MustGet("sigma_delta").StateIndex("sigma")
	spikes := 0
	for step := 1; step <= 80; step++ {
		for range r.IntN(4) {
			n := r.IntN(x.nIn)
			require.NoError(t, viaImage.Inject(0, n, 1))
			require.NoError(t, direct.Inject(0, n, 1))
		}
		viaImage.Step()
		direct.Step()
		// Output spikes, by port neuron: the chip's output ports are the image's, however
		// many cores a port spans.
		for o := range img.Outputs {
			got := map[int]int32{}
			s, err := viaImage.Output(o, nil)
			require.NoError(t, err)
			for _, sp := range s {
				require.Equal(t, o, sp.Port)
				require.Equal(t, uint64(step), sp.Step)
				got[sp.Neuron] = sp.Payload
			}
			want := map[int]int32{}
			s, err = direct.Output(o, nil)
			require.NoError(t, err)
			for _, sp := range s {
				want[sp.Neuron] = sp.Payload
			}
			require.Equal(t, want, got, "step %d, output %s", step, img.Outputs[o].Name)
			spikes += len(want)
		}
		// State of every neuron.
		for p, reg := range []int{vReg, sigma} {
			for _, blk := range img.Locate(p, 0, img.Pops[p].Size) {
				for j := range blk.Count {
					a, err := viaImage.Read(blk.Core, chip.Field{Kind: chip.FieldState, Index: reg}, blk.Start+j)
					require.NoError(t, err)
					d, err := direct.Read(p, chip.Field{Kind: chip.FieldState, Index: reg}, blk.Offset+j)
					require.NoError(t, err)
					require.Equal(t, d, a, "step %d, %s neuron %d", step, img.Pops[p].Name, blk.Offset+j)
				}
			}
		}
	}
	require.Greater(t, spikes, 100, "the network is active")
	require.Equal(t, direct.Stats().Spikes, viaImage.Stats().Spikes)
}

func TestLoadImageErrors(t *testing.T) {
	x := newImageTestNet(rand.New(rand.NewPCG(1, 1)))
	img, err := network.Map(x.n, chip.Size{Cores: 8, NeuronsPerCore: 16})
	require.NoError(t, err)

	small, err := emu.New(emu.Opts{Size: chip.Size{Cores: 3, NeuronsPerCore: 1024}})
	require.NoError(t, err)
	err = small.LoadImage(img)
	require.ErrorIs(t, err, emu.ErrLimit)
	require.EqualError(t, err, "emu: load image: it needs a 4×14 chip, this one is 3×1024: beyond the chip's limits")

	used, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	_, err = used.AddInput(1)
	require.NoError(t, err)
	err = used.LoadImage(img)
	require.ErrorIs(t, err, emu.ErrConfig)
	require.ErrorContains(t, err, "the chip is already configured")

	img.Conns[0].Dst = 7
	fresh, err := emu.New(emu.Opts{})
	require.NoError(t, err)
	err = fresh.LoadImage(img)
	require.ErrorIs(t, err, image.ErrInvalid)
	require.ErrorContains(t, err, "emu: load image: conns[0] \"in->exc\": destination core 7 is not in the image")
}
