//go:build amd64

package ring

import "golang.org/x/sys/cpu"

// haveNT: the streaming copy needs AVX (VMOVNTDQ on YMM registers). The race detector does
// not see stores made in assembly, so race builds copy with copy.
var haveNT = cpu.X86.HasAVX && !raceEnabled

// copyNT copies n bytes, a positive multiple of ntBlock, to dst, which is 32-byte aligned.
func copyNT(dst, src *byte, n int) { copyNTAVX(dst, src, n) }
