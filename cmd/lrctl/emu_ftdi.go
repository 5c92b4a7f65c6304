package main

import (
	"fmt"
	"io"

	"github.com/lrchip/lrchip/emu/board"
	"github.com/lrchip/lrchip/emu/usbdev"
	"github.com/lrchip/lrchip/firmware/regmap"
	"github.com/lrchip/lrchip/flash"
)

// The emulated USB board's recovery port (lrctl emu serve --usb --ftdi): its FT2232H in
// front of its flash, on the same testbed.

// recoveryFlash is the flash of an emulated USB board that serves its FT2232H too: laid out
// as a USB board's (regmap.FTDIBoards: package flash's default layout, a third of the part),
// so that the board's firmware and a host that recovers it agree, with golden written as the
// factory does.
func recoveryFlash() (*board.Flash, error) {
	part := regmap.FlashParts[regmap.EmulatedFlash]
	fl, err := board.NewFlash(part.Size / regmap.NumSlots / regmap.FlashSectorSize * regmap.FlashSectorSize)
	if err != nil {
		return nil, err
	}
	s, err := flash.NewSlots(fl, flash.Opts{})
	if err != nil {
		return nil, err
	}
	if s.SlotSize() != fl.SlotSize() {
		return nil, fmt.Errorf("emu serve --ftdi: the flash's default layout has slots of %d bytes, the board %d", s.SlotSize(), fl.SlotSize())
	}
	return fl, flash.WriteGolden(s, board.DefaultFirmware, []byte("lrchip emulated USB board, golden firmware "+board.DefaultFirmware.String()))
}

// plugFTDI plugs the board's FT2232H into the testbed, in front of the board's flash. The
// emulated board runs on while a host holds its FPGA in reset through the chip (a real one
// would be down): its own flash commands must wait until lrctl fw recover is done, and it
// boots what was written at its next reboot (lrctl fw status shows it as the next boot).
func plugFTDI(w io.Writer, tb *usbdev.Testbed, b *board.Board, serial uint64) (*usbdev.FTDI, error) {
	chip, err := usbdev.NewFTDI(b.Flash(), usbdev.FTDIOpts{Board: regmap.BoardUSB, Serial: fmt.Sprintf("LR%06d", serial)})
	if err != nil {
		return nil, err
	}
	if err := tb.Plug(chip); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "its recovery port: usb:%04x:%04x:%s (%s)\n", regmap.FTDIVendorID, regmap.FTDIProductID, chip.Serial(), chip.DevNode())
	return chip, nil
}
