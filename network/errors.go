package network

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
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
	ErrTooLarge       = errors.New("too large")                     // the image or a generated part would exceed a limit
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
		return fmt.Sprintf("network: %s %s: %s", e.Kind, quote(e.Name), e.Msg)
	default:
		return fmt.Sprintf("network: %s %d: %s", e.Kind, e.Index, e.Msg)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// MaxQuote is the most bytes of a name or value from the input that an error quotes: a
// hostile file must not make an error message as large as itself.
const MaxQuote = 64

// quote is %q of s, cut to MaxQuote bytes (at a rune boundary) with the length said.
func quote(s string) string {
	if len(s) <= MaxQuote {
		return strconv.Quote(s)
	}
	cut := MaxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// errList collects errors, up to a limit, for errors.Join; past the limit it counts them.
type errList struct {
	errs []error
	more int
}

// maxErrors is how many problems one error lists; the rest are counted.
const maxErrors = 20

func (l *errList) add(kind, name string, index int, sentinel error, f string, a ...any) {
	if len(l.errs) >= maxErrors {
		l.more++
		return
	}
	l.errs = append(l.errs, &Error{Kind: kind, Name: name, Index: index, Err: sentinel, Msg: fmt.Sprintf(f, a...)})
}

func (l *errList) err() error {
	if l.more > 0 {
		// The count wraps the first problem's sentinel too, so errors.Is still answers.
		return errors.Join(append(l.errs, fmt.Errorf("network: and %d more problems (fix these first): %w", l.more, errors.Unwrap(l.errs[0])))...)
	}
	return errors.Join(l.errs...)
}
