package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/lrchip/lrchip/network/run"
)

// ErrNothing is returned when there is nothing to draw (no output ports, no probes).
var ErrNothing = errors.New("nothing to draw")

// Formats lists the file extensions Raster and Traces accept.
var Formats = []string{"svg", "png", "pdf", "eps", "jpg", "jpeg", "tif", "tiff"}

// FormatOf returns the format of a file name (its extension, lower case, without the dot), or
// an error naming the accepted ones.
func FormatOf(path string) (string, error) {
	f := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	for _, g := range Formats {
		if f == g {
			return f, nil
		}
	}
	return "", fmt.Errorf("plot: %s: unknown picture format %q (want .svg or .png; also %s)", path, f, strings.Join(Formats[2:], ", "))
}

// palette: distinct colours that read well on white.
var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{148, 103, 189, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{23, 190, 207, 255},
	color.RGBA{140, 86, 75, 255}, color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255},
	color.RGBA{188, 189, 34, 255},
}

func colour(i int) color.Color { return palette[i%len(palette)] }

// tick is a glyph: a short vertical bar, the usual mark of a spike raster.
type tick struct{}

func (tick) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.StrokeLine2(draw.LineStyle{Color: sty.Color, Width: vg.Points(1.2)}, pt.X, pt.Y-sty.Radius, pt.X, pt.Y+sty.Radius)
}

// Raster draws the output spikes: one row per output neuron (ports stacked in order, each in
// its own colour), one mark per spike at its step.
func Raster(res *run.Result, w io.Writer, format string) error {
	rows := 0
	for _, o := range res.Outputs {
		rows += o.Count
	}
	if rows == 0 {
		return fmt.Errorf("plot: raster: %w: the network has no output ports", ErrNothing)
	}
	p := plot.New()
	p.Title.Text = title(res, "output spikes")
	p.X.Label.Text = "step"
	p.Y.Label.Text = "output neuron"
	p.X.Min, p.X.Max = 0.5, float64(res.Steps)+0.5
	p.Y.Min, p.Y.Max = -0.5, float64(rows)-0.5
	p.X.Tick.Marker = intTicks{}
	height := vg.Length(math.Min(8, math.Max(3, 1.5+0.2*float64(rows)))) * vg.Inch
	radius := vg.Length(math.Min(5, 0.35*float64(height-1.3*vg.Inch)/float64(rows)))

	// Label every row when there are few, else every every-th neuron of each port.
	every := 1
	if rows > 40 {
		for _, e := range []int{5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000} {
			every = e
			if rows/e <= 20 {
				break
			}
		}
	}
	base := map[string]int{}
	var ticks []plot.Tick
	pos := 0
	for i, o := range res.Outputs {
		base[o.Name] = pos
		if i > 0 {
			// A faint line between ports.
			sep, _ := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: float64(pos) - 0.5}, {X: p.X.Max, Y: float64(pos) - 0.5}})
			sep.LineStyle.Color = color.Gray{Y: 160}
			sep.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
			p.Add(sep)
		}
		for j := 0; j < o.Count; j += every {
			ticks = append(ticks, plot.Tick{Value: float64(pos + j), Label: fmt.Sprintf("%s[%d]", o.Name, j)})
		}
		pos += o.Count
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	pts := make([]plotter.XYs, len(res.Outputs))
	idx := map[string]int{}
	for i, o := range res.Outputs {
		idx[o.Name] = i
	}
	for _, s := range res.Spikes {
		i, ok := idx[s.Port]
		if !ok {
			continue
		}
		pts[i] = append(pts[i], plotter.XY{X: float64(s.Step), Y: float64(base[s.Port] + s.Neuron)})
	}
	for i := range res.Outputs {
		if len(pts[i]) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts[i])
		if err != nil {
			return fmt.Errorf("plot: raster: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colour(i), Radius: radius, Shape: tick{}}
		p.Add(sc)
	}
	p.Add(plotter.NewGrid())
	return save(p, w, 8*vg.Inch, height, format)
}

// Traces draws each probe in its own panel, stacked: one line per probed neuron (at most 10
// are named in a legend).
func Traces(res *run.Result, w io.Writer, format string) error {
	if len(res.Probes) == 0 {
		return fmt.Errorf("plot: traces: %w: no probes (ask for some with --probe POP:FIELD)", ErrNothing)
	}
	var plots [][]*plot.Plot
	for _, t := range res.Probes {
		p := plot.New()
		p.Title.Text = t.Name()
		if len(plots) == 0 {
			p.Title.Text = title(res, t.Name())
		}
		p.X.Label.Text = "step"
		p.Y.Label.Text = t.Field
		p.X.Min, p.X.Max = 1, float64(max(res.Steps, 2))
		p.X.Tick.Marker = intTicks{}
		p.Add(plotter.NewGrid())
		for j, n := range t.Neurons {
			xy := make(plotter.XYs, len(t.Values))
			for i, row := range t.Values {
				xy[i] = plotter.XY{X: float64(i + 1), Y: float64(row[j])}
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("plot: traces: %w", err)
			}
			l.LineStyle.Color = colour(j)
			l.LineStyle.Width = vg.Points(1.2)
			p.Add(l)
			if len(t.Neurons) <= 10 {
				p.Legend.Add(fmt.Sprintf("%s[%d]", t.Population, n), l)
			}
		}
		p.Legend.Top = true
		if len(t.Neurons) <= 10 && p.Y.Max > p.Y.Min {
			p.Y.Max += 0.08 * (p.Y.Max - p.Y.Min) * float64(len(t.Neurons)) // room for the legend
		}
		plots = append(plots, []*plot.Plot{p})
	}
	width, height := 8*vg.Inch, vg.Length(math.Min(24, 2.8*float64(len(plots))))*vg.Inch
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("plot: traces: %w", err)
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, draw.New(c))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("plot: traces: %w", err)
	}
	return nil
}

func title(res *run.Result, what string) string {
	if res.Network != "" {
		return fmt.Sprintf("%s: %s", res.Network, what)
	}
	return what
}

func save(p *plot.Plot, w io.Writer, width, height vg.Length, format string) error {
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// intTicks puts ticks on whole numbers only (steps), about ten of them.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000} {
		step = s
		if span/s <= 12 {
			break
		}
	}
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f", v)})
	}
	return out
}

// SaveRaster draws the raster into a file; the extension picks the format.
func SaveRaster(res *run.Result, path string) error { return saveFile(path, res, Raster) }

// SaveTraces draws the traces into a file; the extension picks the format.
func SaveTraces(res *run.Result, path string) error { return saveFile(path, res, Traces) }

func saveFile(path string, res *run.Result, draw func(*run.Result, io.Writer, string) error) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := draw(res, f, format); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
