package ring

import (
	"context"
	"sync"
	"sync/atomic"
)

// MultiProducer writes records into a ring created with Opts.MultiProducer
// from any number of goroutines in one process. It is safe for concurrent
// use.
//
// It is a mutex-guarded reservation with per-record commit flags (the scheme
// of the Linux BPF ring buffer): under the mutex, Reserve checks for room,
// writes the record header without RecordCommitted and publishes the
// producer position at once; outside it, the caller fills the payload;
// Commit then sets RecordCommitted with one atomic store. The consumer reads
// records strictly in order and stops at the first uncommitted one, so a
// slow writer holds back the records reserved after it, never the other way
// round. Every reservation must be committed or aborted.
type MultiProducer struct {
	endpoint
	data      []byte
	cap, mask uint64

	// Hot fields, padded off cache lines that other objects use.
	_    [CacheLine]byte
	mu   sync.Mutex
	head uint64 // published position (guarded by mu)
	cons uint64 // last consumer position seen, validated (mu)
	err  error  // sticky protocol error (mu)
	_    [CacheLine]byte
}

// Slot is a reserved record of a MultiProducer.
type Slot struct {
	// Payload is the record's payload buffer in the shared memory.
	Payload []byte
	off     uint64
	word    uint64 // the uncommitted header word
}

func (m *MultiProducer) init(r *Ring) error {
	pp := atomic.LoadUint64(&r.h.ProducerPos)
	cp := atomic.LoadUint64(&r.h.ConsumerPos)
	if err := checkPositions(pp, cp, r.cap); err != nil {
		return err
	}
	if err := m.initEndpoint(r, true); err != nil {
		return err
	}
	m.data, m.cap, m.mask = r.data, r.cap, r.mask
	m.head, m.cons = pp, cp
	return nil
}

// loadCons is Producer.loadCons under m.mu.
func (m *MultiProducer) loadCons() error {
	c := atomic.LoadUint64(&m.h.ConsumerPos)
	if c == m.cons {
		return nil
	}
	switch {
	case c%RecordAlign != 0:
		m.err = errorf(ErrProtocol, "consumer position %d is not a multiple of %d", c, RecordAlign)
	case int64(c-m.cons) < 0:
		m.err = errorf(ErrProtocol, "consumer position %d moved back from %d", c, m.cons)
	case int64(m.head-c) < 0:
		m.err = errorf(ErrProtocol, "consumer position %d is %d bytes ahead of producer %d", c, c-m.head, m.head)
	default:
		m.cons = c
		return nil
	}
	return m.err
}

func (m *MultiProducer) hasRoom(need uint64) (bool, error) {
	if m.cap-(m.head-m.cons) >= need {
		return true, nil
	}
	if err := m.loadCons(); err != nil {
		return false, err
	}
	return m.cap-(m.head-m.cons) >= need, nil
}

// reserveLocked tries to reserve stride bytes. It returns the slot, or the
// consumer position that must be reached before trying again.
func (m *MultiProducer) reserveLocked(typ uint16, n int, stride uint64) (Slot, bool, uint64, error) {
	if m.err != nil {
		return Slot{}, false, 0, m.err
	}
	if off := m.head & m.mask; off+stride > m.cap {
		pad := m.cap - off
		if ok, err := m.hasRoom(pad); !ok || err != nil {
			return Slot{}, false, m.head + pad - m.cap, err
		}
		*word(m.data, off) = recordWord(uint32(pad), TypePad, RecordCommitted)
		m.head += pad
		atomic.StoreUint64(&m.h.ProducerPos, m.head)
		m.wakePeer() // the consumer may release the padding
	}
	if ok, err := m.hasRoom(stride); !ok || err != nil {
		return Slot{}, false, m.head + stride - m.cap, err
	}
	off := m.head & m.mask
	length := uint32(n) + RecordHeaderSize
	s := Slot{
		Payload: m.data[off+RecordHeaderSize : off+uint64(length) : off+uint64(length)],
		off:     off,
		word:    recordWord(length, typ, 0),
	}
	atomic.StoreUint64(word(m.data, off), s.word)
	m.head += stride
	atomic.StoreUint64(&m.h.ProducerPos, m.head)
	return s, true, 0, nil
}

// Reserve waits until a record of n payload bytes fits and reserves it.
// Fill s.Payload, then Commit (or Abort) the slot. Errors as for
// Producer.Reserve.
func (m *MultiProducer) Reserve(ctx context.Context, typ uint16, n int) (Slot, error) {
	if m.closed.Load() {
		return Slot{}, m.errLocalClosed()
	}
	stride, err := checkRecord(m.r, typ, n)
	if err != nil {
		return Slot{}, err
	}
	for {
		m.mu.Lock()
		s, ok, target, err := m.reserveLocked(typ, n, stride)
		m.mu.Unlock()
		if ok || err != nil {
			return s, err
		}
		err = m.wait(ctx, func() (bool, error) {
			return int64(atomic.LoadUint64(&m.h.ConsumerPos)-target) >= 0, nil
		})
		if err != nil {
			return Slot{}, err
		}
	}
}

// TryReserve is Reserve without waiting: ErrFull when the record does not
// fit now, ErrClosed if the consumer has closed.
func (m *MultiProducer) TryReserve(typ uint16, n int) (Slot, error) {
	if m.closed.Load() {
		return Slot{}, m.errLocalClosed()
	}
	stride, err := checkRecord(m.r, typ, n)
	if err != nil {
		return Slot{}, err
	}
	m.mu.Lock()
	s, ok, _, err := m.reserveLocked(typ, n, stride)
	m.mu.Unlock()
	if ok || err != nil {
		return s, err
	}
	if m.peerClosed() {
		return Slot{}, errorf(ErrClosed, "consumer closed its end")
	}
	return Slot{}, ErrFull
}

// Commit marks the slot's record complete; the consumer reads it once the
// records reserved before it are complete too.
func (m *MultiProducer) Commit(s Slot) {
	m.finish(s, s.word)
}

// Abort turns the slot into padding that the consumer skips.
func (m *MultiProducer) Abort(s Slot) {
	length, _, _ := splitRecordWord(s.word)
	m.finish(s, recordWord(length, TypePad, 0))
}

func (m *MultiProducer) finish(s Slot, w uint64) {
	if s.Payload == nil || m.closed.Load() {
		return
	}
	atomic.StoreUint64(word(m.data, s.off), w|uint64(RecordCommitted)<<48)
	m.wakePeer()
}

// Write reserves, fills and commits one record.
func (m *MultiProducer) Write(ctx context.Context, typ uint16, payload []byte) error {
	s, err := m.Reserve(ctx, typ, len(payload))
	if err != nil {
		return err
	}
	copy(s.Payload, payload)
	m.Commit(s)
	return nil
}

// TryWrite is Write without waiting; see TryReserve.
func (m *MultiProducer) TryWrite(typ uint16, payload []byte) error {
	s, err := m.TryReserve(typ, len(payload))
	if err != nil {
		return err
	}
	copy(s.Payload, payload)
	m.Commit(s)
	return nil
}

// CheckPeer is Producer.CheckPeer.
func (m *MultiProducer) CheckPeer() error {
	if m.closed.Load() {
		return m.errLocalClosed()
	}
	m.mu.Lock()
	err := m.err
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return m.checkPeer()
}

// Close marks the producer closed in the header and wakes goroutines blocked
// in Reserve (they return ErrClosed). Commit every slot first: the consumer
// stops with ErrClosed at the first record that is not committed. Close is
// idempotent and always returns nil.
func (m *MultiProducer) Close() error {
	m.closeEndpoint()
	return nil
}
