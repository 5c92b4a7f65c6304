package ring

import (
	"context"
	"unsafe"
)

// NTMinCopy is the smallest copy CopyNT makes with non-temporal stores; shorter copies are
// plain copies.
const NTMinCopy = 1024

// ntBlock is the unit of the non-temporal loop (see gen/main.go).
const ntBlock = 128

// CopyNT copies src into dst like the built-in copy and returns the number of bytes copied,
// but writes the bulk of a copy of at least NTMinCopy bytes with non-temporal (streaming)
// stores, on machines that have them (amd64 with AVX; elsewhere, and in race-detector builds,
// it is copy). The bytes before dst's first cache-line boundary and the tail are copied
// normally; the streaming stores are fenced before CopyNT returns, so a later Commit or
// Publish orders them like ordinary stores.
//
// Streaming stores go to memory without first reading the destination's cache lines and
// evict them from every cache. That is what a producer wants when the consumer is another
// core or a device: with plain stores every line of a record is first fetched back from the
// consumer's cache (the consumer read it one lap of the ring earlier) and invalidated there.
// Between two processes on two cores it doubles the bandwidth of 4 KiB records (see `lrctl
// bench ring`). It is slower when the consumer runs on the same core, or reads the record
// while it is still in this core's cache, since the consumer then reads it from memory.
//
// Use it to fill a reservation: buf, _ := p.Reserve(ctx, typ, len(b)); ring.CopyNT(buf, b);
// p.Commit(). Overlapping slices are copied with copy.
func CopyNT(dst, src []byte) int {
	n := min(len(dst), len(src))
	if n < NTMinCopy || !haveNT || overlaps(dst[:n], src[:n]) {
		return copy(dst, src)
	}
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) & (CacheLine - 1))
	body := (n - head) &^ (ntBlock - 1)
	copy(dst[:head], src[:head])
	copyNT(&dst[head], &src[head], body)
	copy(dst[head+body:n], src[head+body:n])
	return n
}

func overlaps(a, b []byte) bool {
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// WriteNT is Write with the payload copied in by CopyNT: for large records going to a
// consumer on another core or a device.
func (p *Producer) WriteNT(ctx context.Context, typ uint16, payload []byte) error {
	buf, err := p.Reserve(ctx, typ, len(payload))
	if err != nil {
		return err
	}
	CopyNT(buf, payload)
	p.Commit()
	p.Publish()
	return nil
}
