package ring

import "sync/atomic"

// Fill says how full a ring is: the bytes between the consumer's and the producer's
// positions as the header holds them now, and the data capacity. Either side may ask; a
// position the peer wrote out of range reads as a full ring, never more (monitoring only:
// nothing here is trusted for access).
func (e *endpoint) Fill() (used, capacity int) {
	p, c := atomic.LoadUint64(&e.h.ProducerPos), atomic.LoadUint64(&e.h.ConsumerPos)
	capacity = e.r.Capacity()
	d := p - c
	if p < c || d > uint64(capacity) {
		return capacity, capacity
	}
	return int(d), capacity
}
