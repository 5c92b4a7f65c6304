#!/usr/bin/env bash
# hostlib's tests outside Go, run by scripts/test.sh (CI): the C ABI (examples/hostlib/infer.c
# and hostlib/capi/test/capi_test.c: malformed calls, 64 threads bit-exact), the Python
# package (pip install into a venv, examples/hostlib/infer.py, pytest) and lrctl serve over
# curl — against the in-process emulator (emu:) and an emulator process (emu:unix:). The C
# and Python examples must print lrctl pipeline's accuracy line exactly.
#
# Nothing here is skipped: a missing tool fails. Debian 12 needs
#   apt-get install gcc pkg-config curl python3-venv python3-numpy python3-pytest
# Options (environment): LRCHIP_WINDOWS (the examples' windows, default 2000),
# LRCHIP_C_REQUESTS (requests per C thread, default 8), LRCHIP_C_SECONDS (run the C soak
# for this long instead), PYTHON (default /usr/bin/python3: Debian's, whose numpy the venv uses).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$PATH:/usr/local/go/bin"
PY=${PYTHON:-/usr/bin/python3}
windows=${LRCHIP_WINDOWS:-2000}
work=$(mktemp -d /tmp/lrh.XXXXXX) # short: socket paths are limited to 108 bytes
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
checks=0
pass() { checks=$((checks + 1)); echo "ok   $*"; }
die() { echo "FAIL $*" >&2; echo "$checks passed, 1 failed"; exit 1; }

for tool in cc pkg-config curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install gcc pkg-config curl)"
done
"$PY" -c 'import numpy, pytest, ensurepip' 2>/dev/null ||
  die "$PY lacks numpy, pytest or venv (apt-get install python3-venv python3-numpy python3-pytest)"

# wait_line FILE PATTERN: waits (bounded) until a background process has written PATTERN.
wait_line() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$1" >&2
  die "no '$2' in $1"
}

./scripts/build-hostlib.sh
go build -o build/lrctl ./cmd/lrctl
export PKG_CONFIG_PATH=$repo/build
cflags=(-Wall -Wextra -Werror -O2)
cc "${cflags[@]}" -o build/infer examples/hostlib/infer.c $(pkg-config --cflags --libs lrchip)
cc "${cflags[@]}" -pthread -o build/capi_test hostlib/capi/test/capi_test.c $(pkg-config --cflags --libs lrchip) -lm
pass "liblrchip.so, lrchip.h, lrchip.pc; the examples build with pkg-config"

# An emulator process: the stand-in for a board in another address space.
sock=$work/emu.sock
build/lrctl emu serve --socket "$sock" >"$work/emu.log" 2>&1 &
pids+=($!)
wait_line "$work/emu.log" "serving"
uri=emu:unix:$sock

# C: malformed calls, then 64 threads bit-exact against a single-threaded run.
soak=(--requests "${LRCHIP_C_REQUESTS:-8}")
[ -n "${LRCHIP_C_SECONDS:-}" ] && soak=(--seconds "$LRCHIP_C_SECONDS")
build/capi_test --threads 64 "${soak[@]}" emu: emu: || die "capi_test on emu: emu:"
pass "C ABI: 64 threads on two in-process emulators"
build/capi_test --threads 64 --requests 4 "$uri" || die "capi_test on $uri"
pass "C ABI: 64 threads on an emulator process"

# The examples print lrctl pipeline's accuracy, on emu: and on the emulator process.
want=$(build/lrctl pipeline examples/pipeline/pipeline.yaml --device emu: --gpu cpu --windows "$windows" | grep '^accuracy')
echo "lrctl pipeline: $want"
got=$(build/lrctl pipeline examples/pipeline/pipeline.yaml --device "$uri" --gpu cpu --windows "$windows" | grep '^accuracy')
[ "$got" = "$want" ] || die "lrctl pipeline on $uri: $got"

python_ok=
"$PY" -m venv --system-site-packages "$work/venv"
# Offline: the package's build backend needs nothing from an index; it builds liblrchip.so
# from this checkout (Go's cache has it from above) and puts it in the wheel.
"$work/venv/bin/pip" install --no-index --quiet ./hostlib/python || die "pip install ./hostlib/python"
pass "pip install ./hostlib/python into a venv, offline"
for dev in emu: "$uri"; do
  got=$(build/infer --gpu cpu --windows "$windows" "$dev" | grep '^accuracy')
  [ "$got" = "$want" ] || die "infer.c on $dev: $got, lrctl pipeline: $want"
  pass "infer.c on $dev: $got"
  got=$(cd "$work" && "$work/venv/bin/python" "$repo/examples/hostlib/infer.py" --gpu cpu --windows "$windows" \
    --model "$repo/examples/pipeline/pipeline.yaml" "$dev" | grep '^accuracy')
  [ "$got" = "$want" ] || die "infer.py on $dev: $got, lrctl pipeline: $want"
  pass "infer.py on $dev: $got"
done
python_ok=1

# pytest, against the installed package (run from elsewhere, so that the source tree's
# package is not the one imported).
(cd "$work" && LRCHIP_LRCTL=$repo/build/lrctl "$work/venv/bin/python" -m pytest -q -p no:cacheprovider \
  "$repo/hostlib/python/tests") || die "pytest"
pass "pytest"

# lrctl serve, answered from curl.
build/lrctl serve --listen 127.0.0.1:0 --model "pipeline=examples/pipeline/pipeline.yaml,gpu=cpu" \
  --device emu: >"$work/serve.log" 2>&1 &
pids+=($!)
wait_line "$work/serve.log" "serving on http://"
url=$(sed -n 's#.*serving on \(http://[^ ]*\).*#\1#p' "$work/serve.log")
curl -sSf "$url/v2/health/ready" | grep -q '"ready":true' || die "ready"
resp=$(curl -sSf -H 'Content-Type: application/json' -d @examples/hostlib/request.json "$url/v2/models/pipeline/infer")
echo "$resp" | grep -q '"name":"class"' || die "infer over curl: $resp"
echo "$resp" | grep -q '"data":\[0,3\]' || die "infer over curl: classes: $resp"
pass "lrctl serve: infer from curl: $(echo "$resp" | head -c 120)..."
code=$(curl -s -o "$work/err.json" -w '%{http_code}' -d '{"inputs":[{"name":"rates","shape":[20],"datatype":"FP64","data":[1]}]}' \
  "$url/v2/models/pipeline/infer")
[ "$code" = 400 ] && grep -q '"error"' "$work/err.json" || die "a bad request: $code $(cat "$work/err.json")"
pass "lrctl serve: a bad request gets 400 and an error"
curl -sSf "$url/metrics" | grep -q 'lrchip_http_infer_requests_total{code="200",model="pipeline"} 1' || die "metrics"
pass "lrctl serve: /metrics"

echo "$checks passed, 0 failed"
