package emu

import (
	"unsafe"

	"github.com/lrchip/lrchip/firmware/syn"
)

// conn is a loaded connection. Its synapses are kept in the most compact of three layouts,
// because delivering spikes is limited by how much synapse memory it touches:
//   - dense: an effective weight per (source, target), [src][dst];
//   - sparse: per source row, packed words target | weight<<16 (effective weights fit in
//     9 bits and targets in 13);
//   - sparse with one shared weight: per source row, 16-bit targets only.
//
// All three give the same sums; the layout is invisible outside the emulator.
type conn struct {
	Connection // settings; its Weights, Index and Targets are dropped after load
	exp        int
	src        *[]int32 // fired list of the source
	pay        []int32  // payload array of the source

	dense   []int32
	index   []int32  // sparse: row offsets
	packed  []uint32 // sparse: target | weight<<16
	targets []uint16 // sparse with a shared weight
	shared  int32
}

// store converts the weights to their effective values and picks the layout.
func (x *conn) store(cn Connection) {
	eff := make([]int32, len(cn.Weights))
	for i, w := range cn.Weights {
		eff[i] = syn.Effective(w, cn.SignMode, cn.WeightBits)
	}
	x.Weights, x.Index, x.Targets = nil, nil, nil
	if cn.Index == nil {
		x.dense = eff
		return
	}
	x.index = append([]int32(nil), cn.Index...)
	uniform := true
	for _, w := range eff {
		if w != eff[0] {
			uniform = false
			break
		}
	}
	if uniform && len(eff) > 0 {
		x.shared = eff[0]
		x.targets = make([]uint16, len(cn.Targets))
		for i, t := range cn.Targets {
			x.targets[i] = uint16(t)
		}
		return
	}
	x.packed = make([]uint32, len(cn.Targets))
	for i, t := range cn.Targets {
		x.packed[i] = uint32(t) | uint32(eff[i])<<16
	}
}

// deliver adds source neuron s's weighted spike (payload p), shifted left by shift, to acc,
// which spans the connection's targets, and returns the number of synapses reached. All
// arithmetic wraps mod 2^32, so (Σ w·p) << e = Σ (w·p << e). Targets were checked against
// len(acc) at load, so the sparse loops index without bounds checks.
func (x *conn) deliver(acc []int32, s int32, p int32, shift uint) uint64 {
	if x.dense != nil {
		n := len(acc)
		row := x.dense[int(s)*n : int(s+1)*n]
		if p == 1 && shift == 0 {
			for j, w := range row {
				acc[j] += w
			}
		} else {
			for j, w := range row {
				acc[j] += (w * p) << shift
			}
		}
		return uint64(n)
	}
	i0, i1 := x.index[s], x.index[s+1]
	base := unsafe.Pointer(unsafe.SliceData(acc))
	if x.targets != nil {
		w := (x.shared * p) << shift
		ts := x.targets[i0:i1]
		// Unrolled by four: the loop is a chain of independent read-modify-writes.
		for len(ts) >= 4 {
			t := ts[:4:4]
			*(*int32)(unsafe.Add(base, uintptr(t[0])*4)) += w
			*(*int32)(unsafe.Add(base, uintptr(t[1])*4)) += w
			*(*int32)(unsafe.Add(base, uintptr(t[2])*4)) += w
			*(*int32)(unsafe.Add(base, uintptr(t[3])*4)) += w
			ts = ts[4:]
		}
		for _, t := range ts {
			*(*int32)(unsafe.Add(base, uintptr(t)*4)) += w
		}
		return uint64(i1 - i0)
	}
	for _, v := range x.packed[i0:i1] {
		a := (*int32)(unsafe.Add(base, uintptr(v&0xFFFF)*4))
		*a += (int32(v) >> 16 * p) << shift
	}
	return uint64(i1 - i0)
}
