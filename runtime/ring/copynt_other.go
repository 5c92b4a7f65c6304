//go:build !amd64

package ring

const haveNT = false

func copyNT(dst, src *byte, n int) { panic("ring: no non-temporal copy on this architecture") }
