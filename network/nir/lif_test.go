package nir_test

import (
	"context"
	"encoding/csv"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/nir"
	"github.com/lrchip/lrchip/network/run"
)

// lavaLIF is an independent reference: the neuron (Affine w=1 → LIF τ=2.5 ms, r=1,
// v_th=0.1, dt=0.1 ms) as Lava runs it in fixed point, written out from CHIP.md's Loihi CUBA
// LIF equations and Lava's documented conversion of the NIR node (the NIR paper's
// nir_to_lava.py): du = 4095 (no synaptic state), dv = trunc(dt/τ·4095), vth = trunc(v_th·2^8),
// weight = trunc(w·r·dt/τ·2^8), EXCITATORY, weight_exp 0. Dense delays by one step: an
// input spike in step k reaches the LIF in step k+1. It returns v and the spike after each
// step.
func lavaLIF(in []bool) (v []int32, s []bool) {
	dt, tau, r, w, vthModel := 1e-4, 2.5e-3, 1.0, 1.0, 0.1
	du := int64(4095)
	dv := int64(dt / tau * 4095)            // 163
	vth := int64(vthModel * 256)            // 25
	weight := int64(w * r * dt / tau * 256) // 10
	T := func(x int64) int64 {              // x/4096 truncated toward zero
		if x < 0 {
			return -(-x / 4096)
		}
		return x / 4096
	}
	var uu, vv int64
	for k := range in {
		var a int64
		if k > 0 && in[k-1] {
			a = weight
		}
		uu = T(uu*(4096-du-1)) + a<<6
		if uu > 1<<23 {
			uu -= 1 << 24
		} else if uu <= -(1 << 23) {
			uu += 1 << 24
		}
		vv = T(vv*(4096-dv)) + uu
		vv = max(-(1<<23 - 1), min(1<<23-1, vv))
		spike := vv > vth<<6
		if spike {
			vv = 0
		}
		v, s = append(v, int32(vv)), append(s, spike)
	}
	return v, s
}

// runLIF imports a single-LIF file, runs it on the emulator through network.Map and network/run
// as `lrctl run` does, and returns v of the neuron and its spikes at every step.
func runLIF(t *testing.T, file string, o nir.Opts, in []bool) (*network.Network, []int32, []bool) {
	t.Helper()
	n, _, err := nir.Import(context.Background(), file, o, nir.ReadOpts{})
	require.NoError(t, err)
	require.Len(t, n.Populations, 1)
	pop := n.Populations[0].Name
	size, err := chip.ParseSize("prototype")
	require.NoError(t, err)
	img, err := network.Map(n, size)
	require.NoError(t, err)
	dev, err := emu.NewDevice(emu.Opts{Size: size})
	require.NoError(t, err)
	var spikes []run.Spike
	for k, x := range in {
		if x {
			spikes = append(spikes, run.Spike{Step: k + 1, Port: n.Inputs[0].Name, Neuron: 0, Payload: 1})
		}
	}
	res, err := run.Run(context.Background(), dev, img, run.Options{Steps: len(in), Inputs: spikes,
		Probes: []run.ProbeSpec{{Population: pop, Field: "v"}}})
	require.NoError(t, err)
	v := make([]int32, len(in))
	for k, row := range res.Probes[0].Values {
		v[k] = row[0]
	}
	s := make([]bool, len(in))
	for _, x := range res.Spikes {
		s[x.Step-1] = true
	}
	return n, v, s
}

// lavaTrace reads Lava's own fixed-point trace of this neuron from the NIR paper's repository
// (testdata/paper/lif_lava_cpu_fixed.csv: input spike, v, output spike per step, written by
// Lava's Loihi2SimCfg fixed_pt models, PyLifModelBitAcc).
func lavaTrace(t *testing.T) (in []bool, v []int32, s []bool) {
	f, err := os.Open("testdata/paper/lif_lava_cpu_fixed.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	for _, r := range rows {
		x, err1 := strconv.ParseFloat(r[1], 64)
		sp, err2 := strconv.ParseFloat(r[2], 64)
		require.NoError(t, err1)
		require.NoError(t, err2)
		in, v, s = append(in, r[0] == "1"), append(v, int32(x)), append(s, sp != 0)
	}
	return in, v, s
}

// TestSingleLIFMatchesLava: the LIF, written by the reference nir package, imported
// and run on the emulator, reproduces Lava's fixed-point trace bit for bit: the independent
// reference above on the paper's spike train and on a busier random one, and Lava's own
// recorded trace.
func TestSingleLIFMatchesLava(t *testing.T) {
	paperIn, lavaV, lavaS := lavaTrace(t)
	require.Len(t, paperIn, 1000)
	refV, refS := lavaLIF(paperIn)
	require.Equal(t, lavaV, refV, "the reference reproduces Lava's recorded trace")
	require.Equal(t, lavaS, refS)
	spikes := 0
	for _, x := range lavaS {
		if x {
			spikes++
		}
	}
	require.Equal(t, 4, spikes, "Lava's trace fires 4 times: the reset is exercised")

	rng := rand.New(rand.NewPCG(14, 14))
	busy := make([]bool, 600)
	for k := range busy {
		busy[k] = rng.IntN(3) == 0
	}
	for _, file := range []string{"testdata/lif.nir", "testdata/lif_f32.nir"} {
		t.Run(file, func(t *testing.T) {
			n, v, s := runLIF(t, file, nir.Opts{Dt: 1e-4}, paperIn)
			p := n.Populations[0]
			require.Equal(t, "lif", p.Program, "Lava's own LIF program")
			require.Equal(t, map[string]int32{"du": 4095, "dv": 163, "vth": 25}, p.Consts)
			require.Equal(t, lavaV, v, "v, bit for bit with Lava")
			require.Equal(t, lavaS, s, "spikes, step for step with Lava")

			refV, refS := lavaLIF(busy)
			_, v, s = runLIF(t, file, nir.Opts{Dt: 1e-4}, busy)
			require.Equal(t, refV, v)
			require.Equal(t, refS, s)
		})
	}
}

// TestLegacyLIF: the same neuron in files from before NIR 1.0.6 (Norse's export in the NIR
// paper, version 0.1.1; our legacy rewrite, 0.2.0) has no v_reset: by default it resets by
// subtraction, as NIR specified then, and with --reset zero it is Lava's trace again.
func TestLegacyLIF(t *testing.T) {
	paperIn, lavaV, lavaS := lavaTrace(t)
	for _, file := range []string{"testdata/paper/lif_norse.nir", "testdata/legacy_lif.nir"} {
		t.Run(file, func(t *testing.T) {
			n, v, s := runLIF(t, file, nir.Opts{Dt: 1e-4, Reset: nir.ResetZero}, paperIn)
			require.Equal(t, "lif", n.Populations[0].Program)
			require.Equal(t, lavaV, v)
			require.Equal(t, lavaS, s)

			n, v, _ = runLIF(t, file, nir.Opts{Dt: 1e-4}, paperIn)
			require.Empty(t, n.Populations[0].Program, "reset by subtraction is a generated program")
			require.Contains(t, n.Populations[0].Source, "sub   y, x, theta")
			first := -1
			for k, x := range lavaS {
				if x {
					first = k
					break
				}
			}
			require.Equal(t, lavaV[:first], v[:first], "identical until the first spike")
			require.Equal(t, lavaV[first-1]*(4096-163)/4096+640-25*64, v[first], "then v − vth<<6 instead of 0")
		})
	}
}
