package nir

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error of this package wraps one of them (errors.Is); errors about one
// node of the graph are also a *NodeError, which names it.
var (
	ErrFormat      = errors.New("not a readable NIR file")       // the HDF5 file cannot be read, or lacks what NIR stores
	ErrGraph       = errors.New("malformed graph")               // missing or mis-shaped datasets, unknown edge ends, cycles without a neuron
	ErrUnsupported = errors.New("not supported on the chip")     // a node type or feature the chip cannot run
	ErrNumerics    = errors.New("parameter out of chip range")   // a value the chip's integers cannot hold
	ErrLimit       = errors.New("larger than the import allows") // dimensions, sizes or work beyond the caps (see Limits)
	ErrUsage       = errors.New("bad options")                   // Opts out of range (dt, reset)
)

// NodeError is an error about one node of the graph (its name as the file has it; nested
// graphs' nodes are named "outer.inner"). It wraps a sentinel.
type NodeError struct {
	Node string
	Err  error
	Msg  string
}

func (e *NodeError) Error() string { return fmt.Sprintf("nir: node %q: %s", e.Node, e.Msg) }

func (e *NodeError) Unwrap() error { return e.Err }

func nodeErr(node string, sentinel error, f string, a ...any) error {
	return &NodeError{Node: node, Err: sentinel, Msg: fmt.Sprintf(f, a...)}
}
