package usbdev

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// The device as sysfs and udev present it: what libusb (through libudev) and lrctl's sysfs
// discovery read. Sysfs returns it in umockdev's record format
// (umockdev_testbed_add_from_string): the bus's root hub, then the board.

// usbMajor is the character major of USB device nodes.
const usbMajor = 189

// DevNode is the device node of the board, /dev/bus/usb/BBB/DDD.
func (f *Function) DevNode() string {
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", f.opts.Bus, f.opts.Addr)
}

// rootPath is the sysfs path of the bus's root hub; SysPath the board's.
func (f *Function) rootPath() string {
	return fmt.Sprintf("/devices/pci0000:00/0000:00:14.0/usb%d", f.opts.Bus)
}

// SysPath is the board's device path in sysfs (without the /sys prefix).
func (f *Function) SysPath() string { return fmt.Sprintf("%s/%d-1", f.rootPath(), f.opts.Bus) }

// RootPath is the root hub's device path in sysfs (without the /sys prefix).
func (f *Function) RootPath() string { return f.rootPath() }

// Serial is the board's USB serial number string.
func (f *Function) Serial() string { return regmap.USBSerialString(f.b.Identity().Serial) }

// rootHubDescriptors are a root hub's device and configuration descriptors, for libusb's
// view of the bus (it reads the parent of every device).
func rootHubDescriptors(s regmap.USBSpeed) []byte {
	bcd, product, ep0 := uint16(0x0200), uint16(0x0002), byte(64)
	if s == regmap.USBSuperSpeed {
		bcd, product, ep0 = 0x0300, 0x0003, 9
	}
	d := []byte{18, regmap.USBDescDevice, byte(bcd), byte(bcd >> 8), 9, 0, 3, ep0, 0x6b, 0x1d, byte(product), byte(product >> 8), 0x06, 0x06, 3, 2, 1, 1}
	cfg := []byte{9, regmap.USBDescConfig, 0, 0, 1, 1, 0, 0xe0, 0,
		9, regmap.USBDescInterface, 0, 0, 1, 9, 0, 0, 0,
		7, regmap.USBDescEndpoint, 0x81, 3, 4, 0, 12}
	if s == regmap.USBSuperSpeed {
		cfg = append(cfg, 6, regmap.USBDescSSEPComp, 0, 0, 2, 0)
	}
	cfg[2] = byte(len(cfg))
	return append(d, cfg...)
}

// Sysfs returns the root hub and the board in umockdev's record format, with the sysfs
// attributes and udev properties that libusb and lrctl read; the device node itself is the
// transport's to make (it must be pollable: see Ready).
func (f *Function) Sysfs() string {
	var b strings.Builder
	sp := f.opts.Speed
	bus := f.opts.Bus
	version := " 2.10"
	if sp == regmap.USBSuperSpeed {
		version = " 3.20"
	}
	dev := func(path, devname string, busnum, devnum int, vid, pid, bcd uint16, class byte, desc []byte, attrs, props []string) {
		fmt.Fprintf(&b, "P: %s\n", path)
		for _, p := range append([]string{"SUBSYSTEM=usb", "DEVTYPE=usb_device", "DRIVER=usb",
			fmt.Sprintf("BUSNUM=%03d", busnum), fmt.Sprintf("DEVNUM=%03d", devnum),
			fmt.Sprintf("PRODUCT=%x/%x/%x", vid, pid, bcd), fmt.Sprintf("TYPE=%d/0/0", class),
			fmt.Sprintf("MAJOR=%d", usbMajor), fmt.Sprintf("MINOR=%d", (busnum-1)*128+devnum-1)}, props...) {
			fmt.Fprintf(&b, "E: %s\n", p)
		}
		if devname != "" {
			fmt.Fprintf(&b, "E: DEVNAME=%s\n", devname)
		}
		for _, a := range append([]string{fmt.Sprintf("idVendor=%04x", vid), fmt.Sprintf("idProduct=%04x", pid),
			fmt.Sprintf("bcdDevice=%04x", bcd), fmt.Sprintf("bDeviceClass=%02x", class),
			fmt.Sprintf("busnum=%d", busnum), fmt.Sprintf("devnum=%d", devnum), fmt.Sprintf("speed=%d", sp.Mbps()),
			"version=" + version, "bConfigurationValue=1", "bNumConfigurations=1", "bNumInterfaces= 1",
			fmt.Sprintf("bMaxPacketSize0=%d", desc[7]), fmt.Sprintf("dev=%d:%d", usbMajor, (busnum-1)*128+devnum-1),
			"authorized=1", "removable=unknown"}, attrs...) {
			fmt.Fprintf(&b, "A: %s\n", a)
		}
		fmt.Fprintf(&b, "H: descriptors=%s\n\n", strings.ToUpper(hex.EncodeToString(desc)))
	}
	rootPid := uint16(0x0002)
	if sp == regmap.USBSuperSpeed {
		rootPid = 0x0003
	}
	dev(f.rootPath(), "", bus, 1, 0x1d6b, rootPid, 0x0606, 9, rootHubDescriptors(sp),
		[]string{"devpath=0", "maxchild=1", "manufacturer=Linux xHCI Host Controller", "product=xHCI Host Controller",
			fmt.Sprintf("serial=0000:00:14.0-%d", bus)}, nil)
	desc := append(regmap.USBDeviceDescriptorBytes(sp), regmap.USBConfigDescriptorBytes(sp)...)
	serial := f.Serial()
	dev(f.SysPath(), f.DevNode(), bus, f.opts.Addr, regmap.USBVendorID, regmap.USBProductID, regmap.USBBcdDevice, 0xff, desc,
		[]string{"devpath=1", "maxchild=0", "manufacturer=" + regmap.USBStrings[regmap.USBStrManufacturer],
			"product=" + regmap.USBStrings[regmap.USBStrProduct], "serial=" + serial},
		[]string{fmt.Sprintf("ID_VENDOR_ID=%04x", regmap.USBVendorID), fmt.Sprintf("ID_MODEL_ID=%04x", regmap.USBProductID),
			"ID_SERIAL_SHORT=" + serial, "ID_BUS=usb"})
	return b.String()
}
