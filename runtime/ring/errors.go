package ring

import (
	"errors"
	"fmt"
)

// Sentinel errors. The errors the package returns wrap one of them (test with
// errors.Is) and carry the details: which value, where.
var (
	// ErrProtocol reports shared state that breaks the protocol: a peer's
	// position or a record header out of range, a bad magic or version. It is
	// sticky: an endpoint that saw one returns it from then on.
	ErrProtocol = errors.New("ring: protocol violation")
	// ErrPeerGone reports that the peer process died or stopped beating its
	// heartbeat while this side waited on it.
	ErrPeerGone = errors.New("ring: peer gone")
	// ErrClosed reports that this endpoint or ring is closed, or that the
	// peer closed its end (a consumer sees it only after draining every
	// published record).
	ErrClosed = errors.New("ring: closed")
	// ErrTooLarge reports a record that can never fit into the ring.
	ErrTooLarge = errors.New("ring: record too large")
	// ErrFull is returned by non-blocking producer calls when there is no
	// room now.
	ErrFull = errors.New("ring: full")
	// ErrEmpty is returned by non-blocking consumer calls when no record is
	// ready now.
	ErrEmpty = errors.New("ring: empty")
)

// ringError is an error with its own message that wraps a sentinel.
type ringError struct {
	kind error
	msg  string
}

func (e *ringError) Error() string { return e.msg }
func (e *ringError) Unwrap() error { return e.kind }

// errorf returns an error reading "ring: <format>" that wraps kind.
func errorf(kind error, format string, args ...any) error {
	return &ringError{kind: kind, msg: "ring: " + fmt.Sprintf(format, args...)}
}
