//go:build !linux

package nir

// limitMemory does nothing where RLIMIT_DATA does not bound the heap; the reader's timeout
// still applies.
func limitMemory(int64) {}
