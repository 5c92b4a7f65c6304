package ring

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Producer writes records into a single-producer ring. It is not safe for
// concurrent use; see MultiProducer for that.
//
// Records are written in place: Reserve returns the payload buffer of the
// next record, Commit completes it, Publish makes every record committed so
// far visible to the consumer with one store of the producer position (and
// wakes the consumer if it sleeps). Batching is Reserve/Commit several
// times, then Publish once. Write does all three for one record.
type Producer struct {
	endpoint
	data      []byte
	cap, mask uint64

	// The fields below change on every record: the padding keeps them off
	// cache lines that other objects (the consumer, say) use.
	_    [CacheLine]byte
	head uint64 // end of the committed records (and padding)
	pub  uint64 // last published position
	cons uint64 // last consumer position seen, validated

	res    bool // a record is reserved at head
	resN   uint32
	resTyp uint16

	err error // sticky protocol error
	_   [CacheLine]byte
}

func (p *Producer) init(r *Ring) error {
	pp := atomic.LoadUint64(&r.h.ProducerPos)
	cp := atomic.LoadUint64(&r.h.ConsumerPos)
	if err := checkPositions(pp, cp, r.cap); err != nil {
		return err
	}
	if err := p.initEndpoint(r, true); err != nil {
		return err
	}
	p.data, p.cap, p.mask = r.data, r.cap, r.mask
	p.head, p.pub, p.cons = pp, pp, cp
	return nil
}

// checkPositions validates a pair of positions found in a header.
func checkPositions(prod, cons, capacity uint64) error {
	switch {
	case prod%RecordAlign != 0:
		return errorf(ErrProtocol, "producer position %d is not a multiple of %d", prod, RecordAlign)
	case cons%RecordAlign != 0:
		return errorf(ErrProtocol, "consumer position %d is not a multiple of %d", cons, RecordAlign)
	case int64(prod-cons) < 0:
		return errorf(ErrProtocol, "producer position %d is behind consumer %d", prod, cons)
	case prod-cons > capacity:
		return errorf(ErrProtocol, "producer position %d is %d bytes ahead of consumer %d, capacity %d", prod, prod-cons, cons, capacity)
	}
	return nil
}

// checkRecord validates the type and size of a record to be written and
// returns the bytes it occupies.
func checkRecord(r *Ring, typ uint16, n int) (uint64, error) {
	if typ == TypePad || typ >= TypeReservedMin {
		return 0, fmt.Errorf("ring: record type %#x is reserved", typ)
	}
	if n < 0 || n > r.MaxPayload() {
		return 0, errorf(ErrTooLarge, "payload of %d bytes exceeds the maximum of %d (capacity %d)", n, r.MaxPayload(), r.cap)
	}
	return align(uint64(n) + RecordHeaderSize), nil
}

// word returns the record-header word at offset off of the data area.
func word(data []byte, off uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(&data[off]))
}

func (p *Producer) usable() error {
	if p.closed.Load() {
		return p.errLocalClosed()
	}
	return p.err
}

// loadCons refreshes the consumer position and validates it: aligned, not
// moving backwards, not beyond what was published.
func (p *Producer) loadCons() error {
	c := atomic.LoadUint64(&p.h.ConsumerPos)
	if c == p.cons {
		return nil
	}
	switch {
	case c%RecordAlign != 0:
		p.err = errorf(ErrProtocol, "consumer position %d is not a multiple of %d", c, RecordAlign)
	case int64(c-p.cons) < 0:
		p.err = errorf(ErrProtocol, "consumer position %d moved back from %d", c, p.cons)
	case int64(p.pub-c) < 0:
		p.err = errorf(ErrProtocol, "consumer position %d is %d bytes ahead of producer %d", c, c-p.pub, p.pub)
	default:
		p.cons = c
		return nil
	}
	return p.err
}

// hasRoom reports whether need bytes are free after head.
func (p *Producer) hasRoom(need uint64) (bool, error) {
	if p.cap-(p.head-p.cons) >= need {
		return true, nil
	}
	if err := p.loadCons(); err != nil {
		return false, err
	}
	return p.cap-(p.head-p.cons) >= need, nil
}

// place makes room for a record of stride bytes at head, padding to the end
// of the data area first if it does not fit there. It returns 0 when the
// record fits, else the number of free bytes still needed.
func (p *Producer) place(stride uint64) (uint64, error) {
	if off := p.head & p.mask; off+stride > p.cap {
		pad := p.cap - off // < stride, so it fits a uint32
		if ok, err := p.hasRoom(pad); !ok || err != nil {
			return pad, err
		}
		*word(p.data, off) = recordWord(uint32(pad), TypePad, RecordCommitted)
		p.head += pad
	}
	if ok, err := p.hasRoom(stride); !ok || err != nil {
		return stride, err
	}
	return 0, nil
}

func (p *Producer) reserveAt(typ uint16, n int) []byte {
	p.res, p.resN, p.resTyp = true, uint32(n), typ
	off := p.head&p.mask + RecordHeaderSize
	return p.data[off : off+uint64(n) : off+uint64(n)]
}

// Reserve waits until a record of n payload bytes fits and returns its
// payload buffer, which aliases the shared memory: fill it, then Commit. A
// reservation that is not committed is dropped by the next Reserve. Before
// it waits, Reserve publishes the records committed so far.
//
// Errors: ErrTooLarge if n exceeds Ring.MaxPayload, ErrClosed if this
// producer is closed or the consumer closes while Reserve waits for room
// (with room to spare, records written after the consumer closed are simply
// never read), ErrPeerGone if the consumer dies while Reserve waits,
// ErrProtocol, or the context's error.
func (p *Producer) Reserve(ctx context.Context, typ uint16, n int) ([]byte, error) {
	if err := p.usable(); err != nil {
		return nil, err
	}
	stride, err := checkRecord(p.r, typ, n)
	if err != nil {
		return nil, err
	}
	p.res = false
	for {
		need, err := p.place(stride)
		if err != nil {
			return nil, err
		}
		if need == 0 {
			return p.reserveAt(typ, n), nil
		}
		p.Publish()
		err = p.wait(ctx, func() (bool, error) { return p.hasRoom(need) })
		if err != nil {
			return nil, err
		}
	}
}

// TryReserve is Reserve without waiting: it returns ErrFull when the record
// does not fit now (after publishing the records committed so far, so the
// consumer can make room), or ErrClosed if the consumer has closed.
func (p *Producer) TryReserve(typ uint16, n int) ([]byte, error) {
	if err := p.usable(); err != nil {
		return nil, err
	}
	stride, err := checkRecord(p.r, typ, n)
	if err != nil {
		return nil, err
	}
	p.res = false
	need, err := p.place(stride)
	if err != nil {
		return nil, err
	}
	if need != 0 {
		p.Publish()
		if p.peerClosed() {
			return nil, errorf(ErrClosed, "consumer closed its end")
		}
		return nil, ErrFull
	}
	return p.reserveAt(typ, n), nil
}

// MaxPayload is the largest payload one record of this ring can carry.
func (p *Producer) MaxPayload() int { return int(min(p.cap, 1<<32-RecordAlign)) - RecordHeaderSize }

// Commit completes the reserved record. It becomes visible to the consumer
// at the next Publish. Commit panics if no record is reserved; on a closed
// producer it does nothing.
func (p *Producer) Commit() {
	if !p.res {
		panic("ring: Commit without Reserve")
	}
	p.res = false
	if p.closed.Load() {
		return
	}
	length := p.resN + RecordHeaderSize
	*word(p.data, p.head&p.mask) = recordWord(length, p.resTyp, RecordCommitted)
	p.head += align(uint64(length))
}

// Publish makes all committed records visible to the consumer with a single
// store of the producer position, and wakes the consumer if it sleeps.
func (p *Producer) Publish() {
	if p.head == p.pub || p.closed.Load() {
		return
	}
	atomic.StoreUint64(&p.h.ProducerPos, p.head)
	p.pub = p.head
	p.wakePeer()
}

// Write writes one record and publishes it (with any records committed
// before it). It waits for room like Reserve.
func (p *Producer) Write(ctx context.Context, typ uint16, payload []byte) error {
	buf, err := p.Reserve(ctx, typ, len(payload))
	if err != nil {
		return err
	}
	copy(buf, payload)
	p.Commit()
	p.Publish()
	return nil
}

// TryWrite is Write without waiting; see TryReserve.
func (p *Producer) TryWrite(typ uint16, payload []byte) error {
	buf, err := p.TryReserve(typ, len(payload))
	if err != nil {
		return err
	}
	copy(buf, payload)
	p.Commit()
	p.Publish()
	return nil
}

// CheckPeer reports the consumer's state without waiting: ErrClosed if it
// (or this producer) closed, ErrPeerGone if it died, nil if it is alive or
// has not attached yet.
func (p *Producer) CheckPeer() error {
	if err := p.usable(); err != nil {
		return err
	}
	return p.checkPeer()
}

// Close publishes the committed records, drops a pending reservation and
// marks the producer closed in the header: the consumer reads what was
// published, then gets ErrClosed. The role is free for a new producer
// afterwards. Close is idempotent and always returns nil.
func (p *Producer) Close() error {
	if !p.closed.Load() {
		p.Publish()
	}
	p.closeEndpoint()
	return nil
}
