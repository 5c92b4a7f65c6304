#!/usr/bin/env bash
# The project's test command (the README's): vet, every test, then the race detector over the
# packages that run goroutines or share memory between them (-short skips the one-million-neuron
# load test there, which the plain pass already ran).
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -count=1 ./...
go test -race -short -count=1 ./emu/... ./runtime/... ./network/run/... ./driver/... ./device/... ./internal/hangup/... ./internal/vfiouser/... ./flash/... ./devices/... ./hostlib/...
# The VFIO ABI check fails here instead of skipping when the compiler or <linux/vfio.h> is missing.
LRCHIP_VFIO_ABI_STRICT=1 go test -count=1 -run TestABI ./internal/vfio/
# The lab build with the USB transport (gousb over libusb), tested through the real libusb
# against the emulated board on a umockdev testbed: the test binaries re-execute themselves
# with libumockdev-preload and fail (never skip) when they cannot.
go vet -tags gousb ./...
go test -tags gousb -count=1 ./driver/... ./emu/usbdev/... ./internal/umockdev/...
go test -tags gousb -race -count=1 -run USB ./driver/
go test -tags gousb -race -count=1 ./emu/usbdev/... ./internal/umockdev/...
go test -tags gousb -race -short -count=1 ./driver/ftdi/...
scripts/with-usb-emu.sh lrctl conformance --device usb:1209:0001 ../shared/vectors/lava ../shared/vectors/lava-graded
# Recovery through the board's FT2232H (lrctl fw recover), the emulated chip in the emulator's process.
LRCHIP_EMU_FLAGS=--ftdi scripts/with-usb-emu.sh scripts/fw-recover-check.sh
# hostlib from C and Python: builds liblrchip.so, runs the C example and the multi-threaded C
# test, the Python package's pytest suite and the HTTP server with curl (never skipped).
./scripts/test-hostlib.sh
# Every fuzz target fuzzes briefly (its corpus already ran above).
./scripts/fuzz-smoke.sh
