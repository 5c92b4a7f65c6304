// Package health reads a board's health through the device drivers on its buses: every
// rail's INA226 and the die's TMP117 on the sensor I²C bus (devices/ina226, devices/tmp117,
// configured from firmware/regmap's table of parts), the status registers (throttling), and
// STATS (counters since boot, ring fill). lrctl sensors, top and exporter print it.
package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/lrchip/lrchip/devices/ina226"
	"github.com/lrchip/lrchip/devices/tmp117"
	"github.com/lrchip/lrchip/driver"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// ErrSensor is wrapped when a sensor does not answer or reads out of range.
var ErrSensor = errors.New("health: sensor failed")

// Rail is one power rail.
type Rail struct {
	Rail    string         `json:"rail"`
	Voltage driver.Voltage `json:"voltage_v"`
	Current driver.Current `json:"current_a"`
	Power   driver.Power   `json:"power_w"`
}

// Sample is one reading of a board's health.
type Sample struct {
	Device      string             `json:"device"`
	Board       regmap.BoardKind   `json:"board"`
	Serial      uint64             `json:"serial"`
	Firmware    regmap.FWVersion   `json:"firmware"`
	Time        time.Time          `json:"time"`
	Rails       []Rail             `json:"rails"`
	Total       driver.Power       `json:"total_w"`
	Temperature driver.Temperature `json:"temperature_c"`
	Throttled   bool               `json:"throttled"`
	Stats       driver.Stats       `json:"stats"`
}

// Sensors reads the rails and the temperature through the drivers.
func Sensors(ctx context.Context, d *driver.Device) ([]Rail, driver.Temperature, error) {
	bus := d.I2C(ctx, regmap.I2CBusSense)
	var rails []Rail
	var temp driver.Temperature
	for _, p := range regmap.SensorParts {
		switch p.Part {
		case "INA226":
			m, err := ina226.New(bus, &ina226.Opts{Addr: p.Addr, Shunt: physic.ElectricResistance(p.ShuntNanoOhm()), MaxCurrent: physic.ElectricCurrent(p.MaxCurrentNanoAmp())})
			if err != nil {
				return nil, 0, fmt.Errorf("health: rail %s: %w: %w", p.Name, err, ErrSensor)
			}
			pm, err := m.Sense()
			if err != nil {
				return nil, 0, fmt.Errorf("health: rail %s: %w: %w", p.Name, err, ErrSensor)
			}
			rails = append(rails, Rail{Rail: p.Rail.String(), Voltage: driver.Voltage(pm.Bus / physic.MicroVolt),
				Current: driver.Current(pm.Current / physic.MicroAmpere), Power: driver.Power(pm.Power / physic.MicroWatt)})
		case "TMP117":
			s, err := tmp117.New(bus, &tmp117.Opts{Addr: p.Addr})
			if err != nil {
				return nil, 0, fmt.Errorf("health: temperature: %w: %w", err, ErrSensor)
			}
			t, err := s.Sense()
			if err != nil {
				return nil, 0, fmt.Errorf("health: temperature: %w: %w", err, ErrSensor)
			}
			temp = driver.Temperature((t - physic.ZeroCelsius) / physic.MilliCelsius)
		}
	}
	return rails, temp, nil
}

// Read takes one sample.
func Read(ctx context.Context, d *driver.Device) (Sample, error) {
	info := d.Info()
	s := Sample{Device: info.URI, Board: info.Board, Serial: info.Serial, Firmware: info.Firmware, Time: time.Now()}
	var err error
	if s.Rails, s.Temperature, err = Sensors(ctx, d); err != nil {
		return s, err
	}
	for _, r := range s.Rails {
		s.Total += r.Power
	}
	st, err := d.Status()
	if err != nil {
		return s, err
	}
	s.Throttled = st.Throttled
	if s.Stats, err = d.Stats(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// Rates are what changed between two samples of one board, per second.
type Rates struct {
	Steps  float64 `json:"steps_per_s"`
	Spikes float64 `json:"spikes_per_s"` // output spikes
}

// RatesBetween returns the rates from a to b (zero when the counters went back: a reboot).
func RatesBetween(a, b Sample) Rates {
	dt := b.Time.Sub(a.Time).Seconds()
	if dt <= 0 || b.Stats.Timesteps < a.Stats.Timesteps || b.Stats.SpikesOut < a.Stats.SpikesOut {
		return Rates{}
	}
	return Rates{Steps: float64(b.Stats.Timesteps-a.Stats.Timesteps) / dt, Spikes: float64(b.Stats.SpikesOut-a.Stats.SpikesOut) / dt}
}
