package hostlib

import "errors"

// Sentinel errors. Every error of this package wraps one of them (test with errors.Is); an
// error caused by a device wraps the device's error too (driver.ErrGone when a board went).
var (
	// ErrInput: a request that does not fit the model (wrong shape, a rate outside [0, 1] or
	// NaN, a spike outside the request's steps or the input port, too many windows).
	ErrInput = errors.New("hostlib: bad input")
	// ErrConfig: a model specification or options that do not fit together or cannot be read.
	ErrConfig = errors.New("hostlib: bad configuration")
	// ErrDevice: the replica running a request failed (its device broke or went away) and the
	// request could not be moved to another replica.
	ErrDevice = errors.New("hostlib: device failed")
	// ErrNoReplica: the model has no working replica left (every device failed).
	ErrNoReplica = errors.New("hostlib: no working replica")
	// ErrNoDevice: no free device for a model, or a device that does not open.
	ErrNoDevice = errors.New("hostlib: no device")
	// ErrClosed: the model or host is closed (or closing: Close drains what was submitted
	// before and refuses what comes after).
	ErrClosed = errors.New("hostlib: closed")
)

// Version is hostlib's version (lrchip_version in the C ABI).
const Version = "0.1.0"
