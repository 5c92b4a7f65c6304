package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver/fwupdate"
	"github.com/lrchip/lrchip/firmware/bundle"
)

// fwFiles makes a key pair and a signed and an unsigned bundle with lrctl fw.
func fwFiles(t *testing.T) (dir, signed, unsigned, pub string) {
	dir = t.TempDir()
	bit := filepath.Join(dir, "top.bit")
	require.NoError(t, os.WriteFile(bit, []byte(strings.Repeat("bitstream ", 5000)), 0o644))
	soft := filepath.Join(dir, "soft.elf")
	require.NoError(t, os.WriteFile(soft, []byte("soft core"), 0o644))
	out, err := lrctl(t, "fw", "keygen", "lab", "--dir", dir)
	require.NoError(t, err, out)
	st, err := os.Stat(filepath.Join(dir, "lab.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	_, err = lrctl(t, "fw", "keygen", "lab", "--dir", dir)
	require.Error(t, err, "a key is never overwritten")
	unsigned = filepath.Join(dir, "fw.lrfb")
	out, err = lrctl(t, "fw", "build", "--bitstream", bit, "--softcore", soft, "--version", "2.1.0", "--build-id", "ci-42", "-o", unsigned)
	require.NoError(t, err, out)
	signed = filepath.Join(dir, "fw-signed.lrfb")
	out, err = lrctl(t, "fw", "sign", unsigned, "--key", filepath.Join(dir, "lab.key"), "-o", signed)
	require.NoError(t, err, out)
	return dir, signed, unsigned, filepath.Join(dir, "lab.pub")
}

func TestFwBundleCommands(t *testing.T) {
	_, signed, unsigned, pub := fwFiles(t)
	out, err := lrctl(t, "fw", "verify", signed, "--key", pub)
	require.NoError(t, err, out)
	require.Contains(t, out, "good signature by")
	_, err = lrctl(t, "fw", "verify", unsigned, "--key", pub)
	require.ErrorIs(t, err, bundle.ErrUnsigned)
	out, err = lrctl(t, "fw", "inspect", signed, "--json")
	require.NoError(t, err, out)
	var v struct {
		Version  string `json:"version"`
		BuildID  string `json:"build_id"`
		KeyID    string `json:"key_id"`
		Softcore int    `json:"softcore_bytes"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, "2.1.0", v.Version)
	require.Equal(t, "ci-42", v.BuildID)
	require.NotEmpty(t, v.KeyID)
	require.Equal(t, 9, v.Softcore)
	out, err = lrctl(t, "fw", "inspect", unsigned)
	require.NoError(t, err, out)
	require.Contains(t, out, "unsigned")
	// A truncated bundle is refused, saying what.
	data, err := os.ReadFile(signed)
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.lrfb")
	require.NoError(t, os.WriteFile(cut, data[:len(data)/2], 0o644))
	_, err = lrctl(t, "fw", "inspect", cut)
	require.ErrorIs(t, err, bundle.ErrFormat)
}

// The "done when" of board management, on the in-process emulator and on an emulator
// process: keygen, build, sign, flash, status; an unsigned bundle refused; sensors.
func TestFwFlashEndToEnd(t *testing.T) {
	_, signed, unsigned, pub := fwFiles(t)

	// In process: one lrctl flash reboots the board into the new slot.
	out, err := lrctl(t, "fw", "flash", signed, "--device", "emu:", "--key", pub)
	require.NoError(t, err, out)
	require.Contains(t, out, "flashed firmware 2.1.0 (ci-42) into slot A, read back and verified; booted slot A")
	_, err = lrctl(t, "fw", "flash", unsigned, "--device", "emu:", "--key", pub)
	require.ErrorIs(t, err, fwupdate.ErrRefused)
	require.ErrorIs(t, err, bundle.ErrUnsigned)
	out, err = lrctl(t, "fw", "flash", unsigned, "--device", "emu:", "--allow-unsigned", "--via", "spi")
	require.NoError(t, err, out)
	require.Contains(t, out, "WARNING")
	require.Contains(t, out, "booted slot A")

	// An emulator process keeps its flash between hosts.
	uri := serve(t, shortRunDir(t))
	out, err = lrctl(t, "fw", "status", "--device", uri)
	require.NoError(t, err, out)
	require.Contains(t, out, "golden image booted")
	out, err = lrctl(t, "fw", "flash", signed, "--device", uri, "--key", pub)
	require.NoError(t, err, out)
	out, err = lrctl(t, "fw", "status", "--device", uri, "--json")
	require.NoError(t, err, out)
	var st struct {
		Booted   string `json:"booted"`
		Firmware string `json:"firmware"`
		Reason   string `json:"reason"`
		Slots    []struct {
			Slot   string `json:"slot"`
			Valid  bool   `json:"valid"`
			Seq    uint32 `json:"seq"`
			Bundle *struct {
				BuildID string `json:"build_id"`
				Board   string `json:"board"`
			} `json:"bundle"`
		} `json:"slots"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "A", st.Booted)
	require.Equal(t, "2.1.0", st.Firmware)
	require.True(t, st.Slots[1].Valid)
	require.Equal(t, uint32(1), st.Slots[1].Seq)
	require.Equal(t, "ci-42", st.Slots[1].Bundle.BuildID)
	require.Equal(t, "emulator", st.Slots[1].Bundle.Board)
	_, err = lrctl(t, "fw", "flash", signed, "--device", uri, "--key", pub, "--slot", "A")
	require.ErrorIs(t, err, fwupdate.ErrRefused, "A runs")
	out, err = lrctl(t, "fw", "flash", signed, "--device", uri, "--key", pub)
	require.NoError(t, err, out)
	require.Contains(t, out, "booted slot B")
	out, err = lrctl(t, "fw", "rollback", "--device", uri)
	require.NoError(t, err, out)
	require.Contains(t, out, "booted slot A")
	out, err = lrctl(t, "fw", "boot", "B", "--device", uri)
	require.NoError(t, err, out)
	require.Contains(t, out, "booted slot B")
	out, err = lrctl(t, "fw", "status", "--device", uri)
	require.NoError(t, err, out)
	require.Contains(t, out, "booted B (firmware 2.1.0)")

	// Sensors through the drivers: every rail and the temperature.
	out, err = lrctl(t, "sensors", "--device", uri, "--json")
	require.NoError(t, err, out)
	var s struct {
		Temperature float64 `json:"temperature_c"`
		Rails       []struct {
			Rail  string  `json:"rail"`
			Power float64 `json:"power_w"`
		} `json:"rails"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &s))
	require.Len(t, s.Rails, 3)
	for i, name := range []string{"core", "io", "ddr"} {
		require.Equal(t, name, s.Rails[i].Rail)
		require.Positive(t, s.Rails[i].Power)
	}
	require.Greater(t, s.Temperature, 20.0)
}

func TestTopJSON(t *testing.T) {
	out, err := lrctl(t, "top", "--device", "emu:", "--json", "--count", "2", "--interval", "1ms")
	require.NoError(t, err, out)
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var r struct {
			Device string `json:"device"`
			Rails  []any  `json:"rails"`
			Stats  struct {
				Rings []any `json:"rings"`
			} `json:"stats"`
			Steps *float64 `json:"steps_per_s"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		require.Equal(t, "emu:", r.Device)
		require.Len(t, r.Rails, 3)
		require.Len(t, r.Stats.Rings, 4)
		require.NotNil(t, r.Steps)
		n++
	}
	require.Equal(t, 2, n)
	out, err = lrctl(t, "top", "--device", "emu:", "--count", "1")
	require.NoError(t, err, out)
	require.Contains(t, out, "STEPS/S")
}

// The exporter, scraped over HTTP, lists the power of every rail of every board.
func TestExporterScrape(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveMetrics(ctx, ln, exporterURIs([]string{"emu:", "emu:unix:/nonexistent.sock"}), 5*time.Second)
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	for _, rail := range []string{"core", "io", "ddr"} {
		require.Contains(t, text, `lrchip_power_watts{device="emu:",rail="`+rail+`"}`)
	}
	for _, m := range []string{`lrchip_temperature_celsius{device="emu:"}`, `lrchip_timesteps_total{device="emu:"} 0`,
		`lrchip_throttle_events_total{device="emu:"} 0`, `lrchip_up{device="emu:"} 1`, `lrchip_up{device="emu:unix:/nonexistent.sock"} 0`,
		`lrchip_ring_fill_ratio{device="emu:",ring="CMD"}`, "# TYPE lrchip_timesteps_total counter"} {
		require.Contains(t, text, m)
	}
	require.False(t, errors.Is(ctx.Err(), context.Canceled))
}
