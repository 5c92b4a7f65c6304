#!/usr/bin/env bash
# fw-recover-check.sh: lrctl fw recover end to end against the emulated USB board's FT2232H, in
# processes of their own, through the real libusb. Run it beside the board as scripts/test.sh
# does: LRCHIP_EMU_FLAGS=--ftdi scripts/with-usb-emu.sh scripts/fw-recover-check.sh
# A key and a bundle for the USB board; the unsigned bundle is refused; the signed one is
# written through the FT2232H (ftdi_sio's channel A detached, then given back); the board's own
# USB function then shows the slot as the one the next boot picks.
set -euo pipefail
work="$(mktemp -d "${TMPDIR:-/tmp}/lrchip-recover.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
lrctl fw keygen lab >/dev/null
head -c 20000 /dev/urandom >top.bit
lrctl fw build --board usb-board --bitstream top.bit --version 7.0.0 --build-id recover-check -o fw.lrfb >/dev/null
if lrctl fw recover --ftdi usb:0403:6010 fw.lrfb --key lab.pub 2>err.txt; then
  echo "fw-recover-check.sh: an unsigned bundle was written" >&2
  exit 1
fi
grep -q "not signed" err.txt || { cat err.txt >&2; exit 1; }
lrctl fw sign fw.lrfb --key lab.key >/dev/null
lrctl fw recover --ftdi usb:0403:6010 fw.lrfb --key lab.pub 2>/dev/null | tee recover.txt
grep -q "configured from slot A" recover.txt
lrctl fw status --device usb:1209:0001 | tee status.txt
grep -Eq '^A +yes +7\.0\.0 .*recover-check +next boot' status.txt || {
  echo "fw-recover-check.sh: fw status does not show slot A with 7.0.0 as the next boot" >&2
  exit 1
}
echo "fw-recover-check.sh: ok"
