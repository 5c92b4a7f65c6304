package ftdi_test

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3/spi"

	"github.com/lrchip/lrchip/devices/spinor"
	"github.com/lrchip/lrchip/driver/ftdi"
)

// A board's flash through its FT2232H (the lab build, with the board plugged in): hold the
// FPGA in reset, run the SPI NOR driver on the adapter, let the FPGA go. fwupdate.Recover
// does this to write a slot.
func ExampleOpen() {
	a, err := ftdi.Open(context.Background(), "usb:0403:6010", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	if err := a.HoldReset(true); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := a.Connect(0, spi.Mode0, 8)
	nor, err := spinor.New(c, nil)
	if err != nil {
		fmt.Println(err)
	} else {
		fmt.Println(nor)
	}
	a.HoldReset(false)
	done, _ := a.Configured()
	fmt.Println("configured:", done)
}
