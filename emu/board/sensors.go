package board

import (
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/lrchip/lrchip/devices/ina226"
	"github.com/lrchip/lrchip/devices/tmp117"
	"github.com/lrchip/lrchip/emu"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// PowerModel turns the chip's work into emulated time and power. The zero value of a field
// means its default.
type PowerModel struct {
	ClockHz         float64 // core clock, default 100 MHz
	StepCycles      float64 // cycles of every step (barrier, routing), default 2000
	CyclesPerUpdate float64 // per neuron update, spread over the cores, default 16
	CyclesPerEvent  float64 // per synaptic event, spread over the cores, default 2

	StaticW   [regmap.NumRails]float64 // static power per rail, default core 1.2 W, I/O 0.4 W, DDR 0.8 W
	NominalV  [regmap.NumRails]float64 // rail voltage, default 0.85 V, 1.8 V, 1.2 V
	LoadLineR [regmap.NumRails]float64 // voltage droop per ampere, default 2 mΩ, 10 mΩ, 5 mΩ

	UpdateJ   float64 // core-rail energy per neuron update, default 40 nJ
	EventJ    float64 // core-rail energy per synaptic event, default 4 nJ
	DDREventJ float64 // DDR-rail energy per synaptic event (weights are fetched), default 2 nJ
	SpikeJ    float64 // I/O-rail energy per spike, default 20 nJ

	// PowerLimitW throttles when the core rail's power is above it (0: no limit).
	PowerLimitW float64
}

// ThermalModel is a first-order model of the die temperature. The zero value of a field means
// its default.
type ThermalModel struct {
	AmbientC    float64       // default 35 °C
	RthCPerW    float64       // thermal resistance die to ambient, default 4 °C/W
	Tau         time.Duration // thermal time constant, default 2 s (of emulated time)
	LimitC      float64       // throttle at or above, default 85 °C
	HysteresisC float64       // stop throttling this far below the limit, default 5 °C
	ThrottleDiv float64       // clock divider while throttled, default 2
}

func (m PowerModel) withDefaults() PowerModel {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&m.ClockHz, 100e6)
	def(&m.StepCycles, 2000)
	def(&m.CyclesPerUpdate, 16)
	def(&m.CyclesPerEvent, 2)
	for i, d := range [regmap.NumRails]float64{1.2, 0.4, 0.8} {
		def(&m.StaticW[i], d)
	}
	for i, d := range [regmap.NumRails]float64{0.85, 1.8, 1.2} {
		def(&m.NominalV[i], d)
	}
	for i, d := range [regmap.NumRails]float64{0.002, 0.010, 0.005} {
		def(&m.LoadLineR[i], d)
	}
	def(&m.UpdateJ, 40e-9)
	def(&m.EventJ, 4e-9)
	def(&m.DDREventJ, 2e-9)
	def(&m.SpikeJ, 20e-9)
	return m
}

func (m ThermalModel) withDefaults() ThermalModel {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&m.AmbientC, 35)
	def(&m.RthCPerW, 4)
	def(&m.LimitC, 85)
	def(&m.HysteresisC, 5)
	def(&m.ThrottleDiv, 2)
	if m.Tau == 0 {
		m.Tau = 2 * time.Second
	}
	return m
}

// sensors is the board's power and thermal state. Time in it is emulated time: each step
// advances it by the time the step's work takes at the (possibly throttled) clock, so its
// readings are a function of the workload alone.
type sensors struct {
	pm       PowerModel
	tm       ThermalModel
	railW    [regmap.NumRails]float64 // filtered power per rail
	tempC    float64
	throttle uint32 // reasons in force
	last     emu.Stats
	stepNS   uint32
	total    regmap.Stats // the counters of STATS (rings aside)
	busyNS   float64
}

// powerTau is the time constant of the power readings' filter (emulated time).
const powerTau = time.Millisecond

func newSensors(pm PowerModel, tm ThermalModel) *sensors {
	s := &sensors{pm: pm.withDefaults(), tm: tm.withDefaults()}
	s.railW = s.pm.StaticW
	s.tempC = s.tm.AmbientC + s.tm.RthCPerW*s.totalW()
	return s
}

func (s *sensors) totalW() float64 { return s.railW[0] + s.railW[1] + s.railW[2] }

func (s *sensors) clockHz() float64 {
	if s.throttle != 0 {
		return s.pm.ClockHz / s.tm.ThrottleDiv
	}
	return s.pm.ClockHz
}

// step accounts for one timestep whose work counters are now st, on a chip of cores cores.
// It returns the events the step caused (throttling starting or ending).
func (s *sensors) step(st emu.Stats, cores int, t uint64) []regmap.Event {
	du := float64(st.NeuronUpdates - s.last.NeuronUpdates)
	de := float64(st.SynapticEvents - s.last.SynapticEvents)
	ds := float64(st.Spikes - s.last.Spikes)
	s.last = st
	pm := s.pm
	cycles := pm.StepCycles + (du*pm.CyclesPerUpdate+de*pm.CyclesPerEvent)/float64(max(1, cores))
	dt := cycles / s.clockHz()
	s.stepNS = uint32(min(math.MaxUint32, math.Round(dt*1e9)))
	s.total.Timesteps++
	s.total.NeuronUpdates += uint64(du)
	s.total.SynapticEvents += uint64(de)
	s.busyNS += dt * 1e9
	s.total.BusyNS = uint64(s.busyNS)
	inst := [regmap.NumRails]float64{
		pm.StaticW[regmap.RailCore] + (du*pm.UpdateJ+de*pm.EventJ)/dt,
		pm.StaticW[regmap.RailIO] + ds*pm.SpikeJ/dt,
		pm.StaticW[regmap.RailDDR] + de*pm.DDREventJ/dt,
	}
	a := 1 - math.Exp(-dt/powerTau.Seconds())
	for i := range s.railW {
		s.railW[i] += (inst[i] - s.railW[i]) * a
	}
	tm := s.tm
	s.tempC += (tm.AmbientC + tm.RthCPerW*s.totalW() - s.tempC) * (1 - math.Exp(-dt/tm.Tau.Seconds()))

	var ev []regmap.Event
	old := s.throttle
	switch {
	case s.tempC >= tm.LimitC:
		s.throttle |= regmap.ThrottleThermal
	case s.tempC <= tm.LimitC-tm.HysteresisC:
		s.throttle &^= regmap.ThrottleThermal
	}
	if pm.PowerLimitW > 0 {
		switch {
		case s.railW[regmap.RailCore] >= pm.PowerLimitW:
			s.throttle |= regmap.ThrottlePower
		case s.railW[regmap.RailCore] <= 0.9*pm.PowerLimitW:
			s.throttle &^= regmap.ThrottlePower
		}
	}
	if old == 0 && s.throttle != 0 {
		s.total.ThrottleEvents++
		ev = append(ev, regmap.Event{Code: regmap.EventThrottle, Arg: s.throttle, Timestep: t, Value: int64(s.tempMC())})
	} else if old != 0 && s.throttle == 0 {
		ev = append(ev, regmap.Event{Code: regmap.EventUnthrottle, Timestep: t, Value: int64(s.tempMC())})
	}
	return ev
}

// tempMC is what the temperature sensor (a TMP117, 7.8125 m°C a count) reads, in m°C.
func (s *sensors) tempMC() int32 { return tmp117MilliC(tmp117Raw(s.tempC)) }

// railIV returns the current (A) through a rail's shunt and its bus voltage (V), after the
// load line.
func (s *sensors) railIV(r regmap.Rail) (i, v float64) {
	v0 := s.pm.NominalV[r]
	i = s.railW[r] / v0
	return i, v0 - i*s.pm.LoadLineR[r]
}

// read returns the SENSORS result, read through the board's own drivers on its I²C bus.
func (s *sensors) read(mons [regmap.NumRails]*ina226.Dev, temp *tmp117.Dev) (regmap.Sensors, error) {
	t, err := temp.Sense()
	if err != nil {
		return regmap.Sensors{}, err
	}
	out := regmap.Sensors{TemperatureMC: int32((t - physic.ZeroCelsius) / physic.MilliCelsius), Throttle: s.throttle, ClockKHz: uint32(s.clockHz() / 1e3), StepNS: s.stepNS}
	for r, m := range mons {
		p, err := m.Sense()
		if err != nil {
			return regmap.Sensors{}, err
		}
		out.Rails = append(out.Rails, regmap.RailReading{Rail: regmap.Rail(r), BusUV: uint32(p.Bus / physic.MicroVolt),
			CurrentUA: int32(p.Current / physic.MicroAmpere), PowerUW: uint32(p.Power / physic.MicroWatt)})
	}
	return out, nil
}

// openSensors configures the parts on the bus with the board's own drivers, as its firmware
// does at boot.
func openSensors(bus *sensorBus) (mons [regmap.NumRails]*ina226.Dev, temp *tmp117.Dev, err error) {
	for _, p := range regmap.SensorParts {
		switch p.Part {
		case "INA226":
			mons[p.Rail], err = ina226.New(bus, &ina226.Opts{Addr: p.Addr, Shunt: physic.ElectricResistance(p.ShuntNanoOhm()),
				MaxCurrent: physic.ElectricCurrent(p.MaxCurrentNanoAmp())})
		case "TMP117":
			temp, err = tmp117.New(bus, &tmp117.Opts{Addr: p.Addr})
		}
		if err != nil {
			return mons, nil, fmt.Errorf("board: sensor %s: %w", p.Name, err)
		}
	}
	return mons, temp, nil
}
