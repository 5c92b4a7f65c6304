package driver

import (
	"errors"
	"fmt"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// Sentinel errors. Every error the package returns reads "driver: ..." and wraps one of them
// (or a context error, or errors.ErrUnsupported); test with errors.Is.
var (
	// ErrGone: the device went away (its process died, it was unplugged, it closed the
	// connection). The Device is unusable; Close it.
	ErrGone = errors.New("device gone")
	// ErrTimeout: the device did not answer in time (Opts.Timeout, or the context's
	// deadline, in which case the error wraps context.DeadlineExceeded too).
	ErrTimeout = errors.New("timed out")
	// ErrProtocol: the device broke the protocol (a ring position, record length, count or
	// tag out of range). The Device is unusable.
	ErrProtocol = errors.New("protocol violation")
	// ErrBusy: another process holds the device. The message names it (pid and command)
	// where the OS tells.
	ErrBusy = errors.New("device busy")
	// ErrVersion: the device speaks a protocol or capability layout this driver does not.
	ErrVersion = errors.New("version mismatch")
	// ErrClosed: the Device was closed.
	ErrClosed = errors.New("device closed")
	// ErrDevice: the device refused a command; the error is a *CommandError with its result
	// code and message.
	ErrDevice = errors.New("command failed")
	// ErrNotFound: no device has that URI, or the URI is malformed.
	ErrNotFound = errors.New("no such device")
)

// CommandError is a command the device completed with a failure.
type CommandError struct {
	Op       regmap.Op
	Result   regmap.Result
	Message  string // the device's message: what and where
	Timestep uint64
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("driver: %s failed: %s: %s", e.Op, e.Result, e.Message)
}

// Unwrap makes errors.Is(err, ErrDevice) true.
func (e *CommandError) Unwrap() error { return ErrDevice }

// errorf returns "driver: <format>" wrapping what the format's %w verbs name.
func errorf(format string, args ...any) error {
	return fmt.Errorf("driver: "+format, args...)
}
