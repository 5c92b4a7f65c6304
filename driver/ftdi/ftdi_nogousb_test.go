//go:build !gousb

package ftdi

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// Without the gousb tag there is no libusb: Open says how to get the lab build.
func TestOpenWithoutLibusb(t *testing.T) {
	_, err := Open(context.Background(), "usb:0403:6010", nil)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.Contains(t, err.Error(), "-tags gousb")
}
