package hostlib

import (
	"context"
	"errors"
	"sync"
)

// errDrained ends a replica's run: the queue is closed and empty.
var errDrained = errors.New("hostlib: queue drained")

// queue holds a model's requests until a replica takes them: new requests at the back (at
// most cap of them wait: Submit blocks for room), requests moved from a failed replica at
// the front. Replicas register as consumers; when the last one leaves, what is left fails.
type queue struct {
	mu        sync.Mutex
	items     []*call
	wake      chan struct{} // poked when items are added or the queue closes
	slots     chan struct{} // a token per waiting new request: the bound
	closed    bool          // no new requests; pop reports errDrained once empty
	closedCh  chan struct{}
	consumers int  // replicas taking from the queue
	dead      bool // no consumer is left: everything fails with deadErr
	deadErr   error
}

func newQueue(capacity int) *queue {
	return &queue{wake: make(chan struct{}, 1), slots: make(chan struct{}, capacity), closedCh: make(chan struct{})}
}

func (q *queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// push adds a new request, waiting for room until ctx is done.
func (q *queue) push(ctx context.Context, c *call) error {
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-q.closedCh:
		return ErrClosed
	}
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		<-q.slots
		return ErrClosed
	case q.dead:
		q.mu.Unlock()
		<-q.slots
		return q.deadErr
	}
	c.slot = true
	q.items = append(q.items, c)
	q.mu.Unlock()
	q.poke()
	return nil
}

// retry puts requests back at the front, in order, unless no other consumer is left (the
// caller is one): then it returns false and the caller fails them.
func (q *queue) retry(cs []*call) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.consumers <= 1 || q.dead {
		return false
	}
	for _, c := range cs {
		c.slot = false
	}
	q.items = append(append([]*call(nil), cs...), q.items...)
	q.poke()
	return true
}

// pop takes the next request, waiting until there is one or ctx is done; errDrained when
// the queue is closed and empty.
func (q *queue) pop(ctx context.Context) (*call, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			c := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			if len(q.items) > 0 {
				q.poke() // another consumer may take the next
			}
			q.mu.Unlock()
			if c.slot {
				<-q.slots
			}
			return c, nil
		}
		if q.closed {
			q.mu.Unlock()
			q.poke() // the other consumers see it too
			return nil, errDrained
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// len is the number of requests waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// join registers a consumer.
func (q *queue) join() {
	q.mu.Lock()
	q.consumers++
	q.mu.Unlock()
}

// leave unregisters a consumer; the last one out takes what is left, to fail it with err,
// and the queue refuses new requests with err from then on.
func (q *queue) leave(err error) []*call {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.consumers--
	if q.consumers > 0 {
		return nil
	}
	q.dead, q.deadErr = true, err
	left := q.items
	q.items = nil
	for _, c := range left {
		if c.slot {
			<-q.slots
		}
	}
	return left
}

// close refuses new requests; pop drains what is there, then reports errDrained.
func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.closedCh)
	}
	q.mu.Unlock()
	q.poke()
}

// takeAll empties the queue (for an abort).
func (q *queue) takeAll() []*call {
	q.mu.Lock()
	defer q.mu.Unlock()
	left := q.items
	q.items = nil
	for _, c := range left {
		if c.slot {
			<-q.slots
		}
	}
	return left
}
