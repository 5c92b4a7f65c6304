package network

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error of this package wraps one of them (errors.Is); those about one
// part of the network are also an *Error, which names it.
var (
	ErrSyntax         = errors.New("syntax error")                  // the file cannot be parsed
	ErrDuplicate      = errors.New("duplicate name")                // two things of a kind share a name
	ErrUnknown        = errors.New("unknown name")                  // a name refers to nothing (population, port, register)
	ErrUnknownProgram = errors.New("unknown program")               // no standard program of that name
	ErrProgram        = errors.New("bad program")                   // the program does not assemble or cannot be read
	ErrMissing        = errors.New("missing value")                 // a required field or constant is not given
	ErrRange          = errors.New("out of range")                  // a value lies outside what is allowed
	ErrShape          = errors.New("shape mismatch")                // a list or matrix has the wrong size
	ErrFanIn          = errors.New("too many incoming connections") // a core would need more accumulator banks than it has
	ErrDoesNotFit     = errors.New("does not fit the chip")         // the network needs more than the chip has
)

// Error is an error about one part of a network: a population, input, output or connection
// (Kind), named Name (or, when it has none, numbered Index). It wraps a sentinel (Err).
type Error struct {
	Kind  string // "population", "input", "connection", "output", "core", "network"
	Name  string
	Index int
	Err   error
	Msg   string
}

func (e *Error) Error() string {
	switch {
	case e.Kind == "network":
		return "network: " + e.Msg
	case e.Name != "":
		return fmt.Sprintf("network: %s %q: %s", e.Kind, e.Name, e.Msg)
	default:
		return fmt.Sprintf("network: %s %d: %s", e.Kind, e.Index, e.Msg)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// errList collects errors, up to a limit, for errors.Join.
type errList struct {
	errs []error
}

const maxErrors = 20

func (l *errList) add(kind, name string, index int, sentinel error, f string, a ...any) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &Error{Kind: kind, Name: name, Index: index, Err: sentinel, Msg: fmt.Sprintf(f, a...)})
	}
}

func (l *errList) err() error { return errors.Join(l.errs...) }
