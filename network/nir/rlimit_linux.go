package nir

import "syscall"

// rlimitData is RLIMIT_DATA: since Linux 4.7 it bounds private writable mappings, which is
// what the Go heap grows by, but not the address space the runtime reserves up front (a cap
// on RLIMIT_AS below about 2 GiB stops a Go program from starting).
const rlimitData = 2

// limitMemory caps the reader process's heap, so that an allocation the HDF5 library is
// tricked into making fails at once instead of taking the machine's memory.
func limitMemory(bytes int64) {
	lim := &syscall.Rlimit{Cur: uint64(bytes), Max: uint64(bytes)}
	_ = syscall.Setrlimit(rlimitData, lim)
}
