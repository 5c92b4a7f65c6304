// Package device is the seam between what uses a chip and what implements one: one
// interface for anything that runs timesteps — the emulator in this process, a board through
// the driver (emu:unix:, usb:, pcie:, vfio-user:), later an RTL co-simulation — and one Open
// that turns a device URI into it.
//
// Implementations register a URI scheme with Register (the emulator registers "emu:", the
// driver every transport it has), so that users of a device — network/run, runtime/sched,
// the conformance runner, hostlib — import only this package and the chip vocabulary, and a
// front end picks the implementations it links in with blank imports.
package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/firmware/image"
)

// Device is a chip that runs timesteps. Ports and neurons are the loaded image's: input port
// i is img.Inputs[i], output port k is img.Outputs[k], and a spike's Neuron counts within its
// port; probes name cores and core neurons (image.Image.Locate maps a population's neurons
// onto them).
//
// A run of N steps need not be N round trips: spikes for any later step can be injected
// ahead, Run(ctx, n) runs n steps in one go, and Read returns everything they emitted, each
// spike and sample stamped with its step.
//
// A Device is not safe for concurrent use unless an implementation says so; every call that
// can block honours its context.
type Device interface {
	// Load configures the device with a network image, replacing what was there: the
	// timestep starts again from 0, probes and pending input and output are dropped.
	Load(ctx context.Context, img *image.Image) error
	// AddProbe records a field of some neurons of a core after every step, as Samples in
	// Read's output, and returns the probe's index (0, 1, ... in order of adding).
	AddProbe(ctx context.Context, p chip.Probe) (int, error)
	// Inject queues spikes on input ports (see chip.Spike: Step is the step in which the
	// port emits the spike, 0 for the next step to run; a step already run is an error). A
	// second spike on one neuron in one step replaces the first.
	Inject(ctx context.Context, spikes []chip.Spike) error
	// Run runs n timesteps. Their output is in Read's buffer when it returns. Cancelling
	// ctx stops the device at a step boundary and returns the context's error.
	Run(ctx context.Context, n int) error
	// Read appends the output emitted since the last Read — spikes on output ports and probe
	// samples, in step order — to out. It does not wait.
	Read(ctx context.Context, out *chip.Output) error
	// Time returns the last step run since the load (0 before the first).
	Time() uint64
	// Size is the chip's shape: the largest image it takes.
	Size() chip.Size
	// String names the device (its URI and, where known, board and serial).
	String() string
	// Close releases the device. It is idempotent.
	Close() error
}

// Errors.
var (
	// ErrNoDevice: no implementation has the URI's scheme, or the URI is malformed.
	ErrNoDevice = errors.New("no such device")
)

// Opts configures Open. The zero value gives the documented defaults.
type Opts struct {
	// Size is the chip an emulator opened by URI emulates. Default chip.Prototype. A board's
	// size is its own: a board ignores it.
	Size chip.Size
	// Timeout bounds opening, and every command of a device that has commands (the
	// driver's), except Run, which its context bounds. Default: the implementation's.
	Timeout time.Duration
}

// An Opener opens a device by URI. It is given the whole URI.
type Opener func(ctx context.Context, uri string, opts Opts) (Device, error)

// A Finder lists the URIs of the devices it finds (boards first), for Find and Default.
type Finder func(ctx context.Context) ([]string, error)

var (
	mu      sync.RWMutex
	openers = map[string]Opener{} // by URI prefix, e.g. "emu:", "emu:unix:", "usb:"
	finders []Finder
)

// Register makes Open hand URIs beginning with prefix (e.g. "usb:") to open. The longest
// registered prefix wins ("emu:unix:" over "emu:"). Implementations register in init.
// Registering a prefix twice panics, as it is a programming error.
func Register(prefix string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := openers[prefix]; dup {
		panic("device: " + prefix + " registered twice")
	}
	openers[prefix] = open
}

// RegisterFinder adds a source of devices for Find (the driver's discovery).
func RegisterFinder(f Finder) {
	mu.Lock()
	defer mu.Unlock()
	finders = append(finders, f)
}

// Schemes lists the registered prefixes, sorted.
func Schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	var s []string
	for p := range openers {
		s = append(s, p)
	}
	sort.Strings(s)
	return s
}

// Open opens the device uri names with the implementation registered for its scheme. "emu"
// is read as "emu:".
func Open(ctx context.Context, uri string, opts Opts) (Device, error) {
	if uri == "emu" {
		uri = "emu:"
	}
	mu.RLock()
	best := ""
	var open Opener
	for p, o := range openers {
		if strings.HasPrefix(uri, p) && len(p) > len(best) {
			best, open = p, o
		}
	}
	mu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("device: %q: %w (this program opens %s)", uri, ErrNoDevice, strings.Join(Schemes(), ", "))
	}
	return open(ctx, uri, opts)
}

// Find lists the devices the registered finders see, boards first. Finders that fail are
// skipped unless none succeeds.
func Find(ctx context.Context) ([]string, error) {
	mu.RLock()
	fs := append([]Finder(nil), finders...)
	mu.RUnlock()
	var all []string
	var errs []error
	for _, f := range fs {
		uris, err := f(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, uris...)
	}
	if len(all) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return all, nil
}

// DefaultURI is the device to use when none is named: the first device Find sees, else the
// in-process emulator "emu:" (fallback true).
func DefaultURI(ctx context.Context) (uri string, fallback bool, err error) {
	found, err := Find(ctx)
	if err != nil {
		return "", false, err
	}
	if len(found) > 0 {
		return found[0], false, nil
	}
	return "emu:", true, nil
}

var (
	noteMu sync.Mutex
	noted  = map[string]bool{}
)

// Resolve returns uri, or when it is empty DefaultURI's choice: the first board, else the
// first emulator process nobody holds, else the in-process emulator. The choice is said on
// note (nil: silent), once per process and device.
func Resolve(ctx context.Context, uri string, note io.Writer) (string, error) {
	if uri != "" {
		return uri, nil
	}
	u, fallback, err := DefaultURI(ctx)
	if err != nil {
		return "", err
	}
	noteMu.Lock()
	defer noteMu.Unlock()
	if note != nil && !noted[u] {
		noted[u] = true
		if fallback {
			fmt.Fprintln(note, "no board or emulator process found; using the in-process emulator (emu:)")
		} else {
			fmt.Fprintf(note, "using %s, the first device found (--device URI to choose; lrctl list shows them)\n", u)
		}
	}
	return u, nil
}
