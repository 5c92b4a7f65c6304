package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lrchip/lrchip/chip"
	"github.com/lrchip/lrchip/device"
	"github.com/lrchip/lrchip/hostlib"
	"github.com/lrchip/lrchip/hostlib/serve"
	"github.com/lrchip/lrchip/network"
	"github.com/lrchip/lrchip/runtime/gpu"
	"github.com/lrchip/lrchip/runtime/pipeline"
	"github.com/lrchip/lrchip/runtime/sched"
)

// The benchmarks of the front ends: single-window inferences of lrctl pipeline's patterns on
// one in-process emulator (the example model, 100 steps a window), from 16 concurrent
// callers, through the Go API and over HTTP (JSON). Each reports inferences/s, the p50 and
// p99 latency a caller sees, and x-pipeline: the throughput as a fraction of `lrctl
// pipeline`'s windows/s on the same model and device, measured in the same run (the median
// of three runs before and after). scripts/bench-hostlib.sh adds the C ABI.
//
//	go test -run '^$' -bench . -benchtime 2000x ./hostlib/serve

const benchCallers = 16

// pipelineRate is lrctl pipeline's throughput (windows/s) on the example: one run of 500
// windows.
func pipelineRate(b *testing.B) float64 {
	n, err := network.Load(example)
	if err != nil {
		b.Fatal(err)
	}
	img, err := network.Map(n, chip.Prototype)
	if err != nil {
		b.Fatal(err)
	}
	layer, err := gpu.ReadLayerFile("../../examples/pipeline/readout.json")
	if err != nil {
		b.Fatal(err)
	}
	dev, err := device.Open(context.Background(), "emu:", device.Opts{})
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	rep, err := pipeline.Evaluate(context.Background(), dev, img, layer, sched.Patterns{High: 0.5, Low: 0.05, Seed: 1}, 500, pipeline.Opts{GPU: gpu.CPU})
	if err != nil {
		b.Fatal(err)
	}
	return rep.WindowsPerS
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// measure runs b.N inferences from benchCallers goroutines through one and reports.
func measure(b *testing.B, one func(k int) error) {
	var base []float64
	for range 3 {
		base = append(base, pipelineRate(b))
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	next := make(chan int, b.N)
	for k := range b.N {
		next <- k
	}
	close(next)
	b.ResetTimer()
	t0 := time.Now()
	for range benchCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				s := time.Now()
				if err := one(k); err != nil {
					b.Error(err)
					return
				}
				lat[k] = time.Since(s)
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	b.StopTimer()
	for range 3 {
		base = append(base, pipelineRate(b))
	}
	rate := float64(b.N) / el.Seconds()
	slices.Sort(lat)
	b.ReportMetric(rate, "inf/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(rate/median(base), "x-pipeline")
	b.ReportMetric(0, "ns/op")
}

// classRates is the rates of the pattern of class c.
func classRates(c int) []float64 {
	r := make([]float64, 20)
	for i := range r {
		r[i] = 0.05
		if i%5 == c {
			r[i] = 0.5
		}
	}
	return r
}

func benchModel(b *testing.B) (*hostlib.Host, *hostlib.Model) {
	h, err := hostlib.Open(context.Background(), hostlib.Opts{Devices: []string{"emu:"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	m, err := h.Load(context.Background(), hostlib.Spec{Name: "m", Path: example, GPU: gpu.CPU})
	if err != nil {
		b.Fatal(err)
	}
	return h, m
}

func BenchmarkGoAPI(b *testing.B) {
	_, m := benchModel(b)
	measure(b, func(k int) error {
		_, err := m.Infer(context.Background(), hostlib.Input{Rates: classRates(k % 5)})
		return err
	})
}

func BenchmarkHTTP(b *testing.B) {
	h, _ := benchModel(b)
	srv := httptest.NewServer(serve.New(h, serve.Opts{}))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchCallers}}
	bodies := make([][]byte, 5)
	for c := range bodies {
		bodies[c], _ = json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "rates", "shape": []int{1, 20}, "datatype": "FP64", "data": classRates(c)}},
			"outputs": []any{map[string]any{"name": "class"}}})
	}
	measure(b, func(k int) error {
		resp, err := client.Post(srv.URL+"/v2/models/m/infer", "application/json", bytes.NewReader(bodies[k%5]))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	})
}
