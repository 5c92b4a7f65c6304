package driver

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/firmware/image"
	"github.com/lrchip/lrchip/firmware/programs"
	"github.com/lrchip/lrchip/firmware/syn"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/network/run"
	"github.com/stretchr/testify/require"
)

// chainImage is a network image of cores cores of 1024 LIF neurons in a chain of dense
// 1024×1024 connections: about 2 MiB a core (8 cores: 16 MiB).
func chainImage(b testing.TB, cores int) []byte {
	prog, err := programs.Get("lif")
	require.NoError(b, err)
	const n = 1024
	img := &image.Image{Name: "chain", Size: chip.Size{Cores: cores, NeuronsPerCore: n}, Inputs: []image.Input{{Name: "in", Size: n}}}
	w := make([]int32, n*n)
	for i := range w {
		w[i] = syn.Effective(int32(i*7919%512-256), syn.Mixed, 8)
	}
	pop := image.Population{Name: "all", Size: cores * n}
	for c := 0; c < cores; c++ {
		img.Cores = append(img.Cores, image.Core{Index: c, Program: prog, Neurons: n, Consts: []int32{400, 300, 60}})
		k := image.Conn{Kind: image.FromCore, Src: c - 1, SrcCount: n, Dst: c, DstCount: n, Weights: w, SignMode: syn.Mixed, WeightBits: 8}
		if c == 0 {
			k.Kind, k.Src = image.FromInput, 0
		}
		img.Conns = append(img.Conns, k)
		pop.Segments = append(pop.Segments, image.Segment{Core: c, Count: n})
	}
	img.Pops = []image.Population{pop}
	img.Outputs = []image.Output{{Name: "out", Pop: 0, Count: cores * n}}
	data, err := img.MarshalBinary()
	require.NoError(b, err)
	return data
}

// median is the median of v (v is left as it is).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func openBench(b *testing.B, uri string) *Device {
	var opts Opts
	if v := os.Getenv("LRCHIP_TEST_RINGCAP"); v != "" {
		opts.RingCapacity, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("LRCHIP_TEST_CHUNK"); v != "" {
		loadChunk, _ = strconv.Atoi(v)
	}
	d, err := Open(context.Background(), uri, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

// BenchmarkLoad moves a 16 MiB network image to an emulator process through emu:unix:
// ("transfer": through the bulk DMA window, the board checking size and CRC only;
// "transfer-ring": the same in LOAD_DATA pieces through the command ring; "load": through
// the bulk window, decoded and loaded too; "transfer-in-process": emu:). Every iteration also times a memcpy of the same bytes in this process, outside the
// benchmark's timer, so that the baseline sees the same machine: memcpy-MB/s is its rate and
// x-memcpy the transfer's rate over it. ("memcpy" alone is the baseline as a benchmark.)
func BenchmarkLoad(b *testing.B) {
	img := chainImage(b, 8)
	b.Run("memcpy", func(b *testing.B) {
		dst := make([]byte, len(img))
		b.SetBytes(int64(len(img)))
		for b.Loop() {
			copy(dst, img)
		}
	})
	s := startServer(b)
	d := openBench(b, s.uri)
	local := openBench(b, "emu:")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"transfer", func() error { return d.Transfer(ctx, img) }},
		{"load", func() error { _, err := d.LoadBytes(ctx, img); return err }},
		{"transfer-ring", func() error { d.noBulk = true; defer func() { d.noBulk = false }(); return d.Transfer(ctx, img) }},
		{"transfer-in-process", func() error { return local.Transfer(ctx, img) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dst := make([]byte, len(img))
			var copying time.Duration
			b.SetBytes(int64(len(img)))
			for b.Loop() {
				b.StopTimer()
				t := time.Now()
				copy(dst, img)
				copying += time.Since(t)
				b.StartTimer()
				if err := tc.do(); err != nil {
					b.Fatal(err)
				}
			}
			memcpy := float64(len(img)) * float64(b.N) / copying.Seconds()
			rate := float64(len(img)) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(memcpy/1e6, "memcpy-MB/s")
			b.ReportMetric(rate/memcpy, "x-memcpy")
		})
	}
}

// BenchmarkRunOneStep is the round trip of Run(ctx, 1) on an empty network through
// emu:unix: (and, for comparison, emu:). It reports the median and the 99th percentile.
func BenchmarkRunOneStep(b *testing.B) {
	s := startServer(b)
	for _, uri := range []string{s.uri, "emu:"} {
		name := "emu-unix"
		if uri == "emu:" {
			name = "emu"
		}
		b.Run(name, func(b *testing.B) {
			d := openBench(b, uri)
			ctx := context.Background()
			for i := 0; i < 100; i++ { // warm up
				runSteps(d, ctx, 1)
			}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				if _, err := runSteps(d, ctx, 1); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "µs-median")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "µs-p99")
		})
	}
}

// BenchmarkRunHello is `lrctl run examples/hello.yaml --steps 100000 --input
// examples/hello_spikes.csv` through network/run on the in-process emulator (emu:, the chip
// model) and on an emulator process (emu:unix:), alternated in one run: x-inprocess is the
// median ratio of their times (the target is at most 3: a run of N steps is a few round
// trips, not N).
func BenchmarkRunHello(b *testing.B) {
	nw, err := network.Load("../examples/hello.yaml")
	require.NoError(b, err)
	img, err := network.Map(nw, chip.Prototype)
	require.NoError(b, err)
	f, err := os.Open("../examples/hello_spikes.csv")
	require.NoError(b, err)
	in, err := run.ReadSpikes(f, run.CSV)
	f.Close()
	require.NoError(b, err)
	opts := run.Options{Steps: 100000, Inputs: in}
	s := startServer(b)
	ctx := context.Background()
	remote := openBench(b, s.uri)
	local, err := device.Open(ctx, "emu:", device.Opts{})
	require.NoError(b, err)
	defer local.Close()
	once := func(d device.Device) time.Duration {
		t := time.Now()
		res, err := run.Run(ctx, d, img, opts)
		require.NoError(b, err)
		require.NotEmpty(b, res.Spikes)
		return time.Since(t)
	}
	var ratios []float64
	var lt, rt time.Duration
	for b.Loop() {
		l, r := once(local), once(remote)
		lt, rt = lt+l, rt+r
		ratios = append(ratios, float64(r)/float64(l))
	}
	b.ReportMetric(median(ratios), "x-inprocess")
	b.ReportMetric(float64(lt.Milliseconds())/float64(len(ratios)), "ms-emu")
	b.ReportMetric(float64(rt.Milliseconds())/float64(len(ratios)), "ms-emu-unix")
}
