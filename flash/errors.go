package flash

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error of a slot operation is an *Error that wraps one of them or
// the Device's own error.
var (
	// ErrProtected: a write to the golden slot, which only WriteGolden writes.
	ErrProtected = errors.New("flash: the golden slot is write-protected")
	// ErrRange: no such slot, firmware that does not fit, bytes outside the firmware, a
	// geometry the slots do not fit, or sequence numbers used up.
	ErrRange = errors.New("flash: out of range")
	// ErrVerify: firmware that reads back with another CRC, or a slot that does not check
	// after its header was written.
	ErrVerify = errors.New("flash: verify failed")
	// ErrInvalid: a slot that does not hold valid firmware (Slots.Info).
	ErrInvalid = errors.New("flash: slot not valid")
	// ErrFinished: a Writer used after its Commit.
	ErrFinished = errors.New("flash: writer already committed")
)

// Error is the error of a slot operation.
type Error struct {
	Op     string // "begin", "write", "commit", "info", "new"
	Slot   Slot
	Kind   error  // a sentinel of this package, or the Device's error
	Detail string // what happened, for a person, without the op and slot
}

func (e *Error) Error() string {
	if e.Op == "new" {
		return "flash: " + e.Detail
	}
	return fmt.Sprintf("flash: %s slot %v: %s", e.Op, e.Slot, e.Detail)
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

func slotErr(op string, s Slot, kind error, format string, args ...any) error {
	return &Error{Op: op, Slot: s, Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// devErr wraps an error of the Device.
func devErr(op string, s Slot, err error) error {
	return &Error{Op: op, Slot: s, Kind: err, Detail: err.Error()}
}
