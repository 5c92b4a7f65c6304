package ring

import (
	"context"
	"sync/atomic"
)

// Record is one record read from the ring.
type Record struct {
	Type uint16
	// Payload aliases the shared memory. It stays valid until the record is
	// released (Consumer.Release). A hostile producer can change it at any
	// time: copy it before validating it if that matters.
	Payload []byte
}

// Consumer reads records from a ring. It is not safe for concurrent use.
//
// Reading and releasing are separate: Read, TryRead and ReadBatch hand out
// records in order, and Release frees the space of every record handed out
// so far with one store of the consumer position (waking the producer if it
// waits for room). Batch consumption is ReadBatch (or several Reads), then
// Release once.
//
// Everything read from the shared memory is validated before use; a
// violation returns an error wrapping ErrProtocol, and the consumer returns
// it from then on.
type Consumer struct {
	endpoint
	data      []byte
	cap, mask uint64
	multi     bool

	// Hot fields, padded off cache lines that other objects use.
	_    [CacheLine]byte
	rd   uint64 // next record
	held uint64 // end of the last record handed out
	rel  uint64 // last released position
	prod uint64 // last producer position seen, validated

	err error // sticky protocol error
	_   [CacheLine]byte
}

func (c *Consumer) init(r *Ring) error {
	pp := atomic.LoadUint64(&r.h.ProducerPos)
	cp := atomic.LoadUint64(&r.h.ConsumerPos)
	if err := checkPositions(pp, cp, r.cap); err != nil {
		return err
	}
	if err := c.initEndpoint(r, false); err != nil {
		return err
	}
	c.data, c.cap, c.mask, c.multi = r.data, r.cap, r.mask, r.multi
	c.rd, c.held, c.rel, c.prod = cp, cp, cp, pp
	return nil
}

func (c *Consumer) usable() error {
	if c.closed.Load() {
		return c.errLocalClosed()
	}
	return c.err
}

func (c *Consumer) fail(err error) (Record, bool, error) {
	c.err = err
	return Record{}, false, err
}

// loadProd refreshes the producer position and validates it: aligned, not
// behind what was read (it is only called once everything published was
// read, so this also catches it moving backwards), at most the capacity
// ahead of the released position.
func (c *Consumer) loadProd() error {
	p := atomic.LoadUint64(&c.h.ProducerPos)
	if p == c.prod {
		return nil
	}
	switch {
	case p%RecordAlign != 0:
		c.err = errorf(ErrProtocol, "producer position %d is not a multiple of %d", p, RecordAlign)
	case int64(p-c.rd) < 0:
		c.err = errorf(ErrProtocol, "producer position %d is behind consumer %d", p, c.rd)
	case p-c.rel > c.cap:
		c.err = errorf(ErrProtocol, "producer position %d is %d bytes ahead of consumer %d, capacity %d", p, p-c.rel, c.rel, c.cap)
	default:
		c.prod = p
		return nil
	}
	return c.err
}

// poll decodes the next record if one is ready, skipping padding.
func (c *Consumer) poll() (Record, bool, error) {
	for {
		if c.rd == c.prod {
			if err := c.loadProd(); err != nil {
				return Record{}, false, err
			}
			if c.rd == c.prod {
				c.releasePadding()
				return Record{}, false, nil
			}
		}
		off := c.rd & c.mask
		// One load: everything below is decided on this copy, never on a
		// second read of memory the producer can change.
		length, typ, flags := splitRecordWord(atomic.LoadUint64(word(c.data, off)))
		if flags&RecordCommitted == 0 {
			if c.multi {
				c.releasePadding()
				return Record{}, false, nil // still being written
			}
			return c.fail(errorf(ErrProtocol, "record at position %d (offset %d) is not committed", c.rd, off))
		}
		stride := align(uint64(length))
		switch {
		case flags&^knownRecordFlags != 0:
			return c.fail(errorf(ErrProtocol, "record at position %d (offset %d) has unknown flags %#x", c.rd, off, flags))
		case length < RecordHeaderSize:
			return c.fail(errorf(ErrProtocol, "record at position %d (offset %d) has length %d, less than the %d-byte header", c.rd, off, length, RecordHeaderSize))
		case off+stride > c.cap:
			return c.fail(errorf(ErrProtocol, "record at position %d (offset %d) has length %d and straddles the end of the data area (capacity %d)", c.rd, off, length, c.cap))
		case stride > c.prod-c.rd:
			return c.fail(errorf(ErrProtocol, "record at position %d (offset %d) has length %d, more than the %d published bytes left", c.rd, off, length, c.prod-c.rd))
		case typ >= TypeReservedMin:
			return c.fail(errorf(ErrProtocol, "record at position %d (offset %d) has reserved type %#x", c.rd, off, typ))
		}
		c.rd += stride
		if typ == TypePad {
			continue
		}
		c.held = c.rd
		end := off + uint64(length)
		return Record{Type: typ, Payload: c.data[off+RecordHeaderSize : end : end]}, true, nil
	}
}

// releasePadding releases padding skipped while no record is held, so that a
// producer waiting for the space behind it is not stuck while this side
// waits for data.
func (c *Consumer) releasePadding() {
	if c.held == c.rel && c.rd != c.rel {
		c.Release()
	}
}

// Read waits for the next record and returns it. The record stays valid
// until Release.
//
// Errors: ErrClosed once the producer has closed and every published record
// was read (or if this consumer is closed), ErrPeerGone, ErrProtocol, or the
// context's error.
func (c *Consumer) Read(ctx context.Context) (Record, error) {
	if err := c.usable(); err != nil {
		return Record{}, err
	}
	rec, ok, err := c.poll()
	if ok || err != nil {
		return rec, err
	}
	err = c.wait(ctx, func() (bool, error) {
		var err error
		rec, ok, err = c.poll()
		return ok, err
	})
	return rec, err
}

// TryRead returns the next record if one is ready, else ErrEmpty (ErrClosed
// if the producer has closed and nothing is left).
func (c *Consumer) TryRead() (Record, error) {
	if err := c.usable(); err != nil {
		return Record{}, err
	}
	rec, ok, err := c.poll()
	if ok || err != nil {
		return rec, err
	}
	if c.peerClosed() {
		if rec, ok, err = c.poll(); ok || err != nil {
			return rec, err
		}
		return Record{}, errorf(ErrClosed, "producer closed its end")
	}
	return Record{}, ErrEmpty
}

// ReadBatch waits for at least one record, then fills recs with the records
// that are ready, up to len(recs), and returns how many it filled. The
// records stay valid until Release. If it stops early on an error after the
// first record, the error comes from the next call.
func (c *Consumer) ReadBatch(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, c.usable()
	}
	rec, err := c.Read(ctx)
	if err != nil {
		return 0, err
	}
	recs[0] = rec
	n := 1
	for n < len(recs) {
		rec, ok, err := c.poll()
		if !ok || err != nil {
			break
		}
		recs[n] = rec
		n++
	}
	return n, nil
}

// Release frees the space of every record read so far (their payloads must
// not be used afterwards) with one store of the consumer position, and wakes
// the producer if it waits for room.
func (c *Consumer) Release() {
	if c.rd == c.rel || c.closed.Load() {
		return
	}
	atomic.StoreUint64(&c.h.ConsumerPos, c.rd)
	c.rel, c.held = c.rd, c.rd
	c.wakePeer()
}

// CheckPeer reports the producer's state without waiting: ErrClosed if it
// (or this consumer) closed, ErrPeerGone if it died, nil if it is alive or
// has not attached yet. Records still in the ring can be read after
// ErrClosed.
func (c *Consumer) CheckPeer() error {
	if err := c.usable(); err != nil {
		return err
	}
	return c.checkPeer()
}

// Close marks the consumer closed in the header (a waiting producer gets
// ErrClosed) without releasing the records read since the last Release: a
// new consumer starts at the released position. Close is idempotent and
// always returns nil.
func (c *Consumer) Close() error {
	c.closeEndpoint()
	return nil
}
