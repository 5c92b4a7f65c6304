//go:build !gousb

package driver

// preloadForUSB does nothing without the gousb tag: there are no USB tests through libusb.
func preloadForUSB() {}
