package usbdev

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// USBDevice is an emulated USB device that a Testbed plugs in: the board's Function, or its
// FTDI.
type USBDevice interface {
	fmt.Stringer
	// Sysfs is the device and its bus's root hub in umockdev's record format.
	Sysfs() string
	// DevNode is its device node, /dev/bus/usb/BBB/DDD; SysPath and RootPath are the sysfs
	// paths (without /sys) of the device and of its bus's root hub.
	DevNode() string
	SysPath() string
	RootPath() string
	// Connect, Disconnect and Ioctl are the usbdevfs side: opens of the node and their ioctls.
	Connect(id ClientID)
	Disconnect(id ClientID)
	Ioctl(id ClientID, io Ioctl)
	// Unplug removes the device as pulling its cable does.
	Unplug()
	setReady(r Ready)
}

var (
	_ USBDevice = (*Function)(nil)
	_ USBDevice = (*FTDI)(nil)
)

// DevNode is the chip's device node, /dev/bus/usb/BBB/DDD.
func (f *FTDI) DevNode() string {
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", f.opts.Bus, f.opts.Addr)
}

// RootPath is the sysfs path of the bus's root hub (without /sys).
func (f *FTDI) RootPath() string {
	return fmt.Sprintf("/devices/pci0000:00/0000:00:14.0/usb%d", f.opts.Bus)
}

// SysPath is the chip's sysfs path (without /sys).
func (f *FTDI) SysPath() string { return fmt.Sprintf("%s/%d-1", f.RootPath(), f.opts.Bus) }

// Sysfs returns the root hub and the chip in umockdev's record format, with what libusb and
// udev read: the ids, the EEPROM's strings (the udev rule matches the manufacturer), the
// descriptors.
func (f *FTDI) Sysfs() string {
	var b strings.Builder
	bus := f.opts.Bus
	dev := func(path, devname string, devnum int, vid, pid, bcd uint16, class byte, nIntf int, desc []byte, attrs, props []string) {
		minor := (bus-1)*128 + devnum - 1
		fmt.Fprintf(&b, "P: %s\n", path)
		for _, p := range append([]string{"SUBSYSTEM=usb", "DEVTYPE=usb_device", "DRIVER=usb",
			fmt.Sprintf("BUSNUM=%03d", bus), fmt.Sprintf("DEVNUM=%03d", devnum),
			fmt.Sprintf("PRODUCT=%x/%x/%x", vid, pid, bcd), fmt.Sprintf("TYPE=%d/0/0", class),
			fmt.Sprintf("MAJOR=%d", usbMajor), fmt.Sprintf("MINOR=%d", minor)}, props...) {
			fmt.Fprintf(&b, "E: %s\n", p)
		}
		if devname != "" {
			fmt.Fprintf(&b, "E: DEVNAME=%s\n", devname)
		}
		for _, a := range append([]string{fmt.Sprintf("idVendor=%04x", vid), fmt.Sprintf("idProduct=%04x", pid),
			fmt.Sprintf("bcdDevice=%04x", bcd), fmt.Sprintf("bDeviceClass=%02x", class),
			fmt.Sprintf("busnum=%d", bus), fmt.Sprintf("devnum=%d", devnum), "speed=480", "version= 2.00",
			"bConfigurationValue=1", "bNumConfigurations=1", fmt.Sprintf("bNumInterfaces= %d", nIntf),
			fmt.Sprintf("bMaxPacketSize0=%d", desc[7]), fmt.Sprintf("dev=%d:%d", usbMajor, minor),
			"authorized=1", "removable=unknown"}, attrs...) {
			fmt.Fprintf(&b, "A: %s\n", a)
		}
		fmt.Fprintf(&b, "H: descriptors=%s\n\n", strings.ToUpper(hex.EncodeToString(desc)))
	}
	dev(f.RootPath(), "", 1, 0x1d6b, 0x0002, 0x0606, 9, 1, rootHubDescriptors(regmap.USBHighSpeed),
		[]string{"devpath=0", "maxchild=1", "manufacturer=Linux xHCI Host Controller", "product=xHCI Host Controller",
			fmt.Sprintf("serial=0000:00:14.0-%d", bus)}, nil)
	desc := append(regmap.FTDIDeviceDescriptorBytes(), regmap.FTDIConfigDescriptorBytes()...)
	dev(f.SysPath(), f.DevNode(), f.opts.Addr, regmap.FTDIVendorID, regmap.FTDIProductID, regmap.FTDIBcdDevice, 0, 2, desc,
		[]string{"devpath=1", "maxchild=0", "manufacturer=" + regmap.FTDIManufacturer, "product=" + f.product, "serial=" + f.opts.Serial},
		[]string{fmt.Sprintf("ID_VENDOR_ID=%04x", regmap.FTDIVendorID), fmt.Sprintf("ID_MODEL_ID=%04x", regmap.FTDIProductID),
			"ID_SERIAL_SHORT=" + f.opts.Serial, "ID_BUS=usb"})
	return b.String()
}
