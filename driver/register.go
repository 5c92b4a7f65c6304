package driver

import (
	"context"
	"time"

	"github.com/lrchip/lrchip/device"
)

// The driver opens, for package device, every URI of a transport it has besides the
// in-process emulator (whose emu: device is the emulator's own), and finds the boards.
func init() {
	for _, prefix := range []string{"emu:unix:", "usb:", "pcie:", "vfio-user:"} {
		device.Register(prefix, openDevice)
	}
	device.RegisterFinder(func(ctx context.Context) ([]string, error) {
		found, err := Boards(ctx, ListOpts{})
		var uris []string
		for _, f := range found {
			uris = append(uris, f.URI)
		}
		return uris, err
	})
	// After the boards, emulator processes that nobody holds: a lab that runs lrctl emu
	// serve means its commands to use it before the in-process emulator.
	device.RegisterFinder(func(ctx context.Context) ([]string, error) {
		emus, err := scanEmulators(ctx, RunDir(), time.Second)
		var uris []string
		for _, f := range emus {
			if f.Error == "" && f.Holder == "" {
				uris = append(uris, f.URI)
			}
		}
		return uris, err
	})
}

func openDevice(ctx context.Context, uri string, o device.Opts) (device.Device, error) {
	d, err := Open(ctx, uri, Opts{Timeout: o.Timeout, Size: o.Size})
	if err != nil {
		return nil, err
	}
	return d, nil
}

var _ device.Device = (*Device)(nil)
