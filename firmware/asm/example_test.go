package asm_test

import (
	"fmt"

	"github.com/lrchip/lrchip/firmware/asm"
)

func Example() {
	src := `
.program relu
.state  y
.temp   pos          ; r0
.equ    LIMIT, 0x7F

	sgt  pos, a, 0
	sel  y, pos, a, 0
	min  y, y, LIMIT
	spkg pos, y      ; graded spike with payload y
`
	p, err := asm.Assemble("relu.s", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d instructions, state %v\n", len(p.Code), p.State)
	fmt.Print(string(asm.Disassemble(p)))

	_, err = asm.Assemble("bad.s", []byte(".state y\n\tmov y, z\n"))
	fmt.Println(err)
	// Output:
	// 4 instructions, state [y]
	// .program relu
	// .state y
	//
	// 	sgt  r0, a, 0
	// 	sel  y, r0, a, 0
	// 	min  y, y, 127
	// 	spkg r0, y
	// bad.s:2:9: unknown register "z"
}
