package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/driver/ftdi"
	"github.com/lrchip/lrchip/driver/fwupdate"
)

// TestFwRecoverCommand: bad bundles and arguments are refused before any USB is touched; a
// good bundle reaches the FT2232H (through libusb in the lab build; without it, the words
// that say how to get it). scripts/fw-recover-check.sh runs the whole command against the
// emulated board's FT2232H.
func TestFwRecoverCommand(t *testing.T) {
	_, signed, unsigned, pub := fwFiles(t)
	const uri = "usb:0403:6010:NOSUCH"
	_, err := lrctl(t, "fw", "recover", unsigned, "--ftdi", uri, "--key", pub)
	require.ErrorIs(t, err, fwupdate.ErrRefused)
	require.Contains(t, err.Error(), "not signed")
	_, err = lrctl(t, "fw", "recover", signed, "--key", pub)
	require.ErrorContains(t, err, `"ftdi" not set`)
	_, err = lrctl(t, "fw", "recover", signed, "--ftdi", uri, "--key", pub, "--slot", "golden")
	require.ErrorContains(t, err, "never written")
	_, err = lrctl(t, "fw", "recover", signed, "--ftdi", uri, "--key", pub, "--board", "toaster")
	require.ErrorContains(t, err, "toaster")
	_, err = lrctl(t, "fw", "recover", signed, "--ftdi", "emu:", "--key", pub)
	require.ErrorIs(t, err, ftdi.ErrArgs)
	_, err = lrctl(t, "fw", "recover", signed, "--ftdi", uri, "--key", pub)
	require.ErrorIs(t, err, ftdi.ErrNotFound)
}
