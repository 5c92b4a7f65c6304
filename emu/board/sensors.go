package board

import (
	"math"
	"time"

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

// ina226 models one INA226 power monitor: it measures the shunt voltage (2.5 µV LSB) and the
// bus voltage (1.25 mV LSB) and derives current and power through its calibration register,
// with the integer arithmetic of the datasheet.
type ina226 struct {
	shuntOhm   float64
	currentLSB float64 // A
	cal        int32
}

func newINA226(shuntOhm, currentLSB float64) ina226 {
	return ina226{shuntOhm: shuntOhm, currentLSB: currentLSB, cal: int32(0.00512 / (currentLSB * shuntOhm))}
}

func clampI16(x float64) int32 { return int32(max(-32768, min(32767, math.Round(x)))) }

// read returns what the host sees for a true current i (A) at bus voltage v (V).
func (m ina226) read(rail regmap.Rail, i, v float64) regmap.RailReading {
	shunt := clampI16(i * m.shuntOhm / 2.5e-6)
	bus := int32(max(0, min(32767, math.Round(v/1.25e-3))))
	current := clampI16(float64(shunt * m.cal / 2048))
	power := int32(min(65535, float64(abs32(current)*bus/20000)))
	lsbUA := m.currentLSB * 1e6
	return regmap.RailReading{
		Rail:      rail,
		BusUV:     uint32(bus) * 1250,
		CurrentUA: int32(float64(current) * lsbUA),
		PowerUW:   uint32(float64(power) * 25 * lsbUA),
	}
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// sensors is the board's power and thermal state. Time in it is emulated time: each step
// advances it by the time the step's work takes at the (possibly throttled) clock, so its
// readings are a function of the workload alone.
type sensors struct {
	pm       PowerModel
	tm       ThermalModel
	ina      [regmap.NumRails]ina226
	railW    [regmap.NumRails]float64 // filtered power per rail
	tempC    float64
	throttle uint32 // reasons in force
	last     emu.Stats
	stepNS   uint32
}

// powerTau is the time constant of the power readings' filter (emulated time).
const powerTau = time.Millisecond

func newSensors(pm PowerModel, tm ThermalModel) *sensors {
	s := &sensors{pm: pm.withDefaults(), tm: tm.withDefaults()}
	s.ina = [regmap.NumRails]ina226{newINA226(0.002, 1e-3), newINA226(0.010, 1e-4), newINA226(0.005, 2e-4)}
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
		ev = append(ev, regmap.Event{Code: regmap.EventThrottle, Arg: s.throttle, Timestep: t, Value: int64(s.tempMC())})
	} else if old != 0 && s.throttle == 0 {
		ev = append(ev, regmap.Event{Code: regmap.EventUnthrottle, Timestep: t, Value: int64(s.tempMC())})
	}
	return ev
}

// tempMC is what the temperature sensor (a TMP102-class part, 0.0625 °C LSB) reads, in m°C.
func (s *sensors) tempMC() int32 {
	return int32(math.Round(s.tempC/0.0625)) * 625 / 10
}

// read returns the SENSORS result.
func (s *sensors) read() regmap.Sensors {
	out := regmap.Sensors{TemperatureMC: s.tempMC(), Throttle: s.throttle, ClockKHz: uint32(s.clockHz() / 1e3), StepNS: s.stepNS}
	for r := regmap.Rail(0); r < regmap.NumRails; r++ {
		v0 := s.pm.NominalV[r]
		i := s.railW[r] / v0
		out.Rails = append(out.Rails, s.ina[r].read(r, i, v0-i*s.pm.LoadLineR[r]))
	}
	return out
}
