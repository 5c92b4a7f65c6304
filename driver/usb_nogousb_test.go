//go:build !gousb

package driver

import "errors"

// preloadForUSB does nothing without the gousb tag: there are no USB tests through libusb.
func preloadForUSB() {}

// usbWithoutBoard is what opening a USB board gives in this build: no USB transport.
var usbWithoutBoard = errors.ErrUnsupported
