package image_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/isa"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/internal/progtest"
)

// sample uses every kind of record: two programs, an input port, dense and sparse, core and
// input sources, graded and binary, a population split over two cores, two output ports.
func sample() *image.Image {
	lif := programs.MustGet("lif")
	sd := programs.MustGet("sigma_delta")
	return &image.Image{
		Name: "sample",
		Size: chip.Size{Cores: 4, NeuronsPerCore: 3},
		Cores: []image.Core{
			{Index: 0, Program: lif, Neurons: 3, Consts: []int32{100, 200, 10},
				Params: [][]int32{{1, 2, 3}, nil}, State: [][]int32{{-5, 0, 5}, {7, 8, 9}}},
			{Index: 1, Program: lif, Neurons: 2, Consts: []int32{100, 200, 10}},
			{Index: 3, Program: sd, Neurons: 1, Consts: []int32{64, 2, 1, 0}, Params: [][]int32{{-3}}},
		},
		Inputs: []image.Input{{Name: "in", Size: 2}},
		Conns: []image.Conn{
			{Name: "in->exc", Kind: image.FromInput, Src: 0, SrcCount: 2, Dst: 0, DstCount: 3,
				Weights: []int32{2, 4, -6, 0, 8, 254}, SignMode: syn.Mixed, WeightBits: 8, WeightExp: 1},
			{Name: "in->exc", Kind: image.FromInput, Src: 0, SrcCount: 2, Dst: 1, DstCount: 2,
				Weights: []int32{16, 32, 48, 64}, SignMode: syn.Excitatory, WeightBits: 4, WeightExp: -3, Graded: true},
			{Name: "exc->sd", Kind: image.FromCore, Src: 0, SrcStart: 1, SrcCount: 2, Dst: 3, DstCount: 1,
				Index: []int32{0, 1, 1}, Targets: []int32{0}, Weights: []int32{-8}, SignMode: syn.Inhibitory, WeightBits: 5},
			{Name: "", Kind: image.FromCore, Src: 1, SrcCount: 2, Dst: 3, DstCount: 1,
				Index: []int32{0, 0, 0}, Targets: []int32{}, Weights: []int32{}, SignMode: syn.Mixed, WeightBits: 8},
		},
		Pops: []image.Population{
			{Name: "exc", Size: 5, Segments: []image.Segment{{Core: 0, Start: 0, Count: 3}, {Core: 1, Start: 0, Count: 2}}},
			{Name: "sd", Size: 1, Segments: []image.Segment{{Core: 3, Count: 1}}},
		},
		Outputs: []image.Output{{Name: "exc_tail", Pop: 0, Start: 2, Count: 3}, {Name: "sd", Pop: 1, Count: 1}},
	}
}

func minimal() *image.Image {
	return &image.Image{
		Size:  chip.Size{Cores: 1, NeuronsPerCore: 1},
		Cores: []image.Core{{Index: 0, Program: &isa.Program{Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}}, Neurons: 1}},
		Pops:  []image.Population{{Name: "p", Size: 1, Segments: []image.Segment{{Core: 0, Count: 1}}}},
	}
}

// random builds a valid image with random programs, cores, connections and populations.
func random(r *rand.Rand) *image.Image {
	size := chip.Size{Cores: 1 + r.IntN(6), NeuronsPerCore: 1 + r.IntN(40)}
	img := &image.Image{Name: fmt.Sprintf("rand%d", r.IntN(100)), Size: size}
	for c := range size.Cores {
		if r.IntN(4) == 0 && c > 0 {
			continue
		}
		p := progtest.Random(r)
		n := 1 + r.IntN(size.NeuronsPerCore)
		k := image.Core{Index: c, Program: p, Neurons: n, Consts: make([]int32, len(p.Consts))}
		for i := range k.Consts {
			k.Consts[i] = int32(r.Uint32())
		}
		if r.IntN(2) == 0 {
			k.Params = rows(r, len(p.Params), n)
		}
		if r.IntN(2) == 0 {
			k.State = rows(r, len(p.State), n)
		}
		img.Cores = append(img.Cores, k)
		img.Pops = append(img.Pops, image.Population{Name: fmt.Sprintf("pop%d", c), Size: n, Segments: []image.Segment{{Core: c, Count: n}}})
		if r.IntN(2) == 0 {
			img.Outputs = append(img.Outputs, image.Output{Name: fmt.Sprintf("out%d", c), Pop: len(img.Pops) - 1, Count: n})
		}
	}
	for i := range r.IntN(3) {
		img.Inputs = append(img.Inputs, image.Input{Name: fmt.Sprintf("in%d", i), Size: 1 + r.IntN(size.NeuronsPerCore)})
	}
	for range r.IntN(10) {
		dst := img.Cores[r.IntN(len(img.Cores))]
		c := image.Conn{Name: "c", Dst: dst.Index, SignMode: syn.SignMode(1 + r.IntN(3)), WeightBits: 1 + r.IntN(8),
			WeightExp: syn.MinExp + r.IntN(syn.MaxExp-syn.MinExp+1), Graded: r.IntN(2) == 0}
		srcN := 0
		if len(img.Inputs) > 0 && r.IntN(2) == 0 {
			c.Kind, c.Src = image.FromInput, r.IntN(len(img.Inputs))
			srcN = img.Inputs[c.Src].Size
		} else {
			k := img.Cores[r.IntN(len(img.Cores))]
			c.Src, srcN = k.Index, k.Neurons
		}
		c.SrcStart = r.IntN(srcN)
		c.SrcCount = 1 + r.IntN(srcN-c.SrcStart)
		c.DstStart = r.IntN(dst.Neurons)
		c.DstCount = 1 + r.IntN(dst.Neurons-c.DstStart)
		w := func() int32 { return syn.Effective(int32(r.IntN(600)-300), c.SignMode, c.WeightBits) }
		if r.IntN(2) == 0 {
			for range c.SrcCount * c.DstCount {
				c.Weights = append(c.Weights, w())
			}
		} else {
			c.Index = []int32{0}
			c.Targets, c.Weights = []int32{}, []int32{}
			for range c.SrcCount {
				for range r.IntN(3) {
					c.Targets = append(c.Targets, int32(r.IntN(c.DstCount)))
					c.Weights = append(c.Weights, w())
				}
				c.Index = append(c.Index, int32(len(c.Weights)))
			}
		}
		img.Conns = append(img.Conns, c)
	}
	return img
}

func rows(r *rand.Rand, k, n int) [][]int32 {
	out := make([][]int32, k)
	for i := range out {
		out[i] = make([]int32, n)
		for j := range out[i] {
			out[i][j] = int32(r.Uint32())
		}
	}
	return out
}

func encode(t testing.TB, img *image.Image) []byte {
	t.Helper()
	b, err := img.MarshalBinary()
	require.NoError(t, err)
	return b
}

func TestRoundTrip(t *testing.T) {
	cases := map[string]*image.Image{"sample": sample(), "minimal": minimal()}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		cases[fmt.Sprintf("random%02d", i)] = random(r)
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			b := encode(t, img)
			got, err := image.Decode(b)
			require.NoError(t, err)
			require.Equal(t, sha256.Sum256(b[:len(b)-32]), got.SHA256)
			b2 := encode(t, got)
			require.Equal(t, b, b2, "encode → decode → encode changed the bytes")
			require.Equal(t, img.Name, got.Name)
			require.Equal(t, img.Size, got.Size)
			require.Equal(t, img.Inputs, got.Inputs)
			require.Equal(t, img.Pops, got.Pops)
			require.Equal(t, img.Outputs, got.Outputs)
			require.Len(t, got.Conns, len(img.Conns))
			for i, c := range img.Conns {
				g := got.Conns[i]
				require.Equal(t, c.Sparse(), g.Sparse())
				require.Equal(t, len(c.Weights), len(g.Weights))
				if len(c.Weights) > 0 {
					require.Equal(t, c.Weights, g.Weights)
				}
				c.Weights, g.Weights, c.Targets, g.Targets = nil, nil, nil, nil
				require.Equal(t, c, g)
			}
			require.Len(t, got.Cores, len(img.Cores))
			for i, c := range img.Cores {
				g := got.Cores[i]
				require.Equal(t, c.Index, g.Index)
				require.Equal(t, c.Neurons, g.Neurons)
				require.Equal(t, c.Program.Code, g.Program.Code)
				require.Equal(t, len(c.Consts), len(g.Consts))
				for p := range c.Program.Params {
					require.Equal(t, row(c.Params, p, c.Neurons), row(g.Params, p, c.Neurons))
				}
				for s := range c.Program.State {
					require.Equal(t, row(c.State, s, c.Neurons), row(g.State, s, c.Neurons))
				}
			}
		})
	}
}

func row(m [][]int32, i, n int) []int32 {
	if m == nil || m[i] == nil {
		return make([]int32, n)
	}
	return m[i]
}

func TestEncodeWriter(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, image.Encode(&buf, sample()))
	require.Equal(t, encode(t, sample()), buf.Bytes())
	got, err := image.Read(&buf)
	require.NoError(t, err)
	require.Equal(t, "sample", got.Name)
	require.True(t, image.IsImage(encode(t, sample())))
	require.False(t, image.IsImage([]byte("LRNP")))

	bad := sample()
	bad.Cores[0].Neurons = 4
	require.ErrorIs(t, image.Encode(&buf, bad), image.ErrInvalid)
}

func TestHelpers(t *testing.T) {
	img := sample()
	require.NoError(t, img.Validate())
	require.Equal(t, []image.Block{{Core: 0, Start: 2, Count: 1, Offset: 0}, {Core: 1, Start: 0, Count: 2, Offset: 1}}, img.OutputBlocks(0))
	require.Equal(t, []image.Block{{Core: 3, Start: 0, Count: 1}}, img.OutputBlocks(1))
	require.Equal(t, []image.Block{{Core: 0, Start: 1, Count: 2}, {Core: 1, Start: 0, Count: 1, Offset: 2}}, img.Locate(0, 1, 3))
	require.Equal(t, 1, img.Pop("sd"))
	require.Equal(t, -1, img.Pop("nope"))
	require.Equal(t, 0, img.Input("in"))
	require.Equal(t, -1, img.Input("out"))
	require.Equal(t, 1, img.Output("sd"))
	require.Equal(t, -1, img.Output("nope"))
	require.Equal(t, 3, img.Core(3).Index)
	require.Nil(t, img.Core(2))
	require.Equal(t, "4×3", img.Size.String())
	require.Equal(t, "input", image.FromInput.String())
	require.Equal(t, "core", image.FromCore.String())
	require.Equal(t, "SourceKind(7)", image.SourceKind(7).String())
	require.Equal(t, "conns", image.SectionName(image.SectConns))
	require.Equal(t, "section(9)", image.SectionName(9))
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*image.Image)
		want string
	}{
		{"size", func(i *image.Image) { i.Size.Cores = 200 }, "header: chip size 200×3 outside [1×1, 128×8192]"},
		{"network name", func(i *image.Image) { i.Name = "a b" }, `header: network name: name "a b" contains a space`},
		{"core index", func(i *image.Image) { i.Cores[2].Index = 4 }, `cores[2] "sigma_delta": core index 4 outside the chip's 4 cores`},
		{"core order", func(i *image.Image) { i.Cores[1].Index = 0 }, "core index 0 does not ascend (previous 0)"},
		{"neurons", func(i *image.Image) { i.Cores[0].Neurons = 4 }, "core 0: 4 neurons outside [1, 3]"},
		{"no program", func(i *image.Image) { i.Cores[0].Program = nil }, "core 0: no program"},
		{"bad program", func(i *image.Image) { i.Cores[0].Program = &isa.Program{} }, "core 0: invalid neuron program: no instructions"},
		{"bad names", func(i *image.Image) {
			i.Cores[0].Program = &isa.Program{State: []string{"s0"}, Code: []isa.Instr{{Op: isa.OpSpk, Ra: isa.A}}}
		}, `state name 0 "s0" is reserved`},
		{"consts", func(i *image.Image) { i.Cores[0].Consts = nil }, "core 0: program declares 3 constants, 0 given"},
		{"params rows", func(i *image.Image) { i.Cores[0].Params = [][]int32{nil} }, "core 0: 1 parameter rows, program declares 2"},
		{"state row", func(i *image.Image) { i.Cores[0].State[1] = []int32{1} }, `core 0: state "v" has 1 values for 3 neurons`},
		{"input name", func(i *image.Image) { i.Inputs[0].Name = "" }, "inputs[0]: empty name"},
		{"input dup", func(i *image.Image) { i.Inputs = append(i.Inputs, i.Inputs[0]) }, `inputs[1] "in": duplicate name`},
		{"input size", func(i *image.Image) { i.Inputs[0].Size = 4 }, `inputs[0] "in": 4 neurons outside [1, 3]`},
		{"dst core", func(i *image.Image) { i.Conns[0].Dst = 2 }, `conns[0] "in->exc": destination core 2 is not in the image`},
		{"dst range", func(i *image.Image) { i.Conns[1].DstStart = 1 }, "destination neurons [1, 3) outside core 1's 2"},
		{"src core", func(i *image.Image) { i.Conns[2].Src = 2 }, "source core 2 is not in the image"},
		{"src input", func(i *image.Image) { i.Conns[0].Src = 1 }, "source input port 1: image has 1"},
		{"src kind", func(i *image.Image) { i.Conns[0].Kind = 5 }, "source kind 5"},
		{"src range", func(i *image.Image) { i.Conns[2].SrcStart = 2 }, "source neurons [2, 4) outside the source's 3"},
		{"sign", func(i *image.Image) { i.Conns[0].SignMode = 0 }, "sign mode 0"},
		{"bits", func(i *image.Image) { i.Conns[0].WeightBits = 9 }, "num_weight_bits 9"},
		{"exp", func(i *image.Image) { i.Conns[0].WeightExp = 16 }, "weight_exp 16"},
		{"dense count", func(i *image.Image) { i.Conns[0].Weights = i.Conns[0].Weights[1:] }, "5 weights for 2×3 dense synapses"},
		{"dense targets", func(i *image.Image) { i.Conns[0].Targets = []int32{} }, "dense connection with sparse targets"},
		{"index len", func(i *image.Image) { i.Conns[2].Index = []int32{0, 1} }, "sparse index has 2 offsets, want 3"},
		{"targets len", func(i *image.Image) { i.Conns[2].Targets = nil }, "0 sparse targets for 1 weights"},
		{"index ends", func(i *image.Image) { i.Conns[2].Index = []int32{0, 1, 2} }, "sparse index runs from 0 to 2, want 0 to 1"},
		{"index decreases", func(i *image.Image) {
			i.Conns[2].Index = []int32{0, 2, 1}
			i.Conns[2].Targets = []int32{0}
		}, "sparse index decreases at source 1"},
		{"target", func(i *image.Image) { i.Conns[2].Targets[0] = 1 }, "synapse 0 targets neuron 1 outside [0, 1)"},
		{"effective", func(i *image.Image) { i.Conns[0].Weights[0] = 3 }, "weight 3 (synapse 0) is not an effective MIXED weight of 8 bits (it would load as 2)"},
		{"conn name", func(i *image.Image) { i.Conns[0].Name = "a\nb" }, "contains a space or control character"},
		{"banks", func(i *image.Image) {
			for range chip.MaxBanksPerCore + 1 {
				c := i.Conns[3]
				c.WeightExp = -1
				i.Conns = append(i.Conns, c)
			}
		}, `conns[20]: core 3 has more than 16 incoming connections with a negative weight exponent (accumulator banks)`},
		{"pop dup", func(i *image.Image) { i.Pops[1].Name = "exc" }, `pops[1] "exc": duplicate name`},
		{"pop name", func(i *image.Image) { i.Pops[1].Name = strings.Repeat("x", 256) }, "name is 256 bytes, limit 255"},
		{"pop core", func(i *image.Image) { i.Pops[1].Segments[0].Core = 2 }, "segment 0: no core 2 in the image"},
		{"pop range", func(i *image.Image) { i.Pops[1].Segments[0].Count = 2 }, "segment 0: neurons [0, 2) outside core 3's 1"},
		{"pop overlap", func(i *image.Image) { i.Pops[1].Segments[0] = image.Segment{Core: 1, Start: 1, Count: 1} }, "segment 0: neurons [1, 2) of core 1 already belong to a population"},
		{"pop size", func(i *image.Image) { i.Pops[0].Size = 4 }, `pops[0] "exc": size 4, but its segments hold 5 neurons`},
		{"out dup", func(i *image.Image) { i.Outputs[1].Name = "exc_tail" }, `outputs[1] "exc_tail": duplicate name`},
		{"out name", func(i *image.Image) { i.Outputs[1].Name = "\xff" }, "is not UTF-8"},
		{"out pop", func(i *image.Image) { i.Outputs[1].Pop = 2 }, "population 2: image has 2"},
		{"out range", func(i *image.Image) { i.Outputs[0].Count = 4 }, `neurons [2, 6) outside population "exc" of 5`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := sample()
			c.edit(img)
			err := img.Validate()
			require.ErrorIs(t, err, image.ErrInvalid)
			require.ErrorContains(t, err, c.want)
			var fe *image.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, -1, fe.Offset)
			_, err = img.MarshalBinary()
			require.ErrorIs(t, err, image.ErrInvalid)
		})
	}
	// Connections with a weight exponent ≥ 0 add straight into the dendritic input: no bank,
	// no limit.
	img := sample()
	for range 2 * chip.MaxBanksPerCore {
		c := img.Conns[3]
		c.WeightExp = 0
		img.Conns = append(img.Conns, c)
	}
	require.NoError(t, img.Validate())
}

// fixSum recomputes the checksum (and leaves everything else as it is).
func fixSum(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) >= 32 {
		s := sha256.Sum256(b[:len(b)-32])
		copy(b[len(b)-32:], s[:])
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	good := encode(t, sample())
	le := binary.LittleEndian
	// Offsets of the sample's sections, from its table.
	sect := func(k int) int { return int(le.Uint32(good[24+16*(k-1)+8:])) }
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint32(b[off:], v); return fixSum(b) }
	}
	conns := sect(image.SectConns)
	// The second conn record starts after the first: name (4+8), 12 u32, 6 i16 (12).
	conn1 := conns + 12 + 12*4 + 12
	cases := []struct {
		name string
		edit func([]byte) []byte
		is   error
		want string
	}{
		{"empty", func([]byte) []byte { return nil }, image.ErrFormat, `offset 0 (header, magic): got "", want "LRNI"`},
		{"magic", func(b []byte) []byte { return append([]byte("LRNP"), b[4:]...) }, image.ErrFormat, "(header, magic)"},
		{"version", put32(4, 2), image.ErrVersion, "offset 4 (header, version): version 2, this build reads 1"},
		{"truncated header", func(b []byte) []byte { return b[:100] }, image.ErrFormat, "offset 100 (header, length): truncated: 100 bytes"},
		{"flags", put32(4, 1|1<<16), image.ErrFormat, "offset 6 (header, flags): 0x0001, want 0"},
		{"cores", put32(8, 0), image.ErrFormat, "offset 8 (header, cores): 0 outside [1, 128]"},
		{"neurons", put32(12, 9000), image.ErrFormat, "offset 12 (header, neurons per core): 9000 outside [1, 8192]"},
		{"sections", put32(16, 7), image.ErrFormat, "offset 16 (header, section count): 7 outside [6, 6]"},
		{"truncated", func(b []byte) []byte { return fixSum(b[:len(b)-4]) }, image.ErrFormat, "(header, total length): header says"},
		{"extended", func(b []byte) []byte { return append(bytes.Clone(b), 0) }, image.ErrFormat, "(header, total length)"},
		{"checksum", func(b []byte) []byte { b[200]++; return b }, image.ErrChecksum, "(sha256): stored"},
		{"kind", put32(24+16, 3), image.ErrFormat, "offset 40 (section table[1], kind): 3 outside [2, 2]"},
		{"offset", put32(24+16+8, 0), image.ErrFormat, "(section table[1], offset): 0 outside"},
		{"length", put32(24+16+12, 1<<30), image.ErrFormat, "(section table[1], length)"},
		{"length odd", func(b []byte) []byte {
			le.PutUint32(b[24+12:], le.Uint32(b[24+12:])+2)
			return fixSum(b)
		}, image.ErrFormat, "(section table[0], length): "},
		{"count", put32(24+16*3+4, 1<<20), image.ErrFormat, "(section table[3], count): 1048576 records cannot fit"},
		{"meta count", put32(24+4, 0), image.ErrFormat, "(section table[0], count): 0 meta records, want 1"},
		{"name length", put32(sect(image.SectInputs), 300), image.ErrFormat, "(inputs[0], name length): 300 outside [0, 255]"},
		{"name overrun", put32(sect(image.SectInputs), 200), image.ErrFormat, "(inputs[0], name): needs 200 bytes"},
		{"padding", func(b []byte) []byte { b[sect(image.SectInputs)+6] = 1; return fixSum(b) }, image.ErrFormat, "(inputs[0], name padding): nonzero byte 0x01"},
		{"input size", put32(sect(image.SectInputs)+8, 0), image.ErrFormat, "(inputs[0], size): 0 outside [1, 8192]"},
		{"program", func(b []byte) []byte { b[sect(image.SectCores)+12]++; return fixSum(b) }, image.ErrFormat, "(cores[0], program): isa: unmarshal program"},
		{"program length", put32(sect(image.SectCores)+8, 1<<24), image.ErrFormat, "(cores[0], program): needs 16777216 bytes"},
		{"src kind", put32(conns+12, 2), image.ErrFormat, "(conns[0], source kind): 2 outside [0, 1]"},
		{"sign", put32(conns+12+28, 4), image.ErrFormat, "(conns[0], sign mode): 4 outside [1, 3]"},
		{"exp", put32(conns+12+36, 16), image.ErrFormat, "(conns[0], weight exponent): 16 outside [-16, 15]"},
		{"conn flags", put32(conns+12+40, 4), image.ErrFormat, "(conns[0], flags): unknown bits 0x4"},
		{"dense synapses", put32(conns+12+44, 5), image.ErrFormat, "(conns[0], synapses): 5 for a dense 2×3 block, want 6"},
		{"sparse synapses", put32(conns+12+44, 1|2), image.ErrFormat, "(conns[0], synapses): 3 for a dense"},
		{"sparse huge", func(b []byte) []byte {
			le.PutUint32(b[conns+12+40:], 2)
			le.PutUint32(b[conns+12+44:], 1<<30)
			return fixSum(b)
		}, image.ErrFormat, "(conns[0], sparse synapses): needs"},
		{"segments", put32(sect(image.SectPops)+12, 1<<28), image.ErrFormat, "(pops[0], segments): needs 3221225472 bytes"},
		{"invalid", put32(conn1+12+16, 2), image.ErrInvalid, `(conns[1] "in->exc"): destination core 2 is not in the image`},
		{"not effective", func(b []byte) []byte { b[conns+12+48]++; return fixSum(b) }, image.ErrInvalid, "is not an effective MIXED weight"},
		{"left over", func(b []byte) []byte {
			// Grow the outputs section by 4 bytes.
			b = append(b[:len(b)-32:len(b)-32], 0, 0, 0, 0)
			b = append(b, make([]byte, 32)...)
			le.PutUint32(b[20:], uint32(len(b)))
			le.PutUint32(b[24+16*5+12:], le.Uint32(b[24+16*5+12:])+4)
			return fixSum(b)
		}, image.ErrFormat, "(outputs, end): 4 bytes left over after 2 records"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(bytes.Clone(good))
			img, err := image.Decode(b)
			require.Nil(t, img)
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.want)
			require.True(t, strings.HasPrefix(err.Error(), "image: decode: "), err.Error())
		})
	}
}

func TestDecodeInvalidHasOffset(t *testing.T) {
	img := sample()
	img.Outputs[1].Pop = 0
	img.Outputs[1].Start = 4
	img.Outputs[1].Count = 1
	b := encode(t, img)
	// Break output 1 so it names population 2 (there are 2).
	off := len(b) - 32 - 12
	binary.LittleEndian.PutUint32(b[off:], 2)
	_, err := image.Decode(fixSum(b))
	var fe *image.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "outputs", fe.Section)
	assert.Equal(t, 1, fe.Record)
	assert.Equal(t, "sd", fe.Name)
	assert.Equal(t, off-8, fe.Offset) // the record starts at its name: 4 bytes of length, "sd" and padding
}

func TestReadTooLarge(t *testing.T) {
	_, err := image.Read(strings.NewReader("LRNI"))
	require.ErrorIs(t, err, image.ErrFormat)
	_, err = image.Read(errReader{})
	require.ErrorContains(t, err, "image: read: boom")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestUnmarshalBinary(t *testing.T) {
	var img image.Image
	require.NoError(t, img.UnmarshalBinary(encode(t, sample())))
	require.Equal(t, "sample", img.Name)
	require.Error(t, img.UnmarshalBinary([]byte("LRNI")))
	require.Equal(t, "sample", img.Name, "a failed decode leaves the image alone")
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add(encode(f, minimal()))
	r := rand.New(rand.NewPCG(5, 6))
	for range 5 {
		f.Add(encode(f, random(r)))
	}
	f.Add([]byte("LRNI"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// As given, and with the checksum made right so that the decoder gets past it.
		for _, in := range [][]byte{b, fixSum(b)} {
			img, err := image.Decode(in)
			if err != nil {
				if !errors.Is(err, image.ErrFormat) && !errors.Is(err, image.ErrVersion) &&
					!errors.Is(err, image.ErrChecksum) && !errors.Is(err, image.ErrInvalid) {
					t.Fatalf("error wraps no sentinel: %v", err)
				}
				continue
			}
			out, err := img.MarshalBinary()
			if err != nil {
				t.Fatalf("decoded image does not encode: %v", err)
			}
			if !bytes.Equal(in, out) {
				t.Fatalf("encode(decode(b)) != b")
			}
		}
	})
}

// zeros reads as /dev/zero does: without end.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.n += int64(len(p))
	return len(p), nil
}

// Every writer and reader enforces the format's size limit (lowered here so that the test
// needs no gigabytes): Encode, Decode, Read of an endless stream, ReadFile by the file's size.
func TestSizeLimit(t *testing.T) {
	b, err := sample().MarshalBinary()
	require.NoError(t, err)
	restore := image.SetLimit(len(b) - 1)
	defer restore()

	_, err = sample().MarshalBinary()
	require.ErrorIs(t, err, image.ErrTooLarge)
	require.ErrorContains(t, err, fmt.Sprintf("%d bytes, the format's limit is %d", len(b), len(b)-1))
	_, err = image.Decode(b)
	require.ErrorIs(t, err, image.ErrTooLarge)

	z := &zeros{}
	_, err = image.Read(z)
	require.ErrorIs(t, err, image.ErrTooLarge)
	require.LessOrEqual(t, z.n, int64(len(b)+64<<10), "reads stop at the limit")

	p := filepath.Join(t.TempDir(), "big.lrni")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(int64(len(b)))) // sparse: no disk
	require.NoError(t, f.Close())
	_, err = image.ReadFile(p)
	require.ErrorIs(t, err, image.ErrTooLarge)
	require.ErrorContains(t, err, "big.lrni")
}
