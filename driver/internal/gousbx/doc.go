// Package gousbx is the libusb plumbing (github.com/google/gousb) that the driver's two USB
// users share: the board's USB transport (driver/usb_gousb.go) and the recovery port's
// FT2232H (driver/ftdi/ftdi_gousb.go). It starts libusb without gousb's panic, finds and
// opens a device by vendor, product and serial number, and says what a gousb error means, so
// that each caller maps it to its own sentinel errors.
//
// Everything here is cgo and builds only in the lab build (-tags gousb); without the tag the
// package is empty, and its callers' gousb files are left out with it.
package gousbx
