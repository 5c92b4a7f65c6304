// Package network describes spiking networks by name — populations of neurons running a
// neuron program, input ports, connections, output ports — validates them, and maps them onto
// a chip, producing the network image (package firmware/image) that a board or the emulator
// loads.
//
// # Description files
//
// A description is JSON or YAML with one schema: the JSON field names of Network. A YAML
// example (examples/hello.yaml):
//
//	name: hello
//	inputs:
//	  - name: in
//	    size: 4
//	populations:
//	  - name: exc
//	    size: 8
//	    program: lif              # a standard program; or source: | ... ; or source_file: x.lra
//	    consts: {du: 1024, dv: 256, vth: 40}   # every constant of the program, by name
//	    params:
//	      bias_mant: 0            # one value for all neurons ...
//	    state:
//	      v: [0, 0, 0, 0, 100, 200, 300, 400]  # ... or one per neuron
//	connections:
//	  - from: in                  # a population or an input port
//	    to: exc                   # a population
//	    weights: 60               # dense: one weight for all, or rows [post][pre]
//	    sign_mode: EXCITATORY     # MIXED (default), EXCITATORY, INHIBITORY
//	    num_weight_bits: 8        # 1..8, default 8
//	    weight_exp: 0             # −16..15
//	    graded: false             # weight × payload, or every spike counts 1
//	  - name: exc-recurrent       # default name: FROM->TO
//	    from: exc
//	    to: exc
//	    sparse: {pre: [0, 1], post: [1, 0], weights: [-20, -20]}   # weights: one for all, or one per synapse
//	outputs:
//	  - population: exc           # name defaults to the population's
//	    start: 0                  # a slice [start, start+count); count 0 or absent: to the end
//	    count: 8
//
// Dense weight matrices are [post][pre], as Lava's Dense: one row per neuron of the target
// population, one weight per source neuron in each row. Parameters and state not given are
// zero; every constant must be given. Unknown fields are errors.
//
// # Validation and mapping
//
// Network.Validate reports every problem it finds (see its documentation), each as an *Error
// naming the population, input, connection or output at fault and wrapping a sentinel
// (ErrRange, ErrMissing, ErrUnknown, ErrUnknownProgram, ErrShape, ErrDuplicate, ErrFanIn, ...).
// Map places the network on a chip (see its documentation for the placement rules) and says
// how far a network that does not fit is off: "needs 11 cores, chip has 8: 3 too many". When
// one population per core is too many, populations of the same program and constants share
// cores.
package network
