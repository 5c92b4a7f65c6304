//go:build gousb

package driver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
)

// BenchmarkUSB moves an image and spikes over the emulated USB board through the real
// libusb and umockdev, and measures in the same run the mock's own round trip: a loop of
// empty bulk OUT transfers on the same device. The mock (every URB a few messages over a Unix
// socket, client memory copied through it) bounds what the code can reach, so the figures
// are ratios over that round trip, alternated with it and taken as medians:
//
//   - raw-µs: one empty transfer, submitted and reaped;
//   - load: MB/s of LoadBytes (LOAD_DATA through CMD, CRC checked, image decoded), and
//     x-raw-per-64KiB, the time per 64 KiB of image in raw round trips;
//   - spikes: a round of 256 spikes injected, one step run, its output read: µs-per-round
//     and x-raw;
//   - the transfers: most bulk OUT and IN URBs queued at once on the board's side, and the
//     bytes per bulk OUT transfer.
func BenchmarkUSB(b *testing.B) {
	img := chainImage(b, 2) // about 4 MiB
	ub := plugUSB(b, board.Opts{}, usbdev.Opts{})
	ctx := context.Background()
	l, err := dialUSB(ctx, mustParseURI(b, ub.uri), Opts{}.withDefaults())
	require.NoError(b, err)
	link := l.(*usbLink)
	d, err := OpenLink(ctx, ub.uri, l, Opts{})
	require.NoError(b, err)
	b.Cleanup(func() { d.Close() })
	out := link.dev.(*gousbDevice).out

	raw := func(n int) time.Duration {
		t := time.Now()
		for i := 0; i < n; i++ {
			_, err := out.WriteContext(ctx, nil)
			require.NoError(b, err)
		}
		return time.Since(t) / time.Duration(n)
	}
	spikes := make([]chip.Spike, 256)
	for i := range spikes {
		spikes[i] = chip.Spike{Neuron: i * 4, Payload: 1}
	}
	_, err = d.LoadBytes(ctx, img)
	require.NoError(b, err)
	round := func(n int) time.Duration {
		t := time.Now()
		for i := 0; i < n; i++ {
			require.NoError(b, d.Inject(ctx, spikes))
			_, err := runSteps(d, ctx, 1)
			require.NoError(b, err)
			_, err = read(d, ctx)
			require.NoError(b, err)
		}
		return time.Since(t) / time.Duration(n)
	}
	raw(20) // warm up
	round(5)
	var raws, loadRatio, loadMBs, roundUs, roundRatio []float64
	for b.Loop() {
		r := raw(50)
		t := time.Now()
		_, err := d.LoadBytes(ctx, img)
		require.NoError(b, err)
		lt := time.Since(t)
		rt := round(20)
		raws = append(raws, float64(r.Nanoseconds())/1e3)
		loadMBs = append(loadMBs, float64(len(img))/lt.Seconds()/1e6)
		loadRatio = append(loadRatio, float64(lt)/(float64(len(img))/65536)/float64(r))
		roundUs = append(roundUs, float64(rt.Nanoseconds())/1e3)
		roundRatio = append(roundRatio, float64(rt)/float64(r))
	}
	s := ub.f.Stats()
	b.ReportMetric(median(raws), "raw-µs")
	b.ReportMetric(median(loadMBs), "load-MB/s")
	b.ReportMetric(median(loadRatio), "load-x-raw-per-64KiB")
	b.ReportMetric(median(roundUs), "spikes-µs-per-round")
	b.ReportMetric(median(roundRatio), "spikes-x-raw")
	b.ReportMetric(float64(s.MaxOutFlight), "out-in-flight")
	b.ReportMetric(float64(s.MaxInFlight), "in-in-flight")
	n := link.stats.OutTransfers.Load() + link.stats.StreamTransfers.Load()
	b.ReportMetric(float64(link.stats.OutBytes.Load())/float64(max(n, 1)), "B/out-transfer")
	b.ReportMetric(float64(link.stats.InBytes.Load())/float64(max(link.stats.InTransfers.Load(), 1)), "B/in-transfer")
}

func mustParseURI(b testing.TB, s string) URI {
	u, err := ParseURI(s)
	require.NoError(b, err)
	return u
}
