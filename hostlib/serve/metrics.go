package serve

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lrchip/lrchip/hostlib"
)

// collector exports every model's counters and its replicas' state, read from
// hostlib.Model.Stats at each scrape.
type collector struct{ host *hostlib.Host }

var (
	descRequests = prometheus.NewDesc("lrchip_requests_total", "hostlib requests (samples) by model and outcome.", []string{"model", "outcome"}, nil)
	descRetried  = prometheus.NewDesc("lrchip_requests_retried_total", "Requests moved to another replica after theirs failed.", []string{"model"}, nil)
	descWindows  = prometheus.NewDesc("lrchip_windows_total", "Windows run and read out.", []string{"model"}, nil)
	descQueued   = prometheus.NewDesc("lrchip_queue_length", "Requests waiting for a replica.", []string{"model"}, nil)
	descLatency  = prometheus.NewDesc("lrchip_request_latency_seconds", "Latency of hostlib requests from submission to result (quantiles over the model's life).", []string{"model"}, nil)
	descUp       = prometheus.NewDesc("lrchip_device_up", "1 while a model's replica (device) works, 0 once it was taken out.", []string{"model", "device"}, nil)
	descDevWin   = prometheus.NewDesc("lrchip_device_windows_total", "Windows a replica (device) ran.", []string{"model", "device"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descRetried, descWindows, descQueued, descLatency, descUp, descDevWin} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.host.Models() {
		name, st := m.Info().Name, m.Stats()
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(st.Completed), name, "completed")
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(st.Failed), name, "failed")
		ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(st.Retried), name)
		ch <- prometheus.MustNewConstMetric(descWindows, prometheus.CounterValue, float64(st.Windows), name)
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(st.Queued), name)
		ch <- prometheus.MustNewConstSummary(descLatency, uint64(st.Latency.Count), st.Latency.Mean.Seconds()*float64(st.Latency.Count),
			map[float64]float64{0.5: st.Latency.P50.Seconds(), 0.9: st.Latency.P90.Seconds(), 0.99: st.Latency.P99.Seconds()}, name)
		for i, r := range st.Replicas {
			dev := r.URI
			if len(st.Replicas) > 1 {
				dev = replicaLabel(i, r.URI)
			}
			up := 0.0
			if r.Up {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, name, dev)
			ch <- prometheus.MustNewConstMetric(descDevWin, prometheus.CounterValue, float64(r.Windows), name, dev)
		}
	}
}

// replicaLabel tells replicas of one URI apart (emu: twice).
func replicaLabel(i int, uri string) string {
	return uri + "#" + itoa(i)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
