package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/driver/health"
)

// boardCollector reads every board at each scrape: it opens the board, samples its health
// through the drivers, and closes it (a board serves one host; between scrapes others may
// use it). A board that cannot be read (busy, gone) reports lrchip_up 0.
type boardCollector struct {
	uris    func(ctx context.Context) []string
	timeout time.Duration

	up, power, volts, amps, temp, throttled, throttles, steps, spikes, fill, total *prometheus.Desc
}

func newBoardCollector(uris func(ctx context.Context) []string, timeout time.Duration) *boardCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("lrchip_"+name, help, append([]string{"device"}, labels...), nil)
	}
	return &boardCollector{uris: uris, timeout: timeout,
		up:        d("up", "1 if the board answered this scrape"),
		power:     d("power_watts", "power of a rail, from its INA226", "rail"),
		volts:     d("voltage_volts", "bus voltage of a rail", "rail"),
		amps:      d("current_amperes", "current of a rail", "rail"),
		total:     d("board_power_watts", "power of every rail together"),
		temp:      d("temperature_celsius", "die temperature, from the TMP117"),
		throttled: d("throttled", "1 while the board throttles its clock"),
		throttles: d("throttle_events_total", "times throttling started since boot"),
		steps:     d("timesteps_total", "timesteps run since boot"),
		spikes:    d("spikes_total", "spikes since boot", "direction"),
		fill:      d("ring_fill_ratio", "how full a ring is, 0 to 1", "ring"),
	}
}

func (c *boardCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.power, c.volts, c.amps, c.total, c.temp, c.throttled, c.throttles, c.steps, c.spikes, c.fill} {
		ch <- d
	}
}

func (c *boardCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, uri := range c.uris(ctx) {
		s, err := sampleBoard(ctx, uri, c.timeout)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, uri)
			continue
		}
		g := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{uri}, labels...)...)
		}
		k := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{uri}, labels...)...)
		}
		g(c.up, 1)
		for _, r := range s.Rails {
			g(c.power, r.Power.Watts(), r.Rail)
			g(c.volts, r.Voltage.Volts(), r.Rail)
			g(c.amps, r.Current.Amperes(), r.Rail)
		}
		g(c.total, s.Total.Watts())
		g(c.temp, s.Temperature.Celsius())
		thr := 0.0
		if s.Throttled {
			thr = 1
		}
		g(c.throttled, thr)
		k(c.throttles, float64(s.Stats.ThrottleEvents))
		k(c.steps, float64(s.Stats.Timesteps))
		k(c.spikes, float64(s.Stats.SpikesOut), "out")
		k(c.spikes, float64(s.Stats.SpikesIn), "in")
		for _, f := range s.Stats.Rings {
			g(c.fill, f.Ratio(), f.Ring)
		}
	}
}

func sampleBoard(ctx context.Context, uri string, timeout time.Duration) (health.Sample, error) {
	d, err := driver.Open(ctx, uri, driver.Opts{Timeout: timeout})
	if err != nil {
		return health.Sample{}, err
	}
	defer d.Close()
	return health.Read(ctx, d)
}

func newExporterCmd() *cobra.Command {
	var listen string
	var uris []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "exporter --listen ADDR [--device URI]...",
		Short: "Serve Prometheus metrics of every board found (power per rail, temperature, throttling, timesteps)",
		Long: `Serves /metrics on ADDR (host:port). Each scrape opens every board (--device, else every board
found, else the in-process emulator), reads its sensors through the drivers and its counters,
and closes it: lrchip_power_watts{device,rail}, lrchip_voltage_volts, lrchip_current_amperes,
lrchip_board_power_watts, lrchip_temperature_celsius, lrchip_throttled,
lrchip_throttle_events_total, lrchip_timesteps_total, lrchip_spikes_total{direction},
lrchip_ring_fill_ratio{ring}, and lrchip_up (0 for a board that could not be read, such as
one held by another process).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving metrics on http://%s/metrics\n", ln.Addr())
			return serveMetrics(ctxOf(cmd), ln, exporterURIs(uris), timeout)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9477", "address to serve on")
	cmd.Flags().StringArrayVar(&uris, "device", nil, "device URI (repeatable; default: every board found, else emu:)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "bound on one scrape of one board")
	return cmd
}

func exporterURIs(fixed []string) func(ctx context.Context) []string {
	return func(ctx context.Context) []string {
		if len(fixed) > 0 {
			return fixed
		}
		found, _ := driver.Boards(ctx, driver.ListOpts{})
		var out []string
		for _, f := range found {
			out = append(out, f.URI)
		}
		if len(out) == 0 {
			out = []string{"emu:"}
		}
		return out
	}
}

// serveMetrics serves /metrics on ln until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, uris func(context.Context) []string, timeout time.Duration) error {
	reg := prometheus.NewRegistry()
	if err := reg.Register(newBoardCollector(uris, timeout)); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
