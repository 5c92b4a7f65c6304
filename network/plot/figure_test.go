package plot

import (
	"image/color"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/lrchip/lrchip/network/run"
)

func probeResult(neurons int) *run.Result {
	res := &run.Result{Network: "t", Steps: 20, Outputs: []run.Port{{Name: "out", Population: "exc", Count: 3}}}
	tr := run.Trace{Population: "exc", Field: "v"}
	for n := range neurons {
		tr.Neurons = append(tr.Neurons, n)
	}
	for s := range 20 {
		row := make([]int32, neurons)
		for n := range row {
			row[n] = int32((s * 100) % 700) // rises, then a reset drops it
		}
		tr.Values = append(tr.Values, row)
	}
	res.Probes = []run.Trace{tr}
	return res
}

// Traces are drawn as steps, so a reset is a drop, not a slope; the legend is beside the data;
// a scale gives physical units; many neurons make a heat map with a colour bar.
func TestTraceFigure(t *testing.T) {
	o := Options{Scales: map[string]Scale{"v": {Factor: 0.5, Unit: "mV"}}, StepDuration: 2 * time.Millisecond}.withDefaults()
	f, err := traceFigure(probeResult(3), o)
	require.NoError(t, err)
	require.Len(t, f.panels, 1)
	var lines []*plotter.Line
	for _, pl := range f.panels[0].items {
		if l, ok := pl.(*plotter.Line); ok {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3)
	for _, l := range lines {
		require.Equal(t, plotter.PostStep, l.StepStyle, "a value holds until the next step")
	}
	require.Equal(t, 100*0.5, lines[0].XYs[1].Y, "scaled to mV")
	require.Equal(t, 4.0, lines[0].XYs[1].X, "step 2 at 4 ms")
	require.Equal(t, "v (mV)", f.panels[0].Y.Label.Text)
	require.Equal(t, "time (ms)", f.panels[0].X.Label.Text)
	require.Len(t, f.sides[0].legend, 3, "the legend goes beside the panel")
	require.Equal(t, "exc[2]", f.sides[0].legend[2].name)

	f, err = traceFigure(probeResult(40), o)
	require.NoError(t, err)
	heat := false
	for _, pl := range f.panels[0].items {
		_, isHeat := pl.(*plotter.HeatMap)
		_, isLine := pl.(*plotter.Line)
		heat = heat || isHeat
		require.False(t, isLine, "no spaghetti")
	}
	require.True(t, heat)
	require.NotNil(t, f.sides[0].bar, "a colour bar says what the colours are")
}

// Rasters name ports and their populations in a legend; graded payloads are colours.
func TestRasterFigure(t *testing.T) {
	res := probeResult(1)
	res.Outputs = append(res.Outputs, run.Port{Name: "tail", Population: "inh", Start: 2, Count: 2})
	res.Spikes = []run.Spike{{Step: 1, Port: "out", Neuron: 0, Payload: 1}, {Step: 3, Port: "tail", Neuron: 1, Payload: 1}}
	f, err := rasterFigure(res, Options{}.withDefaults())
	require.NoError(t, err)
	require.Len(t, f.sides[0].legend, 2)
	require.Equal(t, "out (exc[0:3])", f.sides[0].legend[0].name)
	require.Equal(t, "tail (inh[2:4])", f.sides[0].legend[1].name)
	require.Nil(t, f.sides[0].bar)

	res.Spikes = []run.Spike{{Step: 1, Port: "out", Neuron: 0, Payload: -50}, {Step: 2, Port: "out", Neuron: 1, Payload: 7}, {Step: 3, Port: "tail", Neuron: 1, Payload: 900}}
	f, err = rasterFigure(res, Options{}.withDefaults())
	require.NoError(t, err)
	require.NotNil(t, f.sides[0].bar, "graded: a colour bar of payloads")
	cols := map[color.Color]bool{}
	for _, pl := range f.panels[0].items {
		if sc, ok := pl.(*plotter.Scatter); ok {
			cols[sc.GlyphStyle.Color] = true
		}
	}
	require.Len(t, cols, 3, "three payloads, three colours")
}

func TestParseOptions(t *testing.T) {
	w, h, err := ParseSize("8x4")
	require.NoError(t, err)
	require.Equal(t, [2]vg.Length{8 * vg.Inch, 4 * vg.Inch}, [2]vg.Length{w, h})
	w, _, err = ParseSize("20x10cm")
	require.NoError(t, err)
	require.InDelta(t, float64(20*vg.Centimeter), float64(w), 1e-9)
	for _, bad := range []string{"8", "x4", "8x-4", "9999x1", "axb"} {
		_, _, err := ParseSize(bad)
		require.ErrorIs(t, err, ErrUsage, bad)
	}
	f, s, err := ParseScale("v=0.015625:mV")
	require.NoError(t, err)
	require.Equal(t, "v", f)
	require.Equal(t, Scale{Factor: 0.015625, Unit: "mV"}, s)
	for _, bad := range []string{"v", "=2", "v=0", "v=x:mV"} {
		_, _, err := ParseScale(bad)
		require.ErrorIs(t, err, ErrUsage, bad)
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"8x4", "20x10cm", "v=0.5:mV", "x", "1e308x1", "NaNx1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if w, h, err := ParseSize(s); err == nil && (w <= 0 || h <= 0 || w > 100*vg.Inch || h > 100*vg.Inch) {
			t.Fatalf("size %q gave %v×%v", s, w, h)
		}
		if _, sc, err := ParseScale(s); err == nil && sc.Factor == 0 {
			t.Fatalf("scale %q gave a zero factor", s)
		}
	})
}
