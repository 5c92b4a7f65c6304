package gpu

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// cpuDevice computes on the host what the CUDA kernels compute on the device, with the same
// integer arithmetic, so that its outputs are bit-identical. Work runs when it is enqueued.
type cpuDevice struct {
	mu     sync.Mutex
	closed bool
	owned  map[closer]struct{}
}

type closer interface{ close() }

func openCPU() *cpuDevice { return &cpuDevice{owned: map[closer]struct{}{}} }

func (d *cpuDevice) Info() Info {
	return Info{Backend: CPU, Name: fmt.Sprintf("host CPU (%s/%s, %d threads)", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())}
}

// own records an object for Device.Close.
func (d *cpuDevice) own(c closer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: cpu device", ErrClosed)
	}
	d.owned[c] = struct{}{}
	return nil
}

func (d *cpuDevice) disown(c closer) {
	d.mu.Lock()
	delete(d.owned, c)
	d.mu.Unlock()
}

func (d *cpuDevice) alive() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: cpu device", ErrClosed)
	}
	return nil
}

func (d *cpuDevice) RegisterHost(mem []byte) (Registration, error) {
	if len(mem) == 0 {
		return nil, fmt.Errorf("%w: register host: empty memory", ErrBatch)
	}
	r := &cpuReg{d: d, mem: mem}
	if err := d.own(r); err != nil {
		return nil, err
	}
	return r, nil
}

func (d *cpuDevice) NewStream() (Stream, error) {
	s := &cpuStream{d: d}
	if err := d.own(s); err != nil {
		return nil, err
	}
	return s, nil
}

func (d *cpuDevice) NewEvent() (Event, error) {
	e := &cpuEvent{d: d}
	if err := d.own(e); err != nil {
		return nil, err
	}
	return e, nil
}

func (d *cpuDevice) LoadReadout(l Layer) (Readout, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	r := &cpuReadout{d: d, m: l.M, n: l.N, wt: l.transposed(), bias: append([]int64(nil), l.bias()...)}
	if err := d.own(r); err != nil {
		return nil, err
	}
	return r, nil
}

func (d *cpuDevice) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	owned := d.owned
	d.owned = nil
	d.mu.Unlock()
	for c := range owned {
		c.close()
	}
	return nil
}

type cpuReg struct {
	d      *cpuDevice
	mu     sync.Mutex
	mem    []byte
	closed bool
}

func (r *cpuReg) Bytes() []byte { return r.mem }
func (r *cpuReg) close()        { r.mu.Lock(); r.closed = true; r.mu.Unlock() }
func (r *cpuReg) Close() error  { r.close(); r.d.disown(r); return nil }
func (r *cpuReg) live() bool    { r.mu.Lock(); defer r.mu.Unlock(); return !r.closed }

type cpuStream struct {
	d      *cpuDevice
	closed bool
}

func (s *cpuStream) Synchronize() error {
	if s.closed {
		return fmt.Errorf("%w: stream", ErrClosed)
	}
	return s.d.alive()
}
func (s *cpuStream) close()       { s.closed = true }
func (s *cpuStream) Close() error { s.close(); s.d.disown(s); return nil }

type cpuEvent struct {
	d      *cpuDevice
	at     time.Time
	closed bool
}

func (e *cpuEvent) Record(s Stream) error {
	cs, ok := s.(*cpuStream)
	if !ok || cs.d != e.d {
		return fmt.Errorf("%w: event record on a foreign stream", ErrForeign)
	}
	if e.closed || cs.closed {
		return fmt.Errorf("%w: event record", ErrClosed)
	}
	e.at = time.Now()
	return nil
}

func (e *cpuEvent) Synchronize() error {
	if e.closed {
		return fmt.Errorf("%w: event", ErrClosed)
	}
	return nil
}

func (e *cpuEvent) Since(start Event) (time.Duration, error) {
	s, ok := start.(*cpuEvent)
	if !ok || s.d != e.d {
		return 0, fmt.Errorf("%w: event since a foreign event", ErrForeign)
	}
	if e.at.IsZero() || s.at.IsZero() {
		return 0, fmt.Errorf("gpu: event since: %w: an event was never recorded", ErrBatch)
	}
	return e.at.Sub(s.at), nil
}

func (e *cpuEvent) close()       { e.closed = true }
func (e *cpuEvent) Close() error { e.close(); e.d.disown(e); return nil }

type cpuReadout struct {
	d      *cpuDevice
	m, n   int
	wt     []int32 // N×M
	bias   []int64
	acc    []int64
	closed bool
}

func (r *cpuReadout) Shape() (int, int) { return r.m, r.n }

func (r *cpuReadout) close()       { r.closed = true; r.wt, r.bias = nil, nil }
func (r *cpuReadout) Close() error { r.close(); r.d.disown(r); return nil }

// Launch computes as the CUDA kernel does, reading the counts and writing the outputs in the
// registered memory; it runs now.
func (r *cpuReadout) Launch(s Stream, reg Registration, b Batch) error {
	cs, ok := s.(*cpuStream)
	cr, ok2 := reg.(*cpuReg)
	if !ok || !ok2 || cs.d != r.d || cr.d != r.d {
		return fmt.Errorf("%w: readout launch", ErrForeign)
	}
	if r.closed || cs.closed || !cr.live() {
		return fmt.Errorf("%w: readout launch", ErrClosed)
	}
	mem := cr.mem
	if err := b.check(r.m, r.n, len(mem)); err != nil {
		return err
	}
	if r.acc == nil {
		r.acc = make([]int64, r.m)
	}
	le := binary.LittleEndian
	for w := range b.Windows {
		in := mem[b.In+w*b.InStride:][:4*r.n]
		out := mem[b.Out+w*b.OutStride:][:OutputSize(r.m)]
		acc := r.acc
		copy(acc, r.bias)
		for n := range r.n {
			c := int64(int32(le.Uint32(in[4*n:])))
			if c == 0 {
				continue // adds 0 mod 2^64 either way
			}
			for m, wt := range r.wt[n*r.m : (n+1)*r.m] {
				acc[m] += int64(wt) * c
			}
		}
		best := 0
		for m, v := range acc {
			le.PutUint64(out[8+8*m:], uint64(v))
			if v > acc[best] {
				best = m
			}
		}
		le.PutUint32(out, uint32(best))
		le.PutUint32(out[4:], 0)
	}
	return nil
}
