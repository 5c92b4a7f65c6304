//go:build !linux

package nir

// limitMemory does nothing where there is no RLIMIT_AS; the reader's timeout still applies.
func limitMemory(int64) {}
