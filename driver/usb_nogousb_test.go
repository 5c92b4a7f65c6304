//go:build !gousb

package driver

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// preloadForUSB does nothing without the gousb tag: there are no USB tests through libusb.
func preloadForUSB() {}

// usbWithoutBoard is what opening a USB board gives in this build: no USB transport.
var usbWithoutBoard = errors.ErrUnsupported

func TestUSBWithoutTheLabBuild(t *testing.T) {
	_, err := Open(context.Background(), "usb:1209:0001", Opts{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Contains(t, err.Error(), "go build -tags gousb ./cmd/lrctl")
	assert.Contains(t, err.Error(), "scripts/with-usb-emu.sh")
}
