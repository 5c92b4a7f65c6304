package driver

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkLoadVFIOUser moves a 16 MiB network image to a board's PCIe function served over
// vfio-user by an emulator process: "transfer" through the bulk window (host memory the
// board maps from the DMA_MAP of the host's memory file), "load" decoded and loaded too.
// Each iteration also times a memcpy of the same bytes outside the timer (the baseline of
// the same run): x-memcpy is the transfer's rate over the median memcpy rate. The target is
// at least 0.25.
func BenchmarkLoadVFIOUser(b *testing.B) {
	img := chainImage(b, 8)
	s := startVFIOServer(b)
	d := openBench(b, s.uri)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"transfer", func() error { return d.Transfer(ctx, img) }},
		{"load", func() error { _, err := d.LoadBytes(ctx, img); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dst := make([]byte, len(img))
			var rates []float64
			var copying time.Duration
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				b.StopTimer()
				t := time.Now()
				copy(dst, img)
				c := time.Since(t)
				copying += c
				b.StartTimer()
				t = time.Now()
				if err := tc.do(); err != nil {
					b.Fatal(err)
				}
				rates = append(rates, c.Seconds()/time.Since(t).Seconds())
			}
			b.ReportMetric(float64(len(img))*float64(len(rates))/copying.Seconds()/1e6, "memcpy-MB/s")
			b.ReportMetric(median(rates), "x-memcpy")
		})
	}
}

// BenchmarkRunOneStepVFIOUser is the round trip of Run(ctx, 1) on an empty network over
// vfio-user (an emulator process serving the PCIe function), alternated with the same over
// emu:unix: in the same run for a baseline. Target: a median of at most 20 µs.
func BenchmarkRunOneStepVFIOUser(b *testing.B) {
	vs, us := startVFIOServer(b), startServer(b)
	v, u := openBench(b, vs.uri), openBench(b, us.uri)
	ctx := context.Background()
	for i := 0; i < 200; i++ { // warm up
		runSteps(v, ctx, 1)
		runSteps(u, ctx, 1)
	}
	var lv, lu []time.Duration
	for b.Loop() {
		for _, p := range []struct {
			d   *Device
			lat *[]time.Duration
		}{{v, &lv}, {u, &lu}} {
			t := time.Now()
			if _, err := runSteps(p.d, ctx, 1); err != nil {
				b.Fatal(err)
			}
			*p.lat = append(*p.lat, time.Since(t))
		}
	}
	for _, l := range [][]time.Duration{lv, lu} {
		slices.Sort(l)
	}
	b.ReportMetric(float64(lv[len(lv)/2].Nanoseconds())/1e3, "µs-median")
	b.ReportMetric(float64(lv[len(lv)*99/100].Nanoseconds())/1e3, "µs-p99")
	b.ReportMetric(float64(lu[len(lu)/2].Nanoseconds())/1e3, "µs-median-emu-unix")
}
