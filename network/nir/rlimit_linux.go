package nir

import "syscall"

// limitMemory caps the reader process's address space, so that an allocation the HDF5
// library is tricked into making fails at once instead of taking the machine's memory.
func limitMemory(bytes int64) {
	lim := &syscall.Rlimit{Cur: uint64(bytes), Max: uint64(bytes)}
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, lim)
}
