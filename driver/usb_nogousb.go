//go:build !gousb

package driver

import "context"

// Without the gousb tag there is no libusb: the usb transport says how to get a build with
// it, and discovery reads sysfs.
func init() {
	RegisterTransport(TransportUSB, func(ctx context.Context, u URI, opts Opts) (Link, error) {
		return nil, errorf("%s: %w", u, errNoUSB)
	})
}
