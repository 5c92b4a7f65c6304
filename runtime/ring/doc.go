// Package ring is the "corpus callosum" between the chip runtime and the GPU
// side: a single-consumer ring of variable-length records in shared memory
// that any process can map.
//
// # Memory
//
// Create makes the ring in a memfd (sealed against resizing, so a peer
// cannot shrink it under us) or, where memfd_create is unavailable or
// Opts.Path asks for it, in a file in /dev/shm. Another process attaches with
// Attach, given the descriptor (passed with SCM_RIGHTS or exec.Cmd's
// ExtraFiles), or with AttachPath. New and AttachMem put a ring in memory
// the caller provides, such as a plain []byte (which lets the race detector
// see both ends) or a buffer mapped by a driver.
//
// # Layout
//
// All fields are little-endian; the definition is Header, Side and
// RecordHeader in layout.go, from which the C header include/lrchip_ring.h
// is generated (go generate; a test fails when it is stale). The
// memory is a HeaderSize (4096-byte) header followed by the data area of
// Capacity bytes (a power of two):
//
//	0x000  Magic "LRCRING\0" (u64), Version (u32), HeaderSize (u32),
//	       Capacity (u64), Flags (u32: FlagMultiProducer)
//	0x040  ProducerPos (u64)                     own cache line
//	0x080  ConsumerPos (u64)                     own cache line
//	0x0c0  DataFutex (u32), ConsumerSleeping (u32)
//	0x100  SpaceFutex (u32), ProducerSleeping (u32)
//	0x140  Producer side: PID (u32), State (u32), PIDNS (u64), Heartbeat (u64)
//	0x180  Consumer side: the same
//	0x1000 data area
//
// Positions are free-running uint64 byte counters; a position's offset in
// the data area is pos & (Capacity-1). The producer owns ProducerPos, the
// consumer ConsumerPos; 0 <= ProducerPos-ConsumerPos <= Capacity, and both
// are multiples of 8.
//
// A record is an 8-byte header {Length u32, Type u16, Flags u16} followed by
// the payload; Length counts header and payload, and the record occupies
// Length rounded up to 8 bytes, so every record starts 8-byte aligned.
// Records never straddle the end of the data area: when the next one does
// not fit, the producer fills the rest with a padding record (TypePad) and
// continues at offset 0. Every record carries RecordCommitted in Flags. Types
// from TypeReservedMin up are reserved.
//
// # Publishing
//
// The single-producer side (Producer) writes records, payload and header,
// with plain stores, then publishes any number of them with one atomic
// (release) store of ProducerPos; the consumer loads ProducerPos (acquire)
// and may then read everything before it. The consumer hands back space the
// same way, by storing ConsumerPos (Release). Go's sync/atomic operations are
// sequentially consistent, which is stronger than the release/acquire pairs
// needed here and is what the wakeup protocol below relies on; a C peer
// must use __atomic/stdatomic operations with memory_order_seq_cst for the
// position, sleeping and futex words.
//
// Large payloads bound for another core or a device are best written with
// CopyNT (or Producer.WriteNT): non-temporal stores, fenced before it
// returns, that skip fetching each destination line back from the
// consumer's cache, where it sits since the consumer read it one lap
// earlier. Between two processes this about doubles the bandwidth of 4 KiB
// records; with the consumer on the same core it is slower, so it is a
// choice of the caller, not the default.
//
// The multi-producer side (MultiProducer, rings with FlagMultiProducer) is a
// mutex-guarded reservation: under the mutex a goroutine writes the record
// header without RecordCommitted and publishes ProducerPos; it fills the
// payload outside the mutex and sets RecordCommitted with one atomic store of
// the header word. The consumer stops at the first uncommitted record and
// waits for it, so records arrive in reservation order.
//
// # Waiting
//
// A blocking call polls the ring Opts.SpinPolls times, then sleeps on a
// futex (FUTEX_WAIT, the non-private form, since the word is shared between
// processes). The consumer sleeps on DataFutex and announces it in
// ConsumerSleeping; producer threads sleep on SpaceFutex and announce it in
// ProducerSleeping. The sleeper:
//
//	loop:
//	  seq = load(futex)        // first, or a wake between the steps is lost
//	  store(sleeping, 1)
//	  if the condition still fails:
//	    futex_wait(futex, seq, WakeInterval)
//	  until the condition holds
//
// The waker stores its position (or commit flag), then loads the sleeping
// word and, only if it is set, swaps it to 0 and, if the swap found it set,
// increments the futex word and issues FUTEX_WAKE for all sleepers. Either
// the waker's load sees the announcement, or the sleeper's re-check sees the
// store; the increment makes a FUTEX_WAIT that has not started yet return at
// once. So a wakeup is never lost, a busy peer that never sleeps costs the
// other side one load per publish and no system call, and a sleeper costs
// one FUTEX_WAKE however many publishes happen before it runs again. (A
// sleeper leaves the flag set when it finds its condition true on its own;
// that costs one spurious wake later.)
//
// A sleeper wakes at least every Opts.WakeInterval to check the peer; a
// cancelled context wakes it at once (it increments its own futex word).
// Every blocking call takes a context.Context.
//
// # Trust
//
// Neither side trusts the other. Each keeps its own position privately and
// only ever writes it to the header; what it reads there is validated: the
// consumer checks that ProducerPos is aligned, does not move backwards, is
// not behind the consumer and is at most Capacity ahead; it checks every
// record header (committed, known flags, Length at least 8, inside the
// published bytes, not straddling the end, not a reserved type), decoding it
// from a single load. The producer checks ConsumerPos likewise. A violation
// is an error wrapping ErrProtocol that names the value and the position,
// for example "ring: producer position 9000 is 9000 bytes ahead of consumer
// 0, capacity 4096", and it sticks to the endpoint. Payload slices alias the
// shared memory, so the producer can still change a payload while it is
// being read.
//
// # Liveness
//
// Each side records its pid, its pid namespace and a heartbeat in its Side
// line when it claims the role (a role held by a live process cannot be
// claimed), and sets SideClosed when it closes. A side that has waited for
// WakeInterval checks the peer: ErrClosed if the peer closed (the consumer
// first drains what was published), ErrPeerGone if the peer's process has
// exited (through a pidfd, which also sees an unreaped zombie, or kill(pid,
// 0)), or, with Opts.PeerTimeout set, if neither the peer's heartbeat nor
// its position moved for that long. The pid check needs the peer in the same
// pid namespace; otherwise only the heartbeat can tell. Each endpoint beats
// its heartbeat every Opts.Heartbeat from a goroutine and on every wakeup
// while it waits.
//
// # Ownership
//
// A Ring owns its mapping and its descriptor (Attach duplicates the one it
// is given) and, if it created a file, the file; Close releases them and
// closes the endpoints it handed out. Endpoints are single-goroutine objects
// except MultiProducer. Close must not race other calls.
package ring
