package driver

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Typed units of the sensor readings. Each is an integer count of a small unit, as the board
// reports it; the methods give SI values and print them.

// Voltage is in microvolts.
type Voltage int64

// Current is in microamperes.
type Current int64

// Power is in microwatts.
type Power int64

// Temperature is in millidegrees Celsius.
type Temperature int64

// Frequency is in hertz.
type Frequency int64

func (v Voltage) Volts() float64                   { return float64(v) / 1e6 }
func (c Current) Amperes() float64                 { return float64(c) / 1e6 }
func (p Power) Watts() float64                     { return float64(p) / 1e6 }
func (t Temperature) Celsius() float64             { return float64(t) / 1e3 }
func (f Frequency) Megahertz() float64             { return float64(f) / 1e6 }
func (v Voltage) String() string                   { return fmt.Sprintf("%.4f V", v.Volts()) }
func (c Current) String() string                   { return fmt.Sprintf("%.4f A", c.Amperes()) }
func (p Power) String() string                     { return fmt.Sprintf("%.4f W", p.Watts()) }
func (t Temperature) String() string               { return fmt.Sprintf("%.2f °C", t.Celsius()) }
func (f Frequency) String() string                 { return fmt.Sprintf("%.3f MHz", f.Megahertz()) }
func (v Voltage) MarshalJSON() ([]byte, error)     { return jsonFloat(v.Volts()), nil }
func (c Current) MarshalJSON() ([]byte, error)     { return jsonFloat(c.Amperes()), nil }
func (p Power) MarshalJSON() ([]byte, error)       { return jsonFloat(p.Watts()), nil }
func (t Temperature) MarshalJSON() ([]byte, error) { return jsonFloat(t.Celsius()), nil }
func (f Frequency) MarshalJSON() ([]byte, error)   { return jsonFloat(float64(f)), nil }

func jsonFloat(x float64) []byte { return strconv.AppendFloat(nil, x, 'g', -1, 64) }

func jsonStrings(s []string) []byte {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return b
}
