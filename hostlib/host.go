package hostlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
)

// Opts configures Open. The zero value gives the documented defaults.
type Opts struct {
	// Devices are the URIs of the devices to open (emu:, emu:unix:PATH, usb:..., pcie:...).
	// A URI may be given more than once where each opening is a device of its own (emu:, the
	// emulator in this process, is a new chip each time). Default: every board
	// device.Find sees, else one emu: (said once on Log).
	Devices []string
	// Size is the chip an emulator emulates. Default chip.Prototype; a board has its own.
	Size chip.Size
	// Timeout bounds opening each device and every command of a device that has commands
	// (device.Opts.Timeout). Default: the implementation's.
	Timeout time.Duration
	// Log receives notes: the fallback to emu:, a replica taken out. Default: none.
	Log io.Writer
}

// Host is a set of open devices on which models are loaded, one replica per device. It is
// safe for concurrent use.
type Host struct {
	mu     sync.Mutex
	slots  []*slot
	models map[string]*Model
	log    io.Writer
	closed bool
}

// slot is one open device of a host.
type slot struct {
	uri    string
	dev    device.Device
	name   string // dev.String(), kept once the device is closed
	holder *Model // nil: free
	failed error  // not nil: taken out, closed
}

// DeviceStatus describes a device of a host.
type DeviceStatus struct {
	URI    string // as opened
	Device string // the device's own name (URI, board, serial)
	Model  string // the model it serves; "" when free
	Err    error  // why it was taken out; nil while it works
}

// Open opens the devices opts names (see Opts.Devices for the default). It fails, closing
// what it opened, if a device does not open.
func Open(ctx context.Context, opts Opts) (*Host, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	uris := opts.Devices
	if len(uris) == 0 {
		found, err := device.Find(ctx)
		if err == nil {
			uris = found
		}
		if len(uris) == 0 {
			fmt.Fprintln(log, "hostlib: no board found; using the in-process emulator (emu:)")
			uris = []string{"emu:"}
		}
	}
	h := &Host{models: map[string]*Model{}, log: log}
	for _, u := range uris {
		d, err := device.Open(ctx, u, device.Opts{Size: opts.Size, Timeout: opts.Timeout})
		if err != nil {
			h.closeDevices()
			return nil, fmt.Errorf("%w: %s: %w", ErrNoDevice, u, err)
		}
		h.slots = append(h.slots, &slot{uri: u, dev: d, name: d.String()})
	}
	return h, nil
}

// Devices describes the host's devices, in the order they were opened.
func (h *Host) Devices() []DeviceStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	var st []DeviceStatus
	for _, s := range h.slots {
		d := DeviceStatus{URI: s.uri, Device: s.name, Err: s.failed}
		if s.holder != nil {
			d.Model = s.holder.info.Name
		}
		st = append(st, d)
	}
	return st
}

// Model returns the loaded model named name.
func (h *Host) Model(name string) (*Model, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, ok := h.models[name]
	return m, ok
}

// Models returns the loaded models, by name.
func (h *Host) Models() []*Model {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ms []*Model
	for _, m := range h.models {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *Model) int { return compareStrings(a.info.Name, b.info.Name) })
	return ms
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// reserve takes the free working devices spec names (all of them when it names none) for m.
func (h *Host) reserve(m *Model, uris []string) ([]*slot, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if _, dup := h.models[m.info.Name]; dup {
		return nil, fmt.Errorf("%w: a model named %q is loaded", ErrConfig, m.info.Name)
	}
	free := func(s *slot) bool { return s.holder == nil && s.failed == nil }
	var got []*slot
	if len(uris) == 0 {
		for _, s := range h.slots {
			if free(s) {
				got = append(got, s)
			}
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("%w: all %d devices of the host are taken or failed", ErrNoDevice, len(h.slots))
		}
	} else {
	next:
		for _, u := range uris {
			for _, s := range h.slots {
				if s.uri == u && free(s) && !slices.Contains(got, s) {
					got = append(got, s)
					continue next
				}
			}
			return nil, fmt.Errorf("%w: no free device %q on the host", ErrNoDevice, u)
		}
	}
	for _, s := range got {
		s.holder = m
	}
	h.models[m.info.Name] = m
	return got, nil
}

// release gives a model's devices back (those that still work) and forgets the model.
func (h *Host) release(m *Model) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.slots {
		if s.holder == m {
			s.holder = nil
		}
	}
	if h.models[m.info.Name] == m {
		delete(h.models, m.info.Name)
	}
}

// takeOut closes a device that failed.
func (h *Host) takeOut(s *slot, err error) {
	h.mu.Lock()
	if s.failed != nil {
		h.mu.Unlock()
		return
	}
	s.failed = err
	h.mu.Unlock()
	fmt.Fprintf(h.log, "hostlib: %s taken out: %v\n", s.name, err)
	s.dev.Close()
}

// Close closes every model (draining each: see Model.Close) and then the devices.
func (h *Host) Close() error {
	return h.Shutdown(context.Background())
}

// Shutdown is Close bounded by ctx: when ctx is done, the requests still waiting or running
// fail with ErrClosed instead of being drained.
func (h *Host) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	var errs []error
	for _, m := range h.Models() {
		errs = append(errs, m.Shutdown(ctx))
	}
	errs = append(errs, h.closeDevices())
	return errors.Join(errs...)
}

func (h *Host) closeDevices() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, s := range h.slots {
		if s.failed == nil {
			s.failed = ErrClosed
			if err := s.dev.Close(); err != nil {
				errs = append(errs, fmt.Errorf("hostlib: closing %s: %w", s.name, err))
			}
		}
	}
	return errors.Join(errs...)
}
