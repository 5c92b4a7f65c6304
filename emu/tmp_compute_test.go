package emu

import (
	"testing"

	"github.com/lrchip/lrchip/firmware/programs"
)

func BenchmarkComputeTmp(b *testing.B) {
	prog, _ := programs.Get("lif")
	n := 1000
	bm, be, v0 := make([]int32, n), make([]int32, n), make([]int32, n)
	for i := range bm {
		bm[i] = 2100
		v0[i] = int32(i * 37 % 40000)
	}
	c, err := newCore(0, CoreConfig{Program: prog, Neurons: n, Consts: []int32{819, 205, 640},
		Params: [][]int32{bm, be}, State: [][]int32{make([]int32, n), v0}}, 1024, true)
	if err != nil {
		b.Fatal(err)
	}
	t := int32(0)
	for b.Loop() {
		t++
		c.compute(t)
	}
}
