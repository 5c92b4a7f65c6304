//go:build gousb

// This file is the driver's only cgo: USB discovery through libusb (gousb). Build with
// -tags gousb (libusb-1.0-0-dev and pkg-config installed); without the tag, discovery reads
// sysfs instead and the rest of the driver needs no cgo.

package driver

import (
	"context"
	"fmt"

	"github.com/google/gousb"

	"github.com/lrchip/lrchip/firmware/regmap"
)

func init() { usbScan = scanUSBLibusb }

// scanUSBLibusb asks libusb for the boards, with their serial numbers where a board can be
// opened. Where libusb cannot start (no USB in a container, say) it reads sysfs instead.
func scanUSBLibusb(ctx context.Context, sysfs string) (found []Found, err error) {
	c := newUSBContext()
	if c == nil {
		return scanUSBSysfs(ctx, sysfs)
	}
	defer c.Close()
	var descs []*gousb.DeviceDesc
	devs, openErr := c.OpenDevices(func(d *gousb.DeviceDesc) bool {
		if d.Vendor == gousb.ID(regmap.USBVendorID) && d.Product == gousb.ID(regmap.USBProductID) {
			descs = append(descs, d)
			return true
		}
		return false
	})
	serials := map[[2]int]string{}
	for _, d := range devs {
		if s, err := d.SerialNumber(); err == nil {
			serials[[2]int{d.Desc.Bus, d.Desc.Address}] = s
		}
		d.Close()
	}
	for _, d := range descs {
		f := Found{Transport: TransportUSB, Board: regmap.BoardUSB.String(), Path: fmt.Sprintf("/dev/bus/usb/%03d/%03d", d.Bus, d.Address)}
		s, ok := serials[[2]int{d.Bus, d.Address}]
		f.Serial = s
		if !ok && openErr != nil {
			f.Error = fmt.Sprintf("cannot open it (is the udev rule installed, are you in group %s?): %v", regmap.UdevGroup, openErr)
		}
		f.URI = URI{Transport: TransportUSB, VID: regmap.USBVendorID, PID: regmap.USBProductID, Serial: s}.String()
		found = append(found, f)
	}
	return found, nil
}

// newUSBContext starts libusb, nil if it cannot (gousb panics then).
func newUSBContext() (c *gousb.Context) {
	defer func() {
		if recover() != nil {
			c = nil
		}
	}()
	return gousb.NewContext()
}
