package udev

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lrchip/lrchip/firmware/regmap"
)

// TestRulesMatchTheBoards reads 70-lrchip.rules as udev would (one rule a line, comma-
// separated KEY==/KEY= pairs) and checks that every rule matches a board by firmware's ids
// and gives the group access.
func TestRulesMatchTheBoards(t *testing.T) {
	f, err := os.Open("70-lrchip.rules")
	require.NoError(t, err)
	defer f.Close()
	usbVid, usbPid := fmt.Sprintf("%04x", regmap.USBVendorID), fmt.Sprintf("%04x", regmap.USBProductID)
	pciVid, pciDev := fmt.Sprintf("0x%04x", regmap.PCIVendorID), fmt.Sprintf("0x%04x", regmap.PCIDeviceID)
	ftdiVid, ftdiPid := fmt.Sprintf("%04x", regmap.FTDIVendorID), fmt.Sprintf("%04x", regmap.FTDIProductID)
	ftdi := false
	subsystems := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys := map[string]string{}
		for _, kv := range strings.Split(line, ", ") {
			op := "=="
			if !strings.Contains(kv, "==") {
				op = "="
				if strings.Contains(kv, "+=") {
					op = "+="
				}
			}
			k, v, ok := strings.Cut(kv, op)
			require.True(t, ok, "cannot read %q", kv)
			keys[k+op] += strings.Trim(v, `"`) + ";"
		}
		for k, v := range keys {
			if !strings.HasPrefix(k, "RUN") {
				keys[k] = strings.TrimSuffix(v, ";")
			}
		}
		sub := keys["SUBSYSTEM=="]
		subsystems[sub] = true
		switch sub {
		case "usb":
			if keys["ATTR{idVendor}=="] == ftdiVid {
				// A board's recovery port: the FT2232H, and only the boards' (the EEPROM's
				// manufacturer), not any FTDI adapter.
				require.Equal(t, ftdiPid, keys["ATTR{idProduct}=="], line)
				require.Equal(t, regmap.FTDIManufacturer, keys["ATTR{manufacturer}=="], line)
				ftdi = true
				break
			}
			require.Equal(t, usbVid, keys["ATTR{idVendor}=="], line)
			require.Equal(t, usbPid, keys["ATTR{idProduct}=="], line)
		case "pci":
			require.Equal(t, pciVid, keys["ATTR{vendor}=="], line)
			require.Equal(t, pciDev, keys["ATTR{device}=="], line)
			require.Contains(t, keys["RUN+="], "chgrp "+regmap.UdevGroup, line)
			require.Contains(t, keys["RUN+="], "chmod g+rw", line)
			continue
		default:
			require.Equal(t, pciVid, keys["ATTRS{vendor}=="], line)
			require.Equal(t, pciDev, keys["ATTRS{device}=="], line)
		}
		require.Equal(t, regmap.UdevGroup, keys["GROUP="], line)
		require.Equal(t, "0660", keys["MODE="], line)
	}
	require.NoError(t, sc.Err())
	require.Equal(t, map[string]bool{"usb": true, "pci": true, "uio": true, "vfio-dev": true}, subsystems)
	require.True(t, ftdi, "the recovery port's rule")
}
