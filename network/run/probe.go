package run

import (
	"fmt"
	"strconv"
	"strings"
)

// ProbeSpec asks for one field of some neurons of a population after every step.
type ProbeSpec struct {
	Population string
	Field      string // a state register of the population's program, "a" (dendritic input) or "spike" (payload)
	Neurons    []int  // population neurons; nil: all
}

// MaxProbeNeurons bounds the neurons one probe spec may list.
const MaxProbeNeurons = 1 << 20

// ParseProbe reads a probe spec "POPULATION:FIELD[:NEURONS]": FIELD is a state register
// name (v), "a" for the dendritic input or "spike" (also "s") for the spike payload; NEURONS
// is a comma-separated list of neurons and inclusive ranges ("0-9,12"), or "*" (the default)
// for all. Errors wrap ErrUsage.
func ParseProbe(s string) (ProbeSpec, error) {
	bad := func(f string, a ...any) (ProbeSpec, error) {
		return ProbeSpec{}, fmt.Errorf("run: probe %s: %w: %s (want POPULATION:FIELD[:NEURONS], e.g. exc:v:0-9)", quote(s), ErrUsage, fmt.Sprintf(f, a...))
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return bad("%d parts", len(parts))
	}
	p := ProbeSpec{Population: strings.TrimSpace(parts[0]), Field: strings.TrimSpace(parts[1])}
	if p.Population == "" {
		return bad("no population")
	}
	if p.Field == "" {
		return bad("no field")
	}
	if p.Field == "s" {
		p.Field = "spike"
	}
	if len(parts) == 2 || strings.TrimSpace(parts[2]) == "*" {
		return p, nil
	}
	p.Neurons = []int{}
	for _, item := range strings.Split(parts[2], ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return bad("neuron %s is not a number ≥ 0", quote(lo))
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a {
				return bad("range %s: want FIRST-LAST with FIRST ≤ LAST", quote(item))
			}
		}
		if len(p.Neurons)+(b-a+1) > MaxProbeNeurons {
			return bad("more than %d neurons", MaxProbeNeurons)
		}
		for n := a; n <= b; n++ {
			p.Neurons = append(p.Neurons, n)
		}
	}
	return p, nil
}

// String gives the spec back in the form ParseProbe reads (neurons as ranges).
func (p ProbeSpec) String() string {
	s := p.Population + ":" + p.Field
	if p.Neurons == nil {
		return s
	}
	var parts []string
	for i := 0; i < len(p.Neurons); {
		j := i
		for j+1 < len(p.Neurons) && p.Neurons[j+1] == p.Neurons[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(p.Neurons[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", p.Neurons[i], p.Neurons[j]))
		}
		i = j + 1
	}
	return s + ":" + strings.Join(parts, ",")
}
