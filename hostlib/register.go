package hostlib

// The device implementations hostlib links in, for their registrations only: the driver's
// transports and board discovery (emu:unix:, usb:, pcie:, vfio-user:), and the emulator
// (emu:, in this process). Everything else goes through package device.
import (
	_ "github.com/lrchip/lrchip/driver"
	_ "github.com/lrchip/lrchip/emu/register"
)
