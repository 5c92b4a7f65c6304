#!/usr/bin/env bash
# with-usb-emu.sh CMD [ARGS...]: runs CMD beside an emulated USB board, as a lab user with a
# board would run it. It builds the lab lrctl (-tags gousb: the USB transport through libusb)
# and puts it first on PATH, starts `lrctl emu serve --usb` (the emulated board's USB function
# on a umockdev testbed), runs CMD with the testbed's environment (UMOCKDEV_DIR and
# LD_PRELOAD=libumockdev-preload.so.0), so that `lrctl list` shows the board and
# `--device usb:1209:0001` opens it, stops the board and exits with CMD's status.
# LRCHIP_EMU_FLAGS adds flags to `lrctl emu serve --usb` (--ftdi: the board's FT2232H too, for
# lrctl fw recover --ftdi usb:0403:6010).
# Needs the Debian packages libusb-1.0-0-dev, libumockdev-dev, umockdev and pkg-config.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$PATH:/usr/local/go/bin"
work="$(mktemp -d "${TMPDIR:-/tmp}/lrchip-usb.XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin"
(cd "$root" && go build -tags gousb -o "$work/bin/lrctl" ./cmd/lrctl)
export PATH="$work/bin:$PATH"
read -r -a extra <<<"${LRCHIP_EMU_FLAGS:-}"
lrctl emu serve --usb "${extra[@]}" --env "$work/env" >"$work/serve.log" 2>&1 &
server=$!
# The server writes the environment file once the board is plugged in.
for _ in $(seq 1 300); do
  [ -f "$work/env" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "with-usb-emu.sh: the emulated USB board did not start:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -f "$work/env" ]; then
  echo "with-usb-emu.sh: the emulated USB board did not come up in 30 s:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$work/env"
status=0
"$@" || status=$?
exit "$status"
