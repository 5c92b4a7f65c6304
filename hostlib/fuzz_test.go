package hostlib_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/lrchip/lrchip/hostlib"
)

// FuzzCheck feeds arbitrary requests (rates, spikes, windows) to the model's input checks:
// an error wrapping ErrInput or a number of windows within the limits, never a panic; and an
// accepted request runs.
func FuzzCheck(f *testing.F) {
	f.Add(uint16(1), []byte{}, []byte{})
	f.Add(uint16(0), make([]byte, 8*20), []byte{1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0})
	f.Add(uint16(3), make([]byte, 8*60), []byte{200, 0, 0, 0, 19, 0, 0, 0, 1, 0, 0, 0})
	_, m := load(f, []string{"emu:"}, hostlib.Spec{Window: 10, MaxWindows: 6})
	f.Fuzz(func(t *testing.T, windows uint16, rates, spikes []byte) {
		in := hostlib.Input{Windows: int(windows) - 1}
		for i := 0; i+8 <= len(rates); i += 8 {
			in.Rates = append(in.Rates, math.Float64frombits(binary.LittleEndian.Uint64(rates[i:])))
		}
		for i := 0; i+12 <= len(spikes); i += 12 {
			in.Spikes = append(in.Spikes, hostlib.Spike{Step: binary.LittleEndian.Uint32(spikes[i:]),
				Neuron: binary.LittleEndian.Uint32(spikes[i+4:]), Payload: int32(binary.LittleEndian.Uint32(spikes[i+8:]))})
		}
		w, err := m.Check(in)
		if err != nil {
			return
		}
		if w < 1 || w > 6 {
			t.Fatalf("%d windows accepted", w)
		}
		r, err := m.Infer(ctxT(t), in)
		if err != nil || r.Windows != w {
			t.Fatalf("an accepted request: %d windows, %v", r.Windows, err)
		}
	})
}
