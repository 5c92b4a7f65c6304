package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/lrchip/lrchip/network/run"
)

// ErrNothing is returned when there is nothing to draw (no output ports, no probes).
var ErrNothing = errors.New("nothing to draw")

// ErrUsage is wrapped by errors about a malformed option (size, scale).
var ErrUsage = errors.New("bad plot option")

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

// Options say how to draw. The zero value gives the documented defaults.
type Options struct {
	// Width and Height of the picture; 0: chosen from what is drawn (8 inches wide).
	Width, Height vg.Length
	// DPI of PNG, JPEG and TIFF pictures; default 150.
	DPI int
	// StepDuration, when set, puts physical time on the x axis (step k at k·StepDuration, in
	// milliseconds) instead of steps.
	StepDuration time.Duration
	// Scales turn a field's integer values into physical units, by field name ("v").
	Scales map[string]Scale
	// HeatMapAbove: a probe of more neurons than this is drawn as a heat map (neurons × time,
	// value as colour) instead of one line per neuron. Default 10.
	HeatMapAbove int
}

// Scale is a field's physical unit: value × Factor, in Unit.
type Scale struct {
	Factor float64
	Unit   string
}

func (o Options) withDefaults() Options {
	if o.DPI <= 0 {
		o.DPI = 150
	}
	if o.HeatMapAbove <= 0 {
		o.HeatMapAbove = 10
	}
	return o
}

// x is where step k goes on the x axis.
func (o Options) x(step int) float64 {
	if o.StepDuration > 0 {
		return float64(step) * o.StepDuration.Seconds() * 1000
	}
	return float64(step)
}

func (o Options) xLabel() string {
	if o.StepDuration > 0 {
		return "time (ms)"
	}
	return "step"
}

// y scales a field's value, and labels its axis.
func (o Options) y(field string, v int32) float64 {
	if s, ok := o.Scales[field]; ok && s.Factor != 0 {
		return float64(v) * s.Factor
	}
	return float64(v)
}

func (o Options) yLabel(field string) string {
	if s, ok := o.Scales[field]; ok && s.Unit != "" {
		return fmt.Sprintf("%s (%s)", field, s.Unit)
	}
	return field
}

// ParseSize reads a picture size WIDTHxHEIGHT[UNIT], UNIT in (default), cm or mm: "8x4",
// "20x10cm".
func ParseSize(s string) (w, h vg.Length, err error) {
	unit, body := vg.Inch, strings.ToLower(strings.TrimSpace(s))
	for _, u := range []struct {
		suffix string
		l      vg.Length
	}{{"in", vg.Inch}, {"cm", vg.Centimeter}, {"mm", vg.Millimeter}} {
		if strings.HasSuffix(body, u.suffix) {
			unit, body = u.l, strings.TrimSuffix(body, u.suffix)
			break
		}
	}
	a, b, ok := strings.Cut(body, "x")
	fw, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	fh, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil || !(fw > 0 && fh > 0) || vg.Length(fw)*unit > 100*vg.Inch || vg.Length(fh)*unit > 100*vg.Inch {
		return 0, 0, fmt.Errorf("plot: %w: size %q: want WIDTHxHEIGHT in inches, cm or mm, e.g. 8x4 or 20x10cm (at most 100 inches)", ErrUsage, s)
	}
	return vg.Length(fw) * unit, vg.Length(fh) * unit, nil
}

// ParseScale reads FIELD=FACTOR[:UNIT], e.g. "v=0.015625:mV" (v/64 in millivolts).
func ParseScale(s string) (string, Scale, error) {
	field, rest, ok := strings.Cut(s, "=")
	num, unit, _ := strings.Cut(rest, ":")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || strings.TrimSpace(field) == "" || err != nil || f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", Scale{}, fmt.Errorf("plot: %w: scale %q: want FIELD=FACTOR[:UNIT], e.g. v=0.015625:mV", ErrUsage, s)
	}
	return strings.TrimSpace(field), Scale{Factor: f, Unit: strings.TrimSpace(unit)}, nil
}

// palette: distinct colours that read well on white (Tableau 10).
var colours = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{148, 103, 189, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{23, 190, 207, 255},
	color.RGBA{140, 86, 75, 255}, color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255},
	color.RGBA{188, 189, 34, 255},
}

func colour(i int) color.Color { return colours[i%len(colours)] }

// tick is a glyph: a short vertical bar, the usual mark of a spike raster.
type tick struct{}

func (tick) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.StrokeLine2(draw.LineStyle{Color: sty.Color, Width: vg.Points(1.2)}, pt.X, pt.Y-sty.Radius, pt.X, pt.Y+sty.Radius)
}

// figure is what a picture holds: panels stacked top to bottom, each with what goes in the
// column beside it (a legend or a colour bar), never over the data.
type figure struct {
	panels []*panel
	sides  []side
}

// panel is a plot that remembers what was added to it.
type panel struct {
	*plot.Plot
	items []plot.Plotter
}

func (p *panel) add(ps ...plot.Plotter) {
	p.Plot.Add(ps...)
	p.items = append(p.items, ps...)
}

type side struct {
	legend []entry    // the panel's lines or ports
	bar    *plot.Plot // a colour bar of the panel's values
}

// entry is a line of a legend.
type entry struct {
	name  string
	thumb plot.Thumbnailer
}

func newPanel(title string, o Options) *panel {
	p := &panel{Plot: plot.New()}
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.X.Label.Text = o.xLabel()
	return p
}

func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(10)
	return &l
}

func colourBar(cm palette.ColorMap, label string) *plot.Plot {
	p := plot.New()
	p.HideX()
	p.Y.Label.Text = label
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	return p
}

// rasterFigure: one row per output neuron, ports stacked in order, each in its own colour,
// with a legend of ports and their populations beside; graded payloads as colours, with a
// colour bar.
func rasterFigure(res *run.Result, o Options) (*figure, error) {
	rows := 0
	for _, op := range res.Outputs {
		rows += op.Count
	}
	if rows == 0 {
		return nil, fmt.Errorf("plot: raster: %w: the network has no output ports", ErrNothing)
	}
	p := newPanel(title(res, "output spikes"), o)
	p.Y.Label.Text = "output neuron"
	p.X.Min, p.X.Max = o.x(0)+o.x(1)/2, o.x(res.Steps)+o.x(1)/2
	p.Y.Min, p.Y.Max = -0.5, float64(rows)-0.5
	p.X.Tick.Marker = niceTicks{integer: o.StepDuration == 0}
	height := o.Height
	if height == 0 {
		height = vg.Length(math.Min(8, math.Max(3, 1.5+0.2*float64(rows)))) * vg.Inch
	}
	radius := vg.Length(math.Max(0.6, math.Min(5, 0.35*float64(height-1.3*vg.Inch)/float64(rows))))

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
	for i, op := range res.Outputs {
		base[op.Name] = pos
		if i > 0 {
			sep, _ := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: float64(pos) - 0.5}, {X: p.X.Max, Y: float64(pos) - 0.5}})
			sep.LineStyle.Color = color.Gray{Y: 160}
			sep.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
			p.add(sep)
		}
		for j := 0; j < op.Count; j += every {
			ticks = append(ticks, plot.Tick{Value: float64(pos + j), Label: fmt.Sprintf("%s[%d]", op.Name, j)})
		}
		pos += op.Count
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.add(plotter.NewGrid())

	idx := map[string]int{}
	for i, op := range res.Outputs {
		idx[op.Name] = i
	}
	graded := false
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for _, s := range res.Spikes {
		if s.Payload != 1 {
			graded = true
		}
		lo, hi = min(lo, s.Payload), max(hi, s.Payload)
	}
	fig := &figure{panels: []*panel{p}}
	sd := side{}
	if graded {
		// Payload as colour: one scatter per colour of the map.
		cm := moreland.SmoothBlueRed()
		cm.SetMin(float64(lo))
		cm.SetMax(float64(max(hi, lo+1)))
		pal := cm.Palette(64).Colors()
		pts := make([]plotter.XYs, len(pal))
		for _, s := range res.Spikes {
			i, ok := idx[s.Port]
			if !ok {
				continue
			}
			k := int(float64(len(pal)-1) * (float64(s.Payload) - cm.Min()) / (cm.Max() - cm.Min()))
			pts[k] = append(pts[k], plotter.XY{X: o.x(s.Step), Y: float64(base[res.Outputs[i].Name] + s.Neuron)})
		}
		for k := range pts {
			if len(pts[k]) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(pts[k])
			if err != nil {
				return nil, fmt.Errorf("plot: raster: %w", err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: pal[k], Radius: radius, Shape: tick{}}
			p.add(sc)
		}
		sd.bar = colourBar(cm, "payload")
	}
	pts := make([]plotter.XYs, len(res.Outputs))
	if !graded {
		for _, s := range res.Spikes {
			if i, ok := idx[s.Port]; ok {
				pts[i] = append(pts[i], plotter.XY{X: o.x(s.Step), Y: float64(base[s.Port] + s.Neuron)})
			}
		}
	}
	for i, op := range res.Outputs {
		xy := pts[i]
		if len(xy) == 0 {
			xy = plotter.XYs{{X: 0, Y: 0}} // a port without spikes still gets its legend entry
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, fmt.Errorf("plot: raster: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colour(i), Radius: radius, Shape: tick{}}
		if len(pts[i]) > 0 {
			p.add(sc)
		}
		if !graded {
			sd.legend = append(sd.legend, entry{fmt.Sprintf("%s (%s[%d:%d])", op.Name, op.Population, op.Start, op.Start+op.Count), sc})
		}
	}
	fig.sides = []side{sd}
	return fig, nil
}

// heatGrid is a probe as a grid: columns are steps, rows neurons.
type heatGrid struct {
	t     *run.Trace
	o     Options
	steps int
}

func (g heatGrid) Dims() (int, int)   { return len(g.t.Values), len(g.t.Neurons) }
func (g heatGrid) Z(c, r int) float64 { return g.o.y(g.t.Field, g.t.Values[c][r]) }
func (g heatGrid) X(c int) float64    { return g.o.x(c + 1) }
func (g heatGrid) Y(r int) float64    { return float64(r) }

// traceFigure: one panel per probe, stacked; its neurons as lines drawn as steps (a value
// holds until the next step: a reset is a drop, not a slope), named in a legend beside, or,
// for many neurons, a heat map with a colour bar beside.
func traceFigure(res *run.Result, o Options) (*figure, error) {
	if len(res.Probes) == 0 {
		return nil, fmt.Errorf("plot: traces: %w: no probes (ask for some with --probe POP:FIELD)", ErrNothing)
	}
	fig := &figure{}
	for ti := range res.Probes {
		t := &res.Probes[ti]
		name := t.Name()
		if ti == 0 {
			name = title(res, name)
		}
		p := newPanel(name, o)
		p.Y.Label.Text = o.yLabel(t.Field)
		p.X.Min, p.X.Max = o.x(1), o.x(max(res.Steps, 2))
		p.X.Tick.Marker = niceTicks{integer: o.StepDuration == 0}
		sd := side{}
		if len(t.Neurons) > o.HeatMapAbove && len(t.Values) > 0 {
			cm := moreland.ExtendedBlackBody()
			g := heatGrid{t: t, o: o, steps: res.Steps}
			lo, hi := math.Inf(1), math.Inf(-1)
			c, r := g.Dims()
			for i := range c {
				for j := range r {
					lo, hi = math.Min(lo, g.Z(i, j)), math.Max(hi, g.Z(i, j))
				}
			}
			if hi <= lo {
				hi = lo + 1
			}
			h := plotter.NewHeatMap(g, cm.Palette(128))
			h.Min, h.Max = lo, hi
			p.add(h)
			p.Y.Label.Text = t.Population + " neuron"
			p.Y.Min, p.Y.Max = -0.5, float64(len(t.Neurons))-0.5
			p.Y.Tick.Marker = neuronTicks(t.Neurons)
			cm.SetMin(lo)
			cm.SetMax(hi)
			sd.bar = colourBar(cm, o.yLabel(t.Field))
		} else {
			p.add(plotter.NewGrid())
			for j, n := range t.Neurons {
				xy := make(plotter.XYs, len(t.Values))
				for i, row := range t.Values {
					xy[i] = plotter.XY{X: o.x(i + 1), Y: o.y(t.Field, row[j])}
				}
				l, err := plotter.NewLine(xy)
				if err != nil {
					return nil, fmt.Errorf("plot: traces: %w", err)
				}
				l.StepStyle = plotter.PostStep
				l.LineStyle.Color = colour(j)
				l.LineStyle.Width = vg.Points(1.4)
				p.add(l)
				sd.legend = append(sd.legend, entry{fmt.Sprintf("%s[%d]", t.Population, n), l})
			}
		}
		fig.panels = append(fig.panels, p)
		fig.sides = append(fig.sides, sd)
	}
	return fig, nil
}

// neuronTicks labels about ten rows of a heat map with their neurons.
func neuronTicks(neurons []int) plot.ConstantTicks {
	every := max(1, len(neurons)/10)
	var ticks []plot.Tick
	for i := 0; i < len(neurons); i += every {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: strconv.Itoa(neurons[i])})
	}
	return ticks
}

// draw lays the figure out: panels stacked in a column, each with its side column.
func (f *figure) write(w io.Writer, format string, o Options, defaultHeight vg.Length) error {
	width, height := o.Width, o.Height
	if width == 0 {
		width = 8 * vg.Inch
	}
	if height == 0 {
		height = defaultHeight
	}
	c, err := newCanvas(width, height, format, o.DPI)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	sideW := 1.8 * vg.Inch
	for _, s := range f.sides {
		for _, e := range s.legend {
			sideW = max(sideW, newLegend().TextStyle.Width(e.name)+0.6*vg.Inch)
		}
	}
	sideW = min(sideW, width/3)
	n := len(f.panels)
	panelH := (dc.Max.Y - dc.Min.Y) / vg.Length(n)
	for i, p := range f.panels {
		top := dc.Max.Y - vg.Length(i)*panelH
		row := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: dc.Min.X, Y: top - panelH}, Max: vg.Point{X: dc.Max.X, Y: top}}}
		left := draw.Crop(row, 0, -sideW, 0, 0)
		right := draw.Crop(row, left.Max.X-row.Min.X+0.1*vg.Inch, 0, 0.5*vg.Inch, -0.3*vg.Inch)
		p.Draw(left)
		s := f.sides[i]
		if len(s.legend) > 0 {
			l := newLegend()
			for _, e := range s.legend {
				l.Add(e.name, e.thumb)
			}
			l.Draw(right)
		}
		if s.bar != nil {
			s.bar.Draw(draw.Crop(right, 0, -(right.Max.X-right.Min.X)+0.9*vg.Inch, 0, 0))
		}
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// newCanvas makes a canvas of a format, at dpi for the pixel formats.
func newCanvas(w, h vg.Length, format string, dpi int) (vg.CanvasWriterTo, error) {
	img := func() *vgimg.Canvas { return vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi)) }
	switch format {
	case "png":
		return vgimg.PngCanvas{Canvas: img()}, nil
	case "jpg", "jpeg":
		return vgimg.JpegCanvas{Canvas: img()}, nil
	case "tif", "tiff":
		return vgimg.TiffCanvas{Canvas: img()}, nil
	}
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	return c, nil
}

// Raster draws the output spikes: one row per output neuron (ports stacked in order, each in
// its own colour, named with their populations in a legend beside the data), one mark per
// spike; graded payloads are drawn as colours, with a colour bar.
func Raster(res *run.Result, w io.Writer, format string, o Options) error {
	o = o.withDefaults()
	f, err := rasterFigure(res, o)
	if err != nil {
		return err
	}
	rows := 0
	for _, op := range res.Outputs {
		rows += op.Count
	}
	return f.write(w, format, o, vg.Length(math.Min(8, math.Max(3, 1.5+0.2*float64(rows))))*vg.Inch)
}

// Traces draws each probe in its own panel, stacked: its neurons as step lines with a legend
// beside, or as a heat map when there are more than Options.HeatMapAbove of them.
func Traces(res *run.Result, w io.Writer, format string, o Options) error {
	o = o.withDefaults()
	f, err := traceFigure(res, o)
	if err != nil {
		return err
	}
	return f.write(w, format, o, vg.Length(math.Min(24, 3*float64(len(f.panels))))*vg.Inch)
}

func title(res *run.Result, what string) string {
	if res.Network != "" {
		return fmt.Sprintf("%s: %s", res.Network, what)
	}
	return what
}

// niceTicks puts about ten ticks at round values (whole numbers for steps), every one labelled.
type niceTicks struct{ integer bool }

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if span <= 0 {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	raw := span / 10
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if span/step <= 12 {
			break
		}
	}
	if t.integer {
		step = math.Max(1, math.Round(step))
	}
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return out
}

// SaveRaster draws the raster into a file; the extension picks the format.
func SaveRaster(res *run.Result, path string, o Options) error {
	return saveFile(path, func(w io.Writer, f string) error { return Raster(res, w, f, o) })
}

// SaveTraces draws the traces into a file; the extension picks the format.
func SaveTraces(res *run.Result, path string, o Options) error {
	return saveFile(path, func(w io.Writer, f string) error { return Traces(res, w, f, o) })
}

func saveFile(path string, draw func(io.Writer, string) error) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := draw(f, format); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
