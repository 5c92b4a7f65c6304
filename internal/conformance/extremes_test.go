package conformance

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// lavaSDN is an independent reference for the graded path at the int32 extremes, written from
// Lava's own code (lava-nc/lava src/lava/proc/dense/models.py PyDenseModelBitAcc and
// src/lava/proc/sdn/models.py PySigmaDeltaModelFixed) with numpy's int32 semantics spelled out:
// weights clipped to [−256, 255] and truncated to num_weight_bits (MIXED), a_out = the
// int32 (wrapping) weights·payloads of the previous step shifted by weight_exp, then
// sigma += a; act = sigma + bias (ReLU optional); delta = act − act_prev + residue, all
// wrapping; |x| of −2^31 is −2^31 (numpy's abs); s = sent >> state_exp. Nothing clips a
// payload: Lava's payloads are int32 end to end.
func lavaSDN(v *Vector) {
	pp := v.Params
	v.WEff = make([][]int32, v.NOut)
	t := uint(9 - pp.WeightBits)
	for n, row := range v.Weights {
		v.WEff[n] = make([]int32, v.NIn)
		for i, w := range row {
			w = max(-256, min(255, w))
			v.WEff[n][i] = (w >> t) << t
		}
	}
	abs := func(x int32) int32 {
		if x < 0 {
			return -x // wraps for −2^31, as numpy's int32 abs
		}
		return x
	}
	scale := pp.SpikeExp + pp.StateExp
	vth := pp.Vth << scale
	sigma, act, residue, errs := make([]int32, v.NOut), make([]int32, v.NOut), make([]int32, v.NOut), make([]int32, v.NOut)
	for _, f := range v.Fields {
		v.Expect[f] = make([][]int32, v.Steps)
	}
	for k := 0; k < v.Steps; k++ {
		for _, f := range v.Fields {
			v.Expect[f][k] = make([]int32, v.NOut)
		}
		for n := 0; n < v.NOut; n++ {
			var a int32
			if k > 0 {
				var acc int32
				for i := 0; i < v.NIn; i++ {
					acc += v.WEff[n][i] * v.Inputs[k-1][i] // int32 dot: wraps
				}
				if pp.WeightExp > 0 {
					a = acc << pp.WeightExp
				} else {
					a = acc >> -pp.WeightExp
				}
			}
			sigma[n] += a
			y := sigma[n] + pp.Bias[n]<<scale
			if pp.ActMode == "RELU" {
				y = max(y, 0)
			}
			delta := y - act[n] + residue[n]
			var sent int32
			if pp.CumError {
				errs[n] += delta
				if abs(errs[n]) >= vth {
					sent = delta
				}
				if sent != 0 {
					errs[n] = 0
				}
			} else if abs(delta) >= vth {
				sent = delta
			}
			residue[n] = delta - sent
			act[n] = y
			e := v.Expect
			e["a_in"][k][n], e["sigma"][k][n], e["act"][k][n] = a, sigma[n], act[n]
			e["residue"][k][n], e["error"][k][n], e["s"][k][n] = residue[n], errs[n], sent>>pp.StateExp
		}
	}
}

// TestGradedPayloadExtremes runs sigma-delta networks whose input payloads and outgoing
// payloads reach the int32 limits, far beyond 2^23, against lavaSDN. A chip that saturated
// or wrapped payloads to 24 bits fails here (the test checks the vectors do go that far).
func TestGradedPayloadExtremes(t *testing.T) {
	edges := []int32{math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1, 1 << 23, 1<<23 - 1, -1 << 23, -1<<23 - 1,
		1 << 24, -1 << 24, 1 << 30, -1 << 30, 12345678, -87654321, 1, -1, 0}
	for _, tc := range []struct {
		name               string
		wexp, bits         int
		stateExp, spikeExp int32
		vth                int32
		act                string
		cum                bool
	}{
		{"unit, vth 0: every delta is sent", 0, 8, 0, 0, 0, "UNIT", false},
		{"relu, state_exp 3, negative weight_exp", -2, 8, 3, 0, 3, "RELU", false},
		{"cumulative error, positive weight_exp", 3, 6, 2, 1, 100, "UNIT", true},
		{"large weight_exp, few weight bits", 15, 3, 0, 0, 1 << 20, "UNIT", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.wexp+100)))
			const steps, nin, nout = 40, 5, 6
			v := &Vector{Kind: "sdn", Steps: steps, NIn: nin, NOut: nout, Graded: true,
				Expect: map[string][][]int32{}, Fields: []string{"a_in", "sigma", "act", "residue", "error", "s"}}
			v.Params = Params{WeightExp: tc.wexp, WeightBits: tc.bits, SignMode: "MIXED", ActMode: tc.act, CumError: tc.cum,
				SpikeExp: tc.spikeExp, StateExp: tc.stateExp, Vth: tc.vth, Bias: make([]int32, nout)}
			for n := range v.Params.Bias {
				v.Params.Bias[n] = int32(r.IntN(1<<16)) - 1<<15
			}
			v.Weights = make([][]int32, nout)
			for n := range v.Weights {
				v.Weights[n] = make([]int32, nin)
				for i := range v.Weights[n] {
					v.Weights[n][i] = int32(r.IntN(700)) - 350 // some outside 8 bits: Lava clips them
				}
			}
			v.Inputs = make([][]int32, steps)
			for k := range v.Inputs {
				v.Inputs[k] = make([]int32, nin)
				for i := range v.Inputs[k] {
					if r.IntN(3) > 0 {
						v.Inputs[k][i] = edges[r.IntN(len(edges))]
					}
				}
			}
			lavaSDN(v)
			var big, bigIn int
			for k := range v.Expect["s"] {
				for _, s := range v.Expect["s"][k] {
					if s >= 1<<23 || s < -1<<23 {
						big++
					}
				}
				for _, p := range v.Inputs[k] {
					if p >= 1<<23 || p < -1<<23 {
						bigIn++
					}
				}
			}
			require.Positive(t, big, "the vector must send payloads beyond 24 bits")
			require.Positive(t, bigIn, "the vector must inject payloads beyond 24 bits")
			res := &Result{File: tc.name}
			require.NoError(t, Run(context.Background(), emuDevice(t), v, res))
			require.Zero(t, res.Total, "%v", res.Mismatches)
		})
	}
}
