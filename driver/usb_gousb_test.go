//go:build gousb

package driver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLibusbScanWithoutBoards runs the libusb discovery on this machine, which has no
// boards: none, and no error.
func TestLibusbScanWithoutBoards(t *testing.T) {
	found, err := scanUSBLibusb(context.Background(), "/sys")
	require.NoError(t, err)
	for _, f := range found {
		require.Equal(t, TransportUSB, f.Transport)
	}
	t.Logf("%d boards", len(found))
}
