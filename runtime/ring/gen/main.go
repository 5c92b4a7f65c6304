// Command gen writes the non-temporal copy of package ring with avo. Run `go generate` in
// runtime/ring; the generated assembly is committed, so a default build needs nothing.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// ntBlock is the bytes one iteration of the loop copies: four YMM registers, two cache lines.
const ntBlock = 128

func main() {
	// No Package(): the signature uses only built-in types, so avo need not load (and
	// type-check) package ring.
	ConstraintExpr("amd64")

	TEXT("copyNTAVX", NOSPLIT, "func(dst, src *byte, n int)")
	Pragma("noescape")
	Doc("copyNTAVX copies n bytes from src to dst with non-temporal (streaming) stores,",
		"then fences them (SFENCE), so they are ordered before any later store. n must be a",
		"positive multiple of 128 and dst 32-byte aligned; src may be unaligned. The regions",
		"must not overlap.")
	dst, src, n := Load(Param("dst"), GP64()), Load(Param("src"), GP64()), Load(Param("n"), GP64())
	Label("copyNTAVX_loop")
	var y [ntBlock / 32]reg.VecVirtual
	for i := range y {
		y[i] = YMM()
		VMOVDQU(Mem{Base: src, Disp: 32 * i}, y[i])
	}
	for i := range y {
		VMOVNTDQ(y[i], Mem{Base: dst, Disp: 32 * i})
	}
	ADDQ(Imm(ntBlock), src)
	ADDQ(Imm(ntBlock), dst)
	SUBQ(Imm(ntBlock), n)
	JG(LabelRef("copyNTAVX_loop"))
	SFENCE()
	VZEROUPPER()
	RET()

	Generate()
}
