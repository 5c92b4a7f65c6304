package ina226_test

import (
	"fmt"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/lrchip/lrchip/devices/ina226"
)

// A rail with a 2 mΩ shunt and up to 32.768 A (a 1 mA current LSB), recorded.
func Example() {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{0xfe}, R: []byte{0x54, 0x49}},
		{Addr: 0x40, W: []byte{0xff}, R: []byte{0x22, 0x60}},
		{Addr: 0x40, W: []byte{0x00, 0x41, 0x27}},
		{Addr: 0x40, W: []byte{0x05, 0x0a, 0x00}},
		{Addr: 0x40, W: []byte{0x02}, R: []byte{0x02, 0xa8}}, // 680 × 1.25 mV
		{Addr: 0x40, W: []byte{0x01}, R: []byte{0x05, 0xdc}}, // 1500 × 2.5 µV
		{Addr: 0x40, W: []byte{0x04}, R: []byte{0x05, 0xdc}}, // 1500 mA
		{Addr: 0x40, W: []byte{0x03}, R: []byte{0x00, 0x33}}, // 51 × 25 mW
		{Addr: 0x40, W: []byte{0x06}, R: []byte{0x00, 0x08}},
	}}
	d, err := ina226.New(bus, &ina226.Opts{Shunt: 2 * physic.MilliOhm, MaxCurrent: 32768 * physic.MilliAmpere})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := d.Sense()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Bus, p.Current, p.Power)
	// Output: 850mV 1.500A 1.275W
}
