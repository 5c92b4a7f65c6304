package network

// Rule makes a connection's synapses from a connection rule instead of listing them, as
// PyNN's connectors and Brian2's connect do; every synapse gets the connection's single
// weight (weights: W), except with Kind "file". Pseudo-random rules draw from the
// connection's stream (Seed, default the network's; docs/description.md), so a description
// always expands to the same synapses.
//
//	all_to_all         every source neuron to every target neuron
//	one_to_one         source neuron i to target neuron i (the two sizes must match)
//	fixed_probability  each (source, target) pair independently with probability P
//	fixed_in_degree    each target neuron from InDegree distinct source neurons, drawn uniformly
//	file               from File: an .npy of shape [target][source] (dense weights), or an .npz
//	                   with 1-D arrays pre, post and, optionally, weights (sparse; without
//	                   weights every synapse gets the connection's weight)
//
// AllowSelf (default true) says whether, for a population onto itself, neuron i may connect to
// itself (all_to_all, fixed_probability, fixed_in_degree).
type Rule struct {
	Kind      string  `json:"kind"`
	P         float64 `json:"p,omitempty"`
	InDegree  int     `json:"in_degree,omitempty"`
	AllowSelf *bool   `json:"allow_self,omitempty"`
	File      string  `json:"file,omitempty"`
	Seed      *uint64 `json:"seed,omitempty"`
}

// Rule kinds.
const (
	AllToAll         = "all_to_all"
	OneToOne         = "one_to_one"
	FixedProbability = "fixed_probability"
	FixedInDegree    = "fixed_in_degree"
	FromFile         = "file"
)

// RuleKinds lists the rule kinds.
var RuleKinds = []string{AllToAll, OneToOne, FixedProbability, FixedInDegree, FromFile}

// Source generates spikes on an input port, for every step of a run: Kind "poisson" makes
// each neuron spike in each step independently with probability Rate (a Poisson process in
// discrete time, at most one spike per step), drawn from the port's stream (Seed, default the
// network's); "regular" makes every neuron spike at steps Start, Start+Interval, .... Spikes
// start at step Start (default 1) and end after step Stop (0: the run's last); each carries
// Payload (default 1).
type Source struct {
	Kind     string  `json:"kind"`
	Rate     float64 `json:"rate,omitempty"`
	Interval int     `json:"interval,omitempty"`
	Start    int     `json:"start,omitempty"`
	Stop     int     `json:"stop,omitempty"`
	Payload  int32   `json:"payload,omitempty"`
	Seed     *uint64 `json:"seed,omitempty"`
}

// Source kinds.
const (
	Poisson = "poisson"
	Regular = "regular"
)
