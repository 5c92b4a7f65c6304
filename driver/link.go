package driver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/runtime/ring"
)

// Link is a transport's side of the board protocol (firmware/regmap): how the protocol core
// reaches the board's register file, its four rings of records, its doorbell and interrupt,
// and its bulk window. The core owns a Link once a Dialer returns it and closes it once.
//
// The emulator transports (emu:, emu:unix:) map the board's register file and rings; a USB
// link keeps process-local rings and pumps them to and from its bulk endpoints; a VFIO link
// maps BAR 0 and gives the board the rings by DMA. Nothing above the Link knows which.
type Link interface {
	// ReadReg reads a register of the register file (regmap.Reg*). WriteReg writes one with
	// its access semantics: RW stores, W1S sets the bits set in v (DOORBELL, CONTROL), W1C
	// clears them (IRQ_STATUS). Errors wrap ErrGone when the board cannot be reached,
	// ErrTimeout when it does not answer in time.
	ReadReg(off uint32) (uint32, error)
	WriteReg(off, v uint32) error
	// Producer is the host's end of a host → board ring (regmap.RingCmd, regmap.RingSpkIn),
	// Consumer the host's end of a board → host ring (regmap.RingCpl, regmap.RingOut). The
	// core uses each from one goroutine at a time.
	Producer(r regmap.Ring) RecordProducer
	Consumer(r regmap.Ring) RecordConsumer
	// Notify tells the board that the host published records into ring r or consumed
	// records from it (a doorbell); the link decides whether and how to wake the board.
	Notify(r regmap.Ring)
	// Arm turns the board's interrupt on before the core sleeps (the core looks at its rings
	// once more after arming, then calls Wait) and off after.
	Arm(on bool)
	// Wait sleeps until the board interrupts, Wake is called or d passes. It returns an
	// error wrapping ErrGone once the board is gone (its process died, it was unplugged);
	// a slow or stopped board is never gone.
	Wait(d time.Duration) error
	// Wake makes a Wait in progress (or the next one) return.
	Wake()
	// Alive checks without blocking that the board is still there (nil) or gone (ErrGone).
	Alive() error
	// Bulk is the bulk DMA window the board reads images from (LOAD_DMA); nil when the
	// transport has none (images then travel in LOAD_DATA commands through CMD).
	Bulk() []byte
	// Close releases the link; the board sees the host leave.
	Close() error
}

// RecordProducer is the host's end of a host → board ring; *ring.Producer is one.
type RecordProducer interface {
	TryReserve(typ uint16, n int) ([]byte, error) // ring.ErrFull when there is no room now
	Reserve(ctx context.Context, typ uint16, n int) ([]byte, error)
	Commit()
	Publish()
	MaxPayload() int
}

// RecordConsumer is the host's end of a board → host ring; *ring.Consumer is one.
type RecordConsumer interface {
	TryRead() (ring.Record, error) // ring.ErrEmpty when there is nothing
	Release()
}

// A Dialer opens the link to the device a URI names: the transport's part of Open. The
// core then reads the identity and capability registers, negotiates the protocol version
// and starts its reader.
type Dialer func(ctx context.Context, u URI, opts Opts) (Link, error)

var (
	transportsMu sync.RWMutex
	transports   = map[string]Dialer{}
)

// RegisterTransport makes Open accept URIs of a transport (TransportEmu, TransportUSB, ...).
// Transports register in init; registering one twice panics. A build without a transport's
// dependencies registers a dialer that says how to get a build with it.
func RegisterTransport(name string, d Dialer) {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	if _, dup := transports[name]; dup {
		panic("driver: transport " + name + " registered twice")
	}
	transports[name] = d
}

func dialer(name string) (Dialer, error) {
	transportsMu.RLock()
	defer transportsMu.RUnlock()
	if d, ok := transports[name]; ok {
		return d, nil
	}
	var have []string
	for n := range transports {
		have = append(have, n)
	}
	sort.Strings(have)
	hint := ""
	if name == TransportEmu {
		hint = ` (import "github.com/lrchip/lrchip/emu/register" to open the in-process emulator)`
	}
	return nil, fmt.Errorf("no %s transport in this program%s; it has %s: %w", name, hint, strings.Join(have, ", "), ErrNotFound)
}

// read64 reads a 64-bit register pair (low word at off) so that a carry between the reads
// cannot tear it.
func read64(l Link, off uint32) (uint64, error) {
	for {
		hi, err := l.ReadReg(off + 4)
		if err != nil {
			return 0, err
		}
		lo, err := l.ReadReg(off)
		if err != nil {
			return 0, err
		}
		hi2, err := l.ReadReg(off + 4)
		if err != nil {
			return 0, err
		}
		if hi == hi2 {
			return uint64(hi)<<32 | uint64(lo), nil
		}
	}
}

// regReader reads several registers and keeps the first error, for a block of reads.
type regReader struct {
	l   Link
	err error
}

func (r *regReader) u32(off uint32) uint32 {
	if r.err != nil {
		return 0
	}
	v, err := r.l.ReadReg(off)
	r.err = err
	return v
}

func (r *regReader) u64(off uint32) uint64 {
	if r.err != nil {
		return 0
	}
	v, err := read64(r.l, off)
	r.err = err
	return v
}

func (r *regReader) String() string { return fmt.Sprint(r.err) }
