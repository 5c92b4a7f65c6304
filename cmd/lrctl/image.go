package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/network"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build network images from network descriptions, and look inside them",
	}
	cmd.AddCommand(newImageBuildCmd(), newImageInspectCmd())
	return cmd
}

func newImageBuildCmd() *cobra.Command {
	var out, chipSize string
	var strict bool
	cmd := &cobra.Command{
		Use:   "build NETWORK [-o FILE] [--chip SIZE] [--strict]",
		Short: "Validate a network description (YAML or JSON), map it onto a chip and write its image",
		Long: `Reads a network description, validates it, places it on a chip of the given size
(prototype: 8 cores of 1024 neurons; full: 128 × 8192; or CORESxNEURONS) and writes the
network image a board or the emulator loads. -o defaults to NETWORK with the extension .lrni.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			size, err := chip.ParseSize(chipSize)
			if err != nil {
				return err
			}
			n, err := network.Load(args[0])
			if err != nil {
				return err
			}
			img, err := mapNetwork(n, size, strict, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			b, err := img.MarshalBinary()
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".lrni"
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("image build: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d bytes, %s, %s, needs a %s chip, sha256 %s\n",
				out, len(b), plural(len(img.Cores), "core"), plural(len(img.Conns), "connection"), img.Size, hex.EncodeToString(b[len(b)-32:])) // the image ends with its SHA-256
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "image file to write (default NETWORK.lrni)")
	cmd.Flags().StringVar(&chipSize, "chip", "prototype", "chip size to map onto: prototype, full or CORESxNEURONS")
	cmd.Flags().BoolVar(&strict, "strict", false, "refuse a description whose weights quantization changes (default: a warning per connection)")
	return cmd
}

func newImageInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE [--json]",
		Short: "Print what a network image holds: size, cores, connections, ports, populations, checksum",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := image.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("image inspect: %w", err)
			}
			if !image.IsImage(b) {
				return fmt.Errorf("image inspect: %s is not a network image (it does not start with %q); build one with lrctl image build", args[0], image.Magic)
			}
			img, err := image.Decode(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			s := summarize(img, len(b))
			if asJSON {
				return printJSON(cmd.OutOrStdout(), s)
			}
			s.print(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// imageSummary is what inspect prints (its JSON form with --json).
type imageSummary struct {
	Network     string           `json:"network"`
	Version     int              `json:"version"`
	Bytes       int              `json:"bytes"`
	SHA256      string           `json:"sha256"`
	Size        sizeSummary      `json:"size"`
	Cores       []coreSummary    `json:"cores"`
	Inputs      []inputSummary   `json:"inputs"`
	Connections []connSummary    `json:"connections"`
	Outputs     []outputSummary  `json:"outputs"`
	Populations []popSummary     `json:"populations"`
	Totals      map[string]int64 `json:"totals"`
}

type inputSummary struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

type sizeSummary struct {
	Cores          int `json:"cores"`
	NeuronsPerCore int `json:"neurons_per_core"`
}

type coreSummary struct {
	Core         int              `json:"core"`
	Program      string           `json:"program"`
	Instructions int              `json:"instructions"`
	Neurons      int              `json:"neurons"`
	Populations  []string         `json:"populations"` // what it holds: population[neurons]
	BankConns    int              `json:"accumulator_banks"`
	Consts       map[string]int32 `json:"consts"`
	Params       []string         `json:"params"`
	State        []string         `json:"state"`
	Incoming     int              `json:"incoming_connections"`
	constNames   []string         // the program's order
}

type connSummary struct {
	Name       string `json:"name"`
	Source     string `json:"source"`
	Dest       string `json:"destination"`
	Format     string `json:"format"`
	Synapses   int    `json:"synapses"`
	Zero       int    `json:"zero_weights"` // synapses of effective weight 0: they do nothing
	SignMode   string `json:"sign_mode"`
	WeightBits int    `json:"num_weight_bits"`
	WeightExp  int    `json:"weight_exp"`
	Graded     bool   `json:"graded"`
}

type outputSummary struct {
	Name       string   `json:"name"`
	Population string   `json:"population"`
	Start      int      `json:"start"`
	Count      int      `json:"count"`
	Blocks     []string `json:"blocks"`
}

type popSummary struct {
	Name     string   `json:"name"`
	Size     int      `json:"size"`
	Segments []string `json:"segments"`
	Fields   []string `json:"fields"`
}

func span(what string, i, start, count int) string {
	return fmt.Sprintf("%s %d[%d:%d]", what, i, start, start+count)
}

func summarize(img *image.Image, nbytes int) *imageSummary {
	s := &imageSummary{Network: img.Name, Version: image.Version, Bytes: nbytes, SHA256: hex.EncodeToString(img.SHA256[:]),
		Size: sizeSummary{Cores: img.Size.Cores, NeuronsPerCore: img.Size.NeuronsPerCore}, Inputs: []inputSummary{},
		Cores: []coreSummary{}, Connections: []connSummary{}, Outputs: []outputSummary{}, Populations: []popSummary{},
		Totals: map[string]int64{}}
	for _, in := range img.Inputs {
		s.Inputs = append(s.Inputs, inputSummary{Name: in.Name, Size: in.Size})
	}
	owner := map[int][]string{}
	for _, p := range img.Pops {
		ps := popSummary{Name: p.Name, Size: p.Size}
		pos := 0
		for _, g := range p.Segments {
			owner[g.Core] = append(owner[g.Core], fmt.Sprintf("%s[%d:%d]", p.Name, pos, pos+g.Count))
			ps.Segments = append(ps.Segments, span("core", g.Core, g.Start, g.Count))
			pos += g.Count
		}
		ps.Fields = append(append([]string{}, img.Core(p.Segments[0].Core).Program.State...), "a", "spike")
		s.Populations = append(s.Populations, ps)
	}
	incoming, banks := map[int]int{}, map[int]int{}
	for _, c := range img.Conns {
		incoming[c.Dst]++
		if c.WeightExp < 0 {
			banks[c.Dst]++
		}
		src := span("core", c.Src, c.SrcStart, c.SrcCount)
		if c.Kind == image.FromInput {
			src = fmt.Sprintf("input %s[%d:%d]", img.Inputs[c.Src].Name, c.SrcStart, c.SrcStart+c.SrcCount)
		}
		format := "dense"
		if c.Sparse() {
			format = "sparse"
		}
		zero := 0
		for _, w := range c.Weights {
			if w == 0 {
				zero++
			}
		}
		s.Connections = append(s.Connections, connSummary{Name: c.Name, Source: src, Dest: span("core", c.Dst, c.DstStart, c.DstCount),
			Format: format, Synapses: c.Synapses(), Zero: zero, SignMode: c.SignMode.String(), WeightBits: c.WeightBits, WeightExp: c.WeightExp, Graded: c.Graded})
		s.Totals["synapses"] += int64(c.Synapses())
	}
	for _, k := range img.Cores {
		cs := coreSummary{Core: k.Index, Program: k.Program.Name, Instructions: len(k.Program.Code), Neurons: k.Neurons,
			Populations: owner[k.Index], Consts: map[string]int32{}, Params: k.Program.Params, State: k.Program.State,
			Incoming: incoming[k.Index], BankConns: banks[k.Index],
			constNames: k.Program.Consts}
		if cs.Program == "" {
			cs.Program = "(unnamed)"
		}
		for i, name := range k.Program.Consts {
			cs.Consts[name] = k.Consts[i]
		}
		if cs.Params == nil {
			cs.Params = []string{}
		}
		if cs.Populations == nil {
			cs.Populations = []string{}
		}
		if cs.State == nil {
			cs.State = []string{}
		}
		s.Cores = append(s.Cores, cs)
		s.Totals["neurons"] += int64(k.Neurons)
	}
	for i, o := range img.Outputs {
		out := outputSummary{Name: o.Name, Population: img.Pops[o.Pop].Name, Start: o.Start, Count: o.Count}
		for _, b := range img.OutputBlocks(i) {
			out.Blocks = append(out.Blocks, span("core", b.Core, b.Start, b.Count))
		}
		s.Outputs = append(s.Outputs, out)
	}
	s.Totals["cores"] = int64(len(img.Cores))
	s.Totals["connections"] = int64(len(img.Conns))
	return s
}

func (s *imageSummary) print(w io.Writer, path string) {
	name := s.Network
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(w, "%s: network image v%d of network %s, %d bytes\n", path, s.Version, name, s.Bytes)
	fmt.Fprintf(w, "sha256:  %s\n", s.SHA256)
	fmt.Fprintf(w, "needs:   a chip of at least %d cores × %d neurons\n", s.Size.Cores, s.Size.NeuronsPerCore)
	fmt.Fprintf(w, "totals:  %d cores, %d neurons, %d connections, %d synapses\n",
		s.Totals["cores"], s.Totals["neurons"], s.Totals["connections"], s.Totals["synapses"])
	fmt.Fprintf(w, "\ncores:\n")
	for _, c := range s.Cores {
		pops := "population " + orNone(strings.Join(c.Populations, ""))
		if len(c.Populations) > 1 {
			pops = "populations " + strings.Join(c.Populations, ", ")
		}
		banks := ""
		if c.BankConns > 0 {
			banks = fmt.Sprintf(" (%d with an accumulator bank)", c.BankConns)
		}
		fmt.Fprintf(w, "  core %d: %s (%d instructions), %s, %s, %s%s\n",
			c.Core, c.Program, c.Instructions, plural(c.Neurons, "neuron"), pops, plural(c.Incoming, "incoming connection"), banks)
		var consts []string
		for _, k := range c.constNames {
			consts = append(consts, fmt.Sprintf("%s=%d", k, c.Consts[k]))
		}
		fmt.Fprintf(w, "    consts %s; params %s; state %s\n", orNone(strings.Join(consts, " ")), orNone(strings.Join(c.Params, ", ")), orNone(strings.Join(c.State, ", ")))
	}
	fmt.Fprintf(w, "\ninput ports:\n")
	if len(s.Inputs) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	for i, in := range s.Inputs {
		fmt.Fprintf(w, "  %d %s: %s\n", i, in.Name, plural(in.Size, "neuron"))
	}
	fmt.Fprintf(w, "\nconnections (those with a negative exp take an accumulator bank):\n")
	if len(s.Connections) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	for i, c := range s.Connections {
		kind := "binary"
		if c.Graded {
			kind = "graded"
		}
		zero := ""
		if c.Zero > 0 {
			zero = fmt.Sprintf(" (%d of weight 0)", c.Zero)
		}
		fmt.Fprintf(w, "  %d %s: %s → %s, %s, %s%s, %s, %d bits, exp %d, %s\n",
			i, orNone(c.Name), c.Source, c.Dest, c.Format, plural(c.Synapses, "synapse"), zero, c.SignMode, c.WeightBits, c.WeightExp, kind)
	}
	fmt.Fprintf(w, "\noutput ports:\n")
	if len(s.Outputs) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	for _, o := range s.Outputs {
		fmt.Fprintf(w, "  %s: population %s[%d:%d] on %s\n", o.Name, o.Population, o.Start, o.Start+o.Count, strings.Join(o.Blocks, ", "))
	}
	fmt.Fprintf(w, "\npopulations (probe as POPULATION:FIELD[:NEURONS]):\n")
	for _, p := range s.Populations {
		fmt.Fprintf(w, "  %s: %s on %s; fields %s\n", p.Name, plural(p.Size, "neuron"), strings.Join(p.Segments, ", "), strings.Join(p.Fields, ", "))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
