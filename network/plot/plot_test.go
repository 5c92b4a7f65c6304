package plot_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/network/plot"
	"github.com/lrchip/lrchip/network/run"
)

func result(ports, neurons int) *run.Result {
	res := &run.Result{Network: "t", Steps: 30}
	for p := range ports {
		name := string(rune('a' + p))
		res.Outputs = append(res.Outputs, run.Port{Name: name, Population: name, Count: neurons})
		for s := 1; s <= 30; s++ {
			for n := range neurons {
				if (s+n)%(3+p) == 0 {
					res.Spikes = append(res.Spikes, run.Spike{Step: s, Port: name, Neuron: n, Payload: 1})
				}
			}
		}
	}
	tr := run.Trace{Population: "a", Field: "v", Neurons: []int{0, 1}}
	for s := range 30 {
		tr.Values = append(tr.Values, []int32{int32(s * 10), int32(300 - s*s)})
	}
	res.Probes = []run.Trace{tr, {Population: "a", Field: "a", Neurons: []int{0}, Values: make([][]int32, 30)}}
	for i := range res.Probes[1].Values {
		res.Probes[1].Values[i] = []int32{int32(i % 4)}
	}
	return res
}

func TestDraw(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name         string
		ports, width int
	}{{"one port", 1, 8}, {"two ports", 2, 5}, {"many neurons", 2, 60}}
	for _, c := range cases {
		for _, ext := range []string{"svg", "png"} {
			t.Run(c.name+" "+ext, func(t *testing.T) {
				res := result(c.ports, c.width)
				r := filepath.Join(dir, c.name+"-raster."+ext)
				require.NoError(t, plot.SaveRaster(res, r, plot.Options{}))
				tr := filepath.Join(dir, c.name+"-traces."+ext)
				require.NoError(t, plot.SaveTraces(res, tr, plot.Options{}))
				for _, f := range []string{r, tr} {
					b, err := os.ReadFile(f)
					require.NoError(t, err)
					require.Greater(t, len(b), 1000)
					if ext == "svg" {
						require.True(t, bytes.Contains(b, []byte("<svg")))
					} else {
						require.True(t, bytes.HasPrefix(b, []byte("\x89PNG")))
					}
				}
			})
		}
	}
}

func TestDrawErrors(t *testing.T) {
	dir := t.TempDir()
	err := plot.SaveRaster(&run.Result{Steps: 3}, filepath.Join(dir, "r.svg"), plot.Options{})
	require.ErrorIs(t, err, plot.ErrNothing)
	require.ErrorContains(t, err, "plot: raster: nothing to draw: the network has no output ports")
	require.NoFileExists(t, filepath.Join(dir, "r.svg"), "no empty file left behind")
	err = plot.SaveTraces(&run.Result{Steps: 3}, filepath.Join(dir, "t.png"), plot.Options{})
	require.ErrorIs(t, err, plot.ErrNothing)
	err = plot.SaveRaster(result(1, 2), filepath.Join(dir, "r.bmp"), plot.Options{})
	require.ErrorContains(t, err, `unknown picture format "bmp" (want .svg or .png`)
	err = plot.SaveRaster(result(1, 2), filepath.Join(dir, "missing", "r.svg"), plot.Options{})
	require.ErrorContains(t, err, "plot: open ")
	f, err := plot.FormatOf("X.PNG")
	require.NoError(t, err)
	require.Equal(t, "png", f)
}
