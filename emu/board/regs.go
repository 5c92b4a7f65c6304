package board

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// regFile is the register file: one page of shared memory (a memfd, so that the socket
// transport can hand it to the host) accessed only with atomic operations, since the host
// reads and writes it concurrently.
type regFile struct {
	mem []byte
	fd  int
}

func newRegFile() (*regFile, error) {
	fd, err := unix.MemfdCreate("lrchip-bar", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("board: register file: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, regmap.BARSize); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("board: register file: %w", err)
	}
	// The host must not be able to shrink it under us (SIGBUS).
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("board: register file: seal: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, regmap.BARSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("board: register file: mmap: %w", err)
	}
	return &regFile{mem: mem, fd: fd}, nil
}

func (r *regFile) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

func (r *regFile) word(off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[off&^3]))
}

func (r *regFile) load(off uint32) uint32      { return atomic.LoadUint32(r.word(off)) }
func (r *regFile) store(off uint32, v uint32)  { atomic.StoreUint32(r.word(off), v) }
func (r *regFile) or(off uint32, v uint32)     { atomic.OrUint32(r.word(off), v) }
func (r *regFile) andNot(off uint32, v uint32) { atomic.AndUint32(r.word(off), ^v) }
func (r *regFile) swap(off uint32, v uint32) uint32 {
	return atomic.SwapUint32(r.word(off), v)
}

// store64 writes a LO/HI pair with one store.
func (r *regFile) store64(off uint32, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&r.mem[off&^7])), v)
}

func (r *regFile) load64(off uint32) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.mem[off&^7])))
}

// setStatus sets or clears STATUS bits.
func (r *regFile) setStatus(bits uint32, on bool) {
	if on {
		r.or(regmap.RegStatus, bits)
	} else {
		r.andNot(regmap.RegStatus, bits)
	}
}
