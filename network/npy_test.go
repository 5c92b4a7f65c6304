package network

import (
	"bytes"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
)

// FuzzReadNPY: any bytes give an array within the limit or an error, never a panic or an
// allocation beyond what the limit allows.
func FuzzReadNPY(f *testing.F) {
	for _, v := range []any{[]int32{1, 2, 3}, [][]float64{{1, 2}, {3, 4}}, []int64{-5}, [][]uint8{{1}}} {
		var b bytes.Buffer
		if err := npy.Write(&b, v); err == nil {
			f.Add(b.Bytes())
		}
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'descr': '<i4'\n"))
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := readNPY(bytes.NewReader(b), 1<<16)
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.shape {
			n *= d
		}
		if n != len(a.data) || n > 1<<16 {
			t.Fatalf("shape %v with %d elements", a.shape, len(a.data))
		}
	})
}
