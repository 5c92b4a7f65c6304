package regmap

import "fmt"

// Bus ids of the boards. They are kept here, once, so that the udev rules (udev/), device
// discovery (driver/) and the emulator agree.
const (
	// USBVendorID is pid.codes' vendor id; USBProductID is a product id from its test range,
	// until a permanent one is assigned.
	USBVendorID  uint16 = 0x1209
	USBProductID uint16 = 0x0001

	// PCIVendorID is Xilinx's (the FPGA's) vendor id; PCIDeviceID is the project's device id
	// ("LR").
	PCIVendorID uint16 = 0x10ee
	PCIDeviceID uint16 = 0x4c52
)

// UdevGroup is the group the udev rules give access to the boards.
const UdevGroup = "lrchip"

// BoardKind is what the BOARD_ID register reads: which kind of board answers.
type BoardKind uint32

// Board kinds.
const (
	BoardEmulator BoardKind = 1 // the emulator (emu/board)
	BoardPCIe     BoardKind = 2 // the prototype board on PCIe
	BoardUSB      BoardKind = 3 // the prototype board on USB
)

func (k BoardKind) String() string {
	switch k {
	case BoardEmulator:
		return "emulator"
	case BoardPCIe:
		return "pcie-board"
	case BoardUSB:
		return "usb-board"
	}
	return fmt.Sprintf("BoardKind(%d)", uint32(k))
}

// MarshalText writes the kind's name.
func (k BoardKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
