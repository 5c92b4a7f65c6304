package gpu

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Errors from this package wrap one of them (test with errors.Is) and say
// what failed and where.
var (
	// ErrNoDriver reports that the CUDA driver library (libcuda.so.1) cannot be loaded, or
	// lacks a function this package needs: there is no usable NVIDIA driver on this machine.
	ErrNoDriver = errors.New("gpu: no CUDA driver")
	// ErrNoDevice reports a CUDA driver without the requested device.
	ErrNoDevice = errors.New("gpu: no CUDA device")
	// ErrBackend reports an unknown backend name.
	ErrBackend = errors.New("gpu: unknown backend")
	// ErrCUDA reports a CUDA driver call that failed; the message names the call and the
	// CUresult.
	ErrCUDA = errors.New("gpu: CUDA call failed")
	// ErrLayer reports a readout layer that is malformed or beyond the limits.
	ErrLayer = errors.New("gpu: bad readout layer")
	// ErrBatch reports a launch whose windows lie outside the registered memory, are
	// misaligned, or do not match the layer.
	ErrBatch = errors.New("gpu: bad batch")
	// ErrForeign reports an object (stream, event, registration) made by another device.
	ErrForeign = errors.New("gpu: object belongs to another device")
	// ErrClosed reports use of a closed device or object.
	ErrClosed = errors.New("gpu: closed")
)

// Backend names for Open.
const (
	Auto = "auto" // CUDA when a driver and a device are present, else the CPU
	CUDA = "cuda" // the CUDA driver API, loaded at run time
	CPU  = "cpu"  // plain Go on the host; bit-identical results
)

// Opts configures Open. The zero value gives the documented defaults.
type Opts struct {
	// Device is the CUDA device ordinal. Default 0.
	Device int
	// Library is the CUDA driver library to load. Default DefaultLibrary.
	Library string
}

// DefaultLibrary is the CUDA driver library Open loads by default.
const DefaultLibrary = "libcuda.so.1"

func (o Opts) withDefaults() Opts {
	if o.Library == "" {
		o.Library = DefaultLibrary
	}
	return o
}

// Open opens a backend: Auto (also ""), CUDA or CPU. Auto falls back to the CPU only when CUDA is
// unavailable (ErrNoDriver or ErrNoDevice); any other CUDA failure is returned.
func Open(backend string, opts Opts) (Device, error) {
	opts = opts.withDefaults()
	switch backend {
	case CPU:
		return openCPU(), nil
	case CUDA:
		d, err := openCUDA(opts)
		if err != nil {
			return nil, err
		}
		return d, nil
	case Auto, "":
		d, err := openCUDA(opts)
		switch {
		case errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoDevice):
			return openCPU(), nil
		case err != nil:
			return nil, err
		}
		return d, nil
	}
	return nil, fmt.Errorf("%w %q (want %s, %s or %s)", ErrBackend, backend, Auto, CUDA, CPU)
}

// Info describes a device.
type Info struct {
	Backend string `json:"backend"`          // CUDA or CPU
	Name    string `json:"name"`             // the device's name, e.g. "NVIDIA H200"
	Memory  uint64 `json:"memory"`           // device memory in bytes (for the CPU: 0, unknown)
	Driver  string `json:"driver,omitempty"` // driver version, e.g. "12.4" (CUDA only)
	Arch    string `json:"arch,omitempty"`   // compute capability, e.g. "sm_90" (CUDA only)
}

// Device is a GPU (or its CPU stand-in). It owns everything it hands out: Close releases
// the registrations, streams, events and readouts still open. A Device is safe for
// concurrent use; the objects it hands out are not, unless they say so.
type Device interface {
	// Info describes the device.
	Info() Info
	// RegisterHost makes host memory usable by kernels in place (CUDA: page-locked and
	// mapped into the device's address space with cuMemHostRegister). The caller keeps mem
	// alive and unchanged in size until the registration is closed. mem should be
	// page-aligned (a ring's memory is).
	RegisterHost(mem []byte) (Registration, error)
	// NewStream returns a queue of work that runs in order.
	NewStream() (Stream, error)
	// NewEvent returns a timing event.
	NewEvent() (Event, error)
	// LoadReadout copies a layer to the device and returns its readout kernel.
	LoadReadout(l Layer) (Readout, error)
	// Close releases the device and everything it handed out. It is idempotent.
	Close() error
}

// Registration is host memory registered with a device.
type Registration interface {
	// Bytes returns the registered memory.
	Bytes() []byte
	// Close unregisters the memory (after waiting for nothing: synchronize the streams that
	// use it first). It is idempotent.
	Close() error
}

// Stream is an in-order queue of device work. The CPU backend runs work when it is
// enqueued.
type Stream interface {
	// Synchronize waits until the work enqueued so far has finished.
	Synchronize() error
	// Close releases the stream. It is idempotent.
	Close() error
}

// Event marks a point in a stream.
type Event interface {
	// Record marks the current end of the stream's work.
	Record(s Stream) error
	// Synchronize waits until the recorded work has finished.
	Synchronize() error
	// Since returns the time between start's recorded point and this event's; both must
	// have completed.
	Since(start Event) (time.Duration, error)
	// Close releases the event. It is idempotent.
	Close() error
}

// Readout is a layer loaded on a device with its kernel.
type Readout interface {
	// Shape returns the layer's M and N (the weights themselves stay on the device).
	Shape() (m, n int)
	// Launch enqueues the readout of b.Windows windows on s. The counts are read from, and
	// the outputs written to, reg's memory in place; the results are there once the stream
	// (or an event recorded after the launch) has been synchronized.
	Launch(s Stream, reg Registration, b Batch) error
	// Close releases the layer's device memory. It is idempotent.
	Close() error
}

// Batch places the windows of one launch in registered host memory. Window i's spike
// counts (N int32, little-endian) are at byte In + i·InStride of the registration; its
// output (OutputSize(M) bytes, see Output) is written at Out + i·OutStride. In, InStride,
// Out and OutStride must be multiples of 8.
type Batch struct {
	In, InStride   int
	Out, OutStride int
	Windows        int
}

// check validates a batch against a layer and the registered memory.
func (b Batch) check(m, n, size int) error {
	if b.Windows < 1 {
		return fmt.Errorf("%w: %d windows", ErrBatch, b.Windows)
	}
	if b.Windows > MaxWindows {
		return fmt.Errorf("%w: %d windows, at most %d per launch", ErrBatch, b.Windows, MaxWindows)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"input offset", b.In}, {"input stride", b.InStride}, {"output offset", b.Out}, {"output stride", b.OutStride}} {
		if f.v < 0 || f.v%8 != 0 {
			return fmt.Errorf("%w: %s %d is not a non-negative multiple of 8", ErrBatch, f.name, f.v)
		}
	}
	// Windows may share the input (stride 0) but never an output.
	if b.Windows > 1 && b.OutStride < OutputSize(m) {
		return fmt.Errorf("%w: output stride %d is less than the %d-byte output", ErrBatch, b.OutStride, OutputSize(m))
	}
	last := b.Windows - 1
	if end := b.In + last*b.InStride + 4*n; end > size {
		return fmt.Errorf("%w: window %d's counts end at byte %d, beyond the %d registered bytes", ErrBatch, last, end, size)
	}
	if end := b.Out + last*b.OutStride + OutputSize(m); end > size {
		return fmt.Errorf("%w: window %d's output ends at byte %d, beyond the %d registered bytes", ErrBatch, last, end, size)
	}
	return nil
}

// MaxWindows is the most windows one launch may cover (the grid size).
const MaxWindows = 65535
