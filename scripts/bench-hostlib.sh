#!/usr/bin/env bash
# hostlib's figures: inferences/s and p50/p99 latency through the Go API, the C ABI and HTTP
# (single-window requests of lrctl pipeline's patterns on the example model, one in-process
# emulator, 16 concurrent callers), each as a fraction of `lrctl pipeline`'s windows/s on the
# same model and device, measured in the same run (the median of three runs before and three
# after each measurement).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
requests=${LRCHIP_BENCH_REQUESTS:-2000}
./scripts/build-hostlib.sh >/dev/null
go build -o build/lrctl ./cmd/lrctl
export PKG_CONFIG_PATH=$PWD/build
cc -O2 -Wall -pthread -o build/bench hostlib/capi/test/bench.c $(pkg-config --cflags --libs lrchip)
baseline() {
  for _ in 1 2 3; do
    build/lrctl pipeline examples/pipeline/pipeline.yaml --device emu: --gpu cpu --windows 500 --json 2>/dev/null |
      sed -n 's/.*"windows_per_s": \([0-9.e+]*\).*/\1/p'
  done
}
before=$(baseline)
c=$(build/bench --requests "$requests" emu:)
after=$(baseline)
base=$(printf '%s\n' $before $after | sort -g | sed -n '3p;4p' | awk '{s+=$1} END {print s/NR}')
echo "lrctl pipeline: $(printf '%.0f' "$base") windows/s (median of 6 runs around the C measurement)"
echo "C ABI:          $c" | sed "s/}\$/, \"x_pipeline\": $(echo "$c" | sed -n 's/.*"inferences_per_s": \([0-9.]*\).*/\1/p' | awk -v b="$base" '{printf "%.3f", $1/b}')}/"
go test -run '^$' -bench 'GoAPI|HTTP' -benchtime "${requests}x" ./hostlib/serve | grep '^Benchmark'
