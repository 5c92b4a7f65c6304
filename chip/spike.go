package chip

import (
	"errors"
	"fmt"
	"strings"
)

// Spike is one spike on a port of a loaded network.
//
// Given to a device (Inject), Port is an input port of the image, Neuron one of its neurons
// and Step the timestep in which the port emits the spike (0: the next step to run); its
// targets see it one step later, as a spike a core emits. Read from a device, Port is an
// output port of the image, Neuron one of its neurons (counted within the port) and Step the
// timestep in which it fired. Payload is 1 for a binary spike, else the graded payload.
type Spike struct {
	Step    uint64 `json:"step"`
	Port    int    `json:"port"`
	Neuron  int    `json:"neuron"`
	Payload int32  `json:"payload"`
}

// FieldKind selects what a probe records.
type FieldKind uint8

// Probe fields.
const (
	FieldState FieldKind = iota // a state register of the neuron program
	FieldInput                  // the dendritic input a of this step
	FieldSpike                  // the spike payload (0 where none)
)

// Field names a per-neuron value a probe can record.
type Field struct {
	Kind  FieldKind
	Index int // the state register, for FieldState
}

// Reserved field names: "a" (also "input") is the dendritic input and "spike" (also "s")
// the spike payload. A neuron program cannot name a state register so (see
// ReservedField); every other name is one of its state registers.
const (
	NameInput = "a"
	NameSpike = "spike"
)

// ErrField is wrapped by errors about a field name that names nothing.
var ErrField = errors.New("no such field")

// ReservedField reports whether name is reserved for a field other than a state register.
func ReservedField(name string) bool {
	switch name {
	case NameInput, "input", NameSpike, "s":
		return true
	}
	return false
}

// ParseField reads a field name against a program's state registers (in order): a state
// register's name, "a"/"input" or "spike"/"s". Errors wrap ErrField and list what there is.
func ParseField(name string, state []string) (Field, error) {
	switch name {
	case NameInput, "input":
		return Field{Kind: FieldInput}, nil
	case NameSpike, "s":
		return Field{Kind: FieldSpike}, nil
	}
	for i, s := range state {
		if s == name {
			return Field{Kind: FieldState, Index: i}, nil
		}
	}
	have := "no state registers"
	if len(state) > 0 {
		have = "state " + strings.Join(state, ", ")
	}
	return Field{}, fmt.Errorf("chip: field %q: %w (%s, and %s (input) and %s)", name, ErrField, have, NameInput, NameSpike)
}

// Name is the field's name given the program's state registers: the register's name, "a"
// or "spike" (a register index out of range reads "state[i]").
func (f Field) Name(state []string) string {
	switch f.Kind {
	case FieldInput:
		return NameInput
	case FieldSpike:
		return NameSpike
	}
	if f.Index >= 0 && f.Index < len(state) {
		return state[f.Index]
	}
	return fmt.Sprintf("state[%d]", f.Index)
}

// Probe asks a device to record a field of some neurons of one core after every step.
type Probe struct {
	Core    int
	Field   Field
	Neurons []int // core neurons, in the order of the sample values
}

// Sample is one step's record of a probe: Values[i] is the field of Probe.Neurons[i] after
// step Step.
type Sample struct {
	Probe  int     `json:"probe"`
	Step   uint64  `json:"step"`
	Values []int32 `json:"values"`
}

// Output is what a device emitted: spikes on output ports and probe samples, each in step
// order. Dropped counts records a device had to drop because its output buffer was full.
type Output struct {
	Spikes  []Spike  `json:"spikes"`
	Samples []Sample `json:"samples"`
	Dropped uint64   `json:"dropped"`
}

// Reset empties o, keeping its memory.
func (o *Output) Reset() {
	o.Spikes, o.Samples, o.Dropped = o.Spikes[:0], o.Samples[:0], 0
}
