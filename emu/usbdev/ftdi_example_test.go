package usbdev_test

import (
	"context"
	"fmt"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
)

// The board's FT2232H, driven from this process: MPSSE mode, then the synchronisation a host
// starts with (a bad opcode comes back after 0xFA), in a packet that starts with the two
// status bytes.
func ExampleFTDI() {
	b, _ := board.New(board.Opts{})
	defer b.Close()
	chip, _ := usbdev.NewFTDI(b.Flash(), usbdev.FTDIOpts{})
	defer chip.Close()
	chip.Control(regmap.USBVendorOut, uint8(regmap.FTDIReqSetBitmode), regmap.FTDIBitmodeMPSSE<<8, regmap.FTDIPortA, nil)
	ctx := context.Background()
	chip.BulkOut(ctx, regmap.FTDIEndpointAOut, []byte{0xAA, regmap.MPSSESendImmediate})
	buf := make([]byte, regmap.FTDIMaxPacket)
	n, _ := chip.BulkIn(ctx, regmap.FTDIEndpointAIn, buf)
	fmt.Printf("% x\n", buf[:n])
	fmt.Println("FPGA configured:", chip.FPGA().Configured)
	// Output:
	// 32 60 fa aa
	// FPGA configured: true
}
