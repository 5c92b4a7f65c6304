package nir

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report says what a conversion did: which population each node became, with which program,
// and how far the chip's integers are from the model's numbers, layer by layer.
type Report struct {
	Network string      `json:"network"`
	Version string      `json:"nir_version"` // the file's NIR version ("" when it has none)
	Dt      float64     `json:"dt"`
	Reset   string      `json:"reset"` // the option: auto, zero or subtract
	Inputs  []PortMap   `json:"inputs"`
	Layers  []Layer     `json:"layers"`
	Conns   []Conn      `json:"connections"`
	Outputs []OutputMap `json:"outputs"`
	Notes   []string    `json:"notes"` // approximations and other things to know
}

// PortMap says which chip input ports carry a NIR Input node's elements (flattened in C
// order): port Ports[k] neuron j is element First+j.
type PortMap struct {
	Node  string      `json:"node"`
	Shape []int       `json:"shape"`
	Ports []PortRange `json:"ports"`
}

// PortRange is one chip input port of a NIR Input.
type PortRange struct {
	Port  string `json:"port"`
	First int    `json:"first"`
	Count int    `json:"count"`
}

// Layer is one population: the node it came from and its numerics. Errors are in the model's
// units (volts for thresholds and biases, the weight's own for weights); DecayErr is the
// largest difference between the chip's decay factor and 1 − dt/τ.
type Layer struct {
	Node       string  `json:"node"`
	Type       string  `json:"type"`
	Population string  `json:"population"`
	Size       int     `json:"size"`
	Program    string  `json:"program"`
	LavaExact  bool    `json:"lava_exact"` // Lava's standard lif (PyLifModelBitAcc), bit for bit
	Spiking    bool    `json:"spiking"`
	Reset      string  `json:"reset,omitempty"`
	Du         string  `json:"du,omitempty"`
	Dv         string  `json:"dv,omitempty"`
	Vth        string  `json:"vth,omitempty"`
	DecayErr   float64 `json:"decay_error"`
	VthMax     float64 `json:"vth_max"`
	VthErr     float64 `json:"vth_error"`
	BiasErr    float64 `json:"bias_error"`
	ResetErr   float64 `json:"reset_error"`
	Delay      string  `json:"delay,omitempty"`
}

// Conn is one connection and its weights' quantization: MaxWeight is the largest |W|, ErrAbs
// the largest |W − chip weight| and ErrRel their ratio; Zeroed counts weights that truncate
// to 0 (left out).
type Conn struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Synapses  int     `json:"synapses"`
	Dense     bool    `json:"dense"`
	SignMode  string  `json:"sign_mode"`
	WeightExp int     `json:"weight_exp"`
	MaxWeight float64 `json:"max_weight"`
	ErrAbs    float64 `json:"weight_error"`
	ErrRel    float64 `json:"weight_error_rel"`
	Zeroed    int     `json:"zeroed"`
}

// OutputMap says where a NIR Output node's values are: an output port of a population's
// spikes, or a probe of a population's v (value = v / Scale in the model's units).
type OutputMap struct {
	Node       string  `json:"node"`
	Population string  `json:"population"`
	Port       string  `json:"port,omitempty"`
	Probe      string  `json:"probe,omitempty"`
	Scale      float64 `json:"scale,omitempty"`
}

func (r *Report) note(f string, a ...any) { r.Notes = append(r.Notes, fmt.Sprintf(f, a...)) }

// WriteText prints the report as tables.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	v := r.Version
	if v == "" {
		v = "(none)"
	}
	fmt.Fprintf(&b, "network %s from NIR %s, dt = %g s, reset: %s\n", r.Network, v, r.Dt, r.Reset)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Inputs) > 0 {
		fmt.Fprintln(&b, "\ninputs (elements in C order):")
		fmt.Fprintln(tw, "  NODE\tSHAPE\tPORTS")
		for _, in := range r.Inputs {
			var ps []string
			for _, p := range in.Ports {
				ps = append(ps, fmt.Sprintf("%s = [%d, %d)", p.Port, p.First, p.First+p.Count))
			}
			fmt.Fprintf(tw, "  %s\t%v\t%s\n", in.Node, in.Shape, strings.Join(ps, ", "))
		}
		tw.Flush()
	}
	fmt.Fprintln(&b, "\nlayers (errors in the model's units):")
	fmt.Fprintln(tw, "  NODE\tTYPE\tPOPULATION\tSIZE\tPROGRAM\tDU\tDV\tVTH\tDECAY ERR\tVTH ERR\tBIAS ERR\tRESET")
	for _, l := range r.Layers {
		prog := l.Program
		if l.LavaExact {
			prog += " (Lava)"
		}
		reset := l.Reset
		if l.Delay != "" {
			reset = l.Delay
		}
		vth := l.Vth
		if l.Spiking && l.VthMax > 0 {
			vth = fmt.Sprintf("%s (%.3g%%)", l.Vth, 100*l.VthErr/l.VthMax)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%.3g\t%.3g\t%.3g\t%s\n", l.Node, l.Type, l.Population, l.Size, prog,
			l.Du, l.Dv, vth, l.DecayErr, l.VthErr, l.BiasErr, reset)
	}
	tw.Flush()
	fmt.Fprintln(&b, "\nconnections (weights: largest |W|, largest |W − chip weight|, relative):")
	fmt.Fprintln(tw, "  FROM\tTO\tSYNAPSES\tKIND\tSIGN MODE\tEXP\tMAX |W|\tWEIGHT ERR\tREL\tZEROED")
	for _, x := range r.Conns {
		kind := "sparse"
		if x.Dense {
			kind = "dense"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%d\t%.4g\t%.3g\t%.2g%%\t%d\n", x.From, x.To, x.Synapses, kind, x.SignMode, x.WeightExp,
			x.MaxWeight, x.ErrAbs, 100*x.ErrRel, x.Zeroed)
	}
	tw.Flush()
	if len(r.Outputs) > 0 {
		fmt.Fprintln(&b, "\noutputs:")
		for _, o := range r.Outputs {
			switch {
			case o.Port != "":
				fmt.Fprintf(&b, "  %s: output port %s (spikes of population %s)\n", o.Node, o.Port, o.Population)
			default:
				fmt.Fprintf(&b, "  %s: not spikes; read it with --probe %s (value = v / %g)\n", o.Node, o.Probe, o.Scale)
			}
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(&b, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
