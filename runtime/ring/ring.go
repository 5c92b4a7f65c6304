package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Defaults of Opts.
const (
	DefaultName         = "lrchip-ring"
	DefaultSpinPolls    = 2000
	DefaultWakeInterval = 100 * time.Millisecond
	DefaultHeartbeat    = 100 * time.Millisecond
)

// Opts configures a ring. The zero value gives the documented defaults.
type Opts struct {
	// Capacity is the size of the data area in bytes, a power of two from
	// MinCapacity to MaxCapacity. Default DefaultCapacity (1 MiB) for Create;
	// New defaults to the largest power of two that fits its memory. Attach
	// and its siblings take it from the header; if set there, it must match.
	Capacity int

	// MultiProducer formats the ring for a MultiProducer (several goroutines
	// submitting records) instead of a Producer. Create and New only; Attach
	// takes it from the header.
	MultiProducer bool

	// Name names the memfd (it shows in /proc/PID/fd) and the fallback file
	// in /dev/shm. Default DefaultName.
	Name string

	// Path, if set, makes Create put the ring in a new file at this path
	// (created exclusively, mode 0600, removed again by Close) instead of a
	// memfd. By default Create uses a memfd and falls back to a file in
	// /dev/shm only when memfd_create is unavailable.
	Path string

	// SpinPolls is how many times a blocking call polls the ring before it
	// goes to sleep on the futex. Default DefaultSpinPolls; negative: never
	// spin.
	SpinPolls int

	// WakeInterval is the longest a blocking call sleeps before it checks
	// the peer's liveness again. A cancelled context wakes it at once
	// regardless. Default DefaultWakeInterval.
	WakeInterval time.Duration

	// Heartbeat is the interval at which an endpoint increases its heartbeat
	// word from a background goroutine, so that a peer with PeerTimeout set
	// sees it alive even while it is idle. Default DefaultHeartbeat;
	// negative: no goroutine (the word still moves while this side waits).
	Heartbeat time.Duration

	// PeerTimeout, if positive, declares the peer gone (ErrPeerGone) when
	// neither its heartbeat nor its position has moved for this long while
	// this side waits on it. Default 0: liveness is judged by the peer's pid
	// alone, which is only possible when the peer runs in the same pid
	// namespace; set PeerTimeout for peers that do not.
	PeerTimeout time.Duration
}

func (o Opts) withDefaults() Opts {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.SpinPolls == 0 {
		o.SpinPolls = DefaultSpinPolls
	} else if o.SpinPolls < 0 {
		o.SpinPolls = 0
	}
	if o.WakeInterval <= 0 {
		o.WakeInterval = DefaultWakeInterval
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	return o
}

// Ring is one mapping of a ring. It hands out the endpoints: one Consumer
// and either one Producer or one MultiProducer (per the ring's flags); one
// process may hold both ends. Endpoints are valid until they or the Ring are
// closed.
type Ring struct {
	mem   []byte // header + data area
	h     *Header
	data  []byte
	cap   uint64
	mask  uint64
	multi bool
	opts  Opts

	fd     int    // owned descriptor, -1 if none
	path   string // file path ("" for a memfd or plain memory)
	unlink bool   // Close removes path
	mapped bool   // Close unmaps mem

	mu        sync.Mutex
	closed    bool
	producer  *Producer
	mproducer *MultiProducer
	consumer  *Consumer
}

// Create makes a new ring in shared memory: a memfd, sealed against resizing,
// or a file (see Opts.Path). Other processes attach to it with Attach, given
// the descriptor (Fd) passed by SCM_RIGHTS or exec, or with AttachPath when
// it is a file.
func Create(opts Opts) (*Ring, error) {
	opts = opts.withDefaults()
	if opts.Capacity == 0 {
		opts.Capacity = DefaultCapacity
	}
	if err := checkCapacity(opts.Capacity); err != nil {
		return nil, err
	}
	size := int64(HeaderSize + opts.Capacity)
	fd, path, err := createShm(opts.Name, opts.Path, size)
	if err != nil {
		return nil, err
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		if path != "" {
			unix.Unlink(path)
		}
		return nil, fmt.Errorf("ring: mmap: %w", err)
	}
	r, err := newRing(mem, opts, true)
	if err != nil {
		unix.Munmap(mem)
		unix.Close(fd)
		if path != "" {
			unix.Unlink(path)
		}
		return nil, err
	}
	r.fd, r.path, r.unlink, r.mapped = fd, path, path != "", true
	return r, nil
}

// Attach maps the ring behind fd, a descriptor of a memfd or shared file
// made by Create (in this or another process). Attach duplicates fd; the
// caller keeps ownership of fd and may close it once Attach returns. The
// layout comes from the header; of opts only the waiting and liveness
// settings apply (Capacity, if set, must match).
func Attach(fd int, opts Opts) (*Ring, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ring: dup fd %d: %w", fd, err)
	}
	r, err := attachFd(nfd, opts)
	if err != nil {
		unix.Close(nfd)
		return nil, err
	}
	return r, nil
}

// AttachPath maps the ring in the file at path (see Opts.Path and the
// /dev/shm fallback of Create).
func AttachPath(path string, opts Opts) (*Ring, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ring: open %s: %w", path, err)
	}
	r, err := attachFd(fd, opts)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	r.path = path
	return r, nil
}

func attachFd(fd int, opts Opts) (*Ring, error) {
	opts = opts.withDefaults()
	var hb [HeaderSize]byte
	fsize, err := readHeaderFd(fd, hb[:])
	if err != nil {
		return nil, err
	}
	capacity, _, err := checkHeader(hb[:], opts)
	if err != nil {
		return nil, err
	}
	size := HeaderSize + capacity
	if fsize < int64(size) {
		return nil, errorf(ErrProtocol, "file of %d bytes is smaller than header plus capacity %d", fsize, capacity)
	}
	sealShrink(fd)
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("ring: mmap: %w", err)
	}
	opts.Capacity = capacity
	r, err := newRing(mem, opts, false)
	if err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	r.fd, r.mapped = fd, true
	return r, nil
}

// New formats a ring in mem, ordinary memory the caller owns (or memory
// mapped by other means, such as a device driver). mem must be 8-byte
// aligned and hold HeaderSize plus the capacity. Close does not free mem.
func New(mem []byte, opts Opts) (*Ring, error) {
	opts = opts.withDefaults()
	if opts.Capacity == 0 {
		if len(mem) < HeaderSize+MinCapacity {
			return nil, fmt.Errorf("ring: %d bytes of memory hold no ring (need at least %d)", len(mem), HeaderSize+MinCapacity)
		}
		opts.Capacity = 1 << (bits.Len(uint(len(mem)-HeaderSize)) - 1)
		opts.Capacity = min(opts.Capacity, MaxCapacity)
	}
	if err := checkCapacity(opts.Capacity); err != nil {
		return nil, err
	}
	if len(mem) < HeaderSize+opts.Capacity {
		return nil, fmt.Errorf("ring: %d bytes of memory cannot hold header plus capacity %d", len(mem), opts.Capacity)
	}
	return newRing(mem[:HeaderSize+opts.Capacity], opts, true)
}

// AttachMem uses a ring that was already formatted in mem (by New or
// Create, in this or another process). Close does not free mem.
func AttachMem(mem []byte, opts Opts) (*Ring, error) {
	opts = opts.withDefaults()
	if len(mem) < HeaderSize {
		return nil, errorf(ErrProtocol, "memory of %d bytes is smaller than the %d-byte header", len(mem), HeaderSize)
	}
	capacity, _, err := checkHeader(mem[:HeaderSize], opts)
	if err != nil {
		return nil, err
	}
	if len(mem) < HeaderSize+capacity {
		return nil, errorf(ErrProtocol, "memory of %d bytes is smaller than header plus capacity %d", len(mem), capacity)
	}
	opts.Capacity = capacity
	return newRing(mem[:HeaderSize+capacity], opts, false)
}

func checkCapacity(c int) error {
	if c < MinCapacity || c > MaxCapacity || c&(c-1) != 0 {
		return fmt.Errorf("ring: capacity %d is not a power of two from %d to %d", c, MinCapacity, MaxCapacity)
	}
	return nil
}

// checkHeader validates a header read from a peer and returns its capacity
// and flags.
func checkHeader(b []byte, opts Opts) (capacity int, flags uint32, err error) {
	le := binary.LittleEndian
	if m := le.Uint64(b[OffMagic:]); m != Magic {
		return 0, 0, errorf(ErrProtocol, "bad magic %#x at offset %#x, want %#x", m, OffMagic, Magic)
	}
	if v := le.Uint32(b[OffVersion:]); v != Version {
		return 0, 0, errorf(ErrProtocol, "layout version %d at offset %#x, want %d", v, OffVersion, Version)
	}
	if hs := le.Uint32(b[OffHeaderSize:]); hs != HeaderSize {
		return 0, 0, errorf(ErrProtocol, "header size %d at offset %#x, want %d", hs, OffHeaderSize, HeaderSize)
	}
	c := le.Uint64(b[OffCapacity:])
	if c < MinCapacity || c > MaxCapacity || c&(c-1) != 0 {
		return 0, 0, errorf(ErrProtocol, "capacity %d at offset %#x is not a power of two from %d to %d", c, OffCapacity, MinCapacity, MaxCapacity)
	}
	flags = le.Uint32(b[OffFlags:])
	if flags&^knownHeaderFlags != 0 {
		return 0, 0, errorf(ErrProtocol, "unknown header flags %#x at offset %#x", flags, OffFlags)
	}
	if opts.Capacity != 0 && uint64(opts.Capacity) != c {
		return 0, 0, fmt.Errorf("ring: capacity is %d, not the %d asked for", c, opts.Capacity)
	}
	return int(c), flags, nil
}

// newRing wraps mem (exactly HeaderSize+opts.Capacity bytes); format writes
// a fresh header.
func newRing(mem []byte, opts Opts, format bool) (*Ring, error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("ring: the layout is little-endian and this machine is not")
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(mem)))%8 != 0 {
		return nil, errors.New("ring: memory is not 8-byte aligned")
	}
	r := &Ring{
		mem:  mem,
		h:    (*Header)(unsafe.Pointer(unsafe.SliceData(mem))),
		data: mem[HeaderSize:len(mem):len(mem)],
		cap:  uint64(opts.Capacity),
		mask: uint64(opts.Capacity) - 1,
		opts: opts,
		fd:   -1,
	}
	if format {
		clear(mem[:HeaderSize])
		r.multi = opts.MultiProducer
		h := r.h
		h.Version = Version
		h.HeaderSize = HeaderSize
		h.Capacity = r.cap
		if r.multi {
			h.Flags = FlagMultiProducer
		}
		// The magic goes last, so a peer never accepts a half-written header.
		atomic.StoreUint64(&h.Magic, Magic)
	} else {
		// checkHeader validated the flags; read them again from the mapping,
		// but keep only what was valid.
		r.multi = atomic.LoadUint32(&r.h.Flags)&FlagMultiProducer != 0
	}
	return r, nil
}

// Fd returns the ring's shared-memory descriptor, -1 for a ring in plain
// memory. It stays owned by the Ring: duplicate it to hand it on (for
// example with os.NewFile(uintptr(unix.Dup(fd)), "") for exec.Cmd.ExtraFiles,
// or unix.UnixRights for SCM_RIGHTS).
func (r *Ring) Fd() int { return r.fd }

// Path returns the file the ring lives in, "" for a memfd or plain memory.
func (r *Ring) Path() string { return r.path }

// Mem returns the whole mapping — header and data area — so that it can be registered with
// a device (a GPU's cuMemHostRegister) that reads and writes records in place. It is valid
// until Close; writing the header through it breaks the ring's protocol.
func (r *Ring) Mem() []byte { return r.mem }

// Capacity returns the size of the data area in bytes.
func (r *Ring) Capacity() int { return int(r.cap) }

// IsMultiProducer reports whether the ring is formatted for a MultiProducer.
func (r *Ring) IsMultiProducer() bool { return r.multi }

// MaxPayload returns the largest payload a record can carry.
func (r *Ring) MaxPayload() int { return int(min(r.cap, 1<<32-RecordAlign)) - RecordHeaderSize }

// Producer claims the producer role of a single-producer ring. It fails if
// the ring is a multi-producer ring, if this Ring handed out its producer
// already, or if a live process holds the role.
func (r *Ring) Producer() (*Producer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkClaim(r.producer != nil || r.mproducer != nil, "producer"); err != nil {
		return nil, err
	}
	if r.multi {
		return nil, errors.New("ring: multi-producer ring: use MultiProducer")
	}
	p := &Producer{}
	if err := p.init(r); err != nil {
		return nil, err
	}
	r.producer = p
	return p, nil
}

// MultiProducer claims the producer role of a ring created with
// Opts.MultiProducer.
func (r *Ring) MultiProducer() (*MultiProducer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkClaim(r.producer != nil || r.mproducer != nil, "producer"); err != nil {
		return nil, err
	}
	if !r.multi {
		return nil, errors.New("ring: single-producer ring: use Producer")
	}
	m := &MultiProducer{}
	if err := m.init(r); err != nil {
		return nil, err
	}
	r.mproducer = m
	return m, nil
}

// Consumer claims the consumer role. The consumer starts at the position
// the previous consumer released last (0 on a new ring).
func (r *Ring) Consumer() (*Consumer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkClaim(r.consumer != nil, "consumer"); err != nil {
		return nil, err
	}
	c := &Consumer{}
	if err := c.init(r); err != nil {
		return nil, err
	}
	r.consumer = c
	return c, nil
}

func (r *Ring) checkClaim(taken bool, role string) error {
	if r.closed {
		return errorf(ErrClosed, "ring is closed")
	}
	if taken {
		return fmt.Errorf("ring: this Ring already handed out its %s", role)
	}
	return nil
}

// Close closes the endpoints handed out by this Ring (see their Close), then
// unmaps the memory and closes the descriptor; the creator of a file-backed
// ring also removes the file. Close must not run concurrently with other
// calls on the ring or its endpoints: cancel blocked calls and let them
// return first. Close is idempotent.
func (r *Ring) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if r.producer != nil {
		errs = append(errs, r.producer.Close())
	}
	if r.mproducer != nil {
		errs = append(errs, r.mproducer.Close())
	}
	if r.consumer != nil {
		errs = append(errs, r.consumer.Close())
	}
	if r.mapped {
		if err := unix.Munmap(r.mem); err != nil {
			errs = append(errs, fmt.Errorf("ring: munmap: %w", err))
		}
	}
	r.mem, r.data, r.h = nil, nil, nil
	if r.fd >= 0 {
		if err := unix.Close(r.fd); err != nil {
			errs = append(errs, fmt.Errorf("ring: close fd: %w", err))
		}
		r.fd = -1
	}
	if r.unlink {
		if err := os.Remove(r.path); err != nil {
			errs = append(errs, fmt.Errorf("ring: remove %s: %w", r.path, err))
		}
	}
	return errors.Join(errs...)
}
