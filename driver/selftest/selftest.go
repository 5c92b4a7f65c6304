package selftest

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/internal/conformance"
)

// DefaultVector is the conformance vector run when Opts.Vector is empty: Lava's s108_lif
// (from shared/vectors/lava).
//
//go:embed vectors/s108_lif.json
var DefaultVector []byte

// Defaults of Opts.
const (
	DefaultBandwidthBytes = 64 << 20
	DefaultRoundTrips     = 2000
)

// Opts configures Run. The zero value gives the documented defaults.
type Opts struct {
	Vector         string // conformance vector file; default DefaultVector
	BandwidthBytes int    // bytes moved by each bandwidth check, default DefaultBandwidthBytes
	RoundTrips     int    // NOP round trips timed, default DefaultRoundTrips
}

// Check is the outcome of one check.
type Check struct {
	Name     string        `json:"name"`
	Passed   bool          `json:"passed"`
	Detail   string        `json:"detail"`          // what was checked, or what failed and where
	Value    float64       `json:"value,omitempty"` // the check's figure, if it has one
	Unit     string        `json:"unit,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Report is the outcome of Run.
type Report struct {
	Device string  `json:"device"`
	Passed bool    `json:"passed"`
	Checks []Check `json:"checks"`
}

// Run checks d. It resets the device first and last, so whatever was loaded is gone. A check
// that fails does not stop the others, except that a device that is gone or broke the
// protocol ends the run.
func Run(ctx context.Context, d *driver.Device, opts Opts) Report {
	if opts.BandwidthBytes <= 0 {
		opts.BandwidthBytes = DefaultBandwidthBytes
	}
	if opts.RoundTrips <= 0 {
		opts.RoundTrips = DefaultRoundTrips
	}
	r := Report{Device: d.String(), Passed: true}
	checks := []struct {
		name string
		fn   func(context.Context, *driver.Device, Opts) (Check, error)
	}{
		{"registers", registers},
		{"round trip", roundTrip},
		{"reset", func(ctx context.Context, d *driver.Device, _ Opts) (Check, error) {
			return Check{Detail: "soft reset completed"}, d.Reset(ctx)
		}},
		{"core memory", memory},
		{"conformance", vector},
		{"sensors", sensors},
		{"bandwidth host→board", bandwidthIn},
		{"bandwidth board→host", bandwidthOut},
	}
	for _, c := range checks {
		start := time.Now()
		res, err := c.fn(ctx, d, opts)
		res.Name, res.Duration, res.Passed = c.name, time.Since(start), err == nil
		if err != nil {
			res.Detail = err.Error()
			r.Passed = false
		}
		r.Checks = append(r.Checks, res)
		if err != nil && (ctx.Err() != nil || isFatal(err)) {
			break
		}
	}
	d.Reset(ctx)
	return r
}

func isFatal(err error) bool {
	for _, e := range []error{driver.ErrGone, driver.ErrProtocol, driver.ErrClosed} {
		if errorsIs(err, e) {
			return true
		}
	}
	return false
}

func registers(ctx context.Context, d *driver.Device, _ Opts) (Check, error) {
	for _, v := range []uint32{0, 0xffffffff, 0xa5a5a5a5, 0x5a5a5a5a, 1, 1 << 31} {
		if err := d.WriteRegister(regmap.RegScratch, v); err != nil {
			return Check{}, err
		}
		got, err := d.ReadRegister(regmap.RegScratch)
		if err != nil {
			return Check{}, err
		}
		if got != v {
			return Check{}, fmt.Errorf("SCRATCH reads %#08x after writing %#08x", got, v)
		}
	}
	m, err := d.ReadRegister(regmap.RegMagic)
	if err != nil {
		return Check{}, err
	}
	if m != regmap.Magic {
		return Check{}, fmt.Errorf("MAGIC reads %#08x", m)
	}
	st, err := d.Status()
	if err != nil {
		return Check{}, err
	}
	if !st.Ready {
		return Check{}, fmt.Errorf("STATUS.READY is clear")
	}
	return Check{Detail: "SCRATCH write/read-back of 6 patterns, MAGIC, STATUS.READY"}, nil
}

func roundTrip(ctx context.Context, d *driver.Device, o Opts) (Check, error) {
	lat := make([]time.Duration, 0, o.RoundTrips)
	payload := make([]byte, 256)
	for i := 0; i < o.RoundTrips; i++ {
		n := i % len(payload)
		for j := range payload[:n] {
			payload[j] = byte(i + j)
		}
		start := time.Now()
		if err := d.Echo(ctx, payload[:n]); err != nil {
			return Check{}, fmt.Errorf("round trip %d: %w", i, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	med := lat[len(lat)/2]
	return Check{Detail: fmt.Sprintf("%d NOP echoes of 0–255 bytes; median %v, p99 %v", len(lat), med, lat[len(lat)*99/100]),
		Value: float64(med.Nanoseconds()) / 1e3, Unit: "µs median"}, nil
}

func memory(ctx context.Context, d *driver.Device, _ Opts) (Check, error) {
	info := d.Info()
	n := info.CoreMemory
	if !info.Features.Has(regmap.FeatureMemTest) || n == 0 {
		return Check{Detail: "the device has no core memory test (skipped)"}, nil
	}
	for core := 0; core < info.Cores; core++ {
		for k, seed := range []byte{0x00, 0xff, 0x5a} {
			pat := make([]byte, n)
			for i := range pat {
				pat[i] = seed ^ byte(i*31+core*7+k)
			}
			if err := d.WriteMemory(ctx, core, 0, pat); err != nil {
				return Check{}, err
			}
			got, err := d.ReadMemory(ctx, core, 0, n)
			if err != nil {
				return Check{}, err
			}
			if i := firstDiff(pat, got); i >= 0 {
				return Check{}, fmt.Errorf("core %d byte %d reads %#02x, wrote %#02x (pattern %d)", core, i, got[i], pat[i], k)
			}
		}
	}
	return Check{Detail: fmt.Sprintf("%d cores × %d bytes × 3 patterns written and read back", info.Cores, n)}, nil
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func sensors(ctx context.Context, d *driver.Device, _ Opts) (Check, error) {
	if !d.Info().Features.Has(regmap.FeatureSensors) {
		return Check{Detail: "the device has no sensors (skipped)"}, nil
	}
	s, err := d.Sensors(ctx)
	if err != nil {
		return Check{}, err
	}
	if c := s.Temperature.Celsius(); c < -20 || c > 125 {
		return Check{}, fmt.Errorf("temperature %v is implausible", s.Temperature)
	}
	if len(s.Rails) != regmap.NumRails {
		return Check{}, fmt.Errorf("%d rails, want %d", len(s.Rails), regmap.NumRails)
	}
	for _, r := range s.Rails {
		if r.Voltage <= 0 || r.Power < 0 {
			return Check{}, fmt.Errorf("rail %s reads %v, %v", r.Rail, r.Voltage, r.Power)
		}
	}
	return Check{Detail: fmt.Sprintf("%v, %d rails, %v in all", s.Temperature, len(s.Rails), s.Total), Value: s.Temperature.Celsius(), Unit: "°C"}, nil
}

// transferBuf bounds the buffer the host→board check sends again and again.
const transferBuf = 16 << 20

func bandwidthIn(ctx context.Context, d *driver.Device, o Opts) (Check, error) {
	buf := make([]byte, min(o.BandwidthBytes, transferBuf))
	for i := range buf {
		buf[i] = byte(i)
	}
	start := time.Now()
	total := 0
	for total < o.BandwidthBytes {
		if err := d.Transfer(ctx, buf); err != nil {
			return Check{}, err
		}
		total += len(buf)
	}
	mbs := float64(total) / time.Since(start).Seconds() / 1e6
	return Check{Detail: fmt.Sprintf("%d MiB as network-image transfers of %d MiB (LOAD_DMA through the bulk window, or LOAD_DATA through CMD), checked by CRC on the board", total>>20, len(buf)>>20), Value: mbs, Unit: "MB/s"}, nil
}

func bandwidthOut(ctx context.Context, d *driver.Device, o Opts) (Check, error) {
	info := d.Info()
	n := min(info.CoreMemory, info.MaxPayload)
	if n == 0 {
		return Check{Detail: "no core memory to read (skipped)"}, nil
	}
	start := time.Now()
	total := 0
	for total < o.BandwidthBytes {
		b, err := d.ReadMemory(ctx, (total/n)%info.Cores, 0, n)
		if err != nil {
			return Check{}, err
		}
		total += len(b)
	}
	mbs := float64(total) / time.Since(start).Seconds() / 1e6
	return Check{Detail: fmt.Sprintf("%d MiB through CPL as MEM_READ results of %d KiB", total>>20, n>>10), Value: mbs, Unit: "MB/s"}, nil
}

// vector runs a conformance vector on the device through the conformance runner (the same
// vector → image path as lrctl conformance) and compares every value.
func vector(ctx context.Context, d *driver.Device, o Opts) (Check, error) {
	data, name := DefaultVector, "s108_lif.json (built in)"
	if o.Vector != "" {
		var err error
		if data, err = os.ReadFile(o.Vector); err != nil {
			return Check{}, err
		}
		name = o.Vector
	}
	v, err := conformance.ParseVector(data)
	if err != nil {
		return Check{}, fmt.Errorf("%s: %w", name, err)
	}
	res := &conformance.Result{File: name}
	if err := conformance.Run(ctx, d, v, res); err != nil {
		return Check{}, fmt.Errorf("%s: %w", name, err)
	}
	if res.Total > 0 {
		return Check{}, fmt.Errorf("%d of %d values differ from Lava's; first: %s", res.Total, res.Compared, res.Mismatches[0])
	}
	return Check{Detail: fmt.Sprintf("%s: %s, %d steps, %d neurons, %d values equal to Lava's", name, v.Kind, v.Steps, v.NOut, res.Compared)}, nil
}
