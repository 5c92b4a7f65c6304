#!/usr/bin/env bash
# GPU check: the CUDA backend's tests and the chip→GPU pipeline benchmark, on a machine with an
# NVIDIA GPU and its driver (libcuda.so.1; no CUDA toolkit is needed). It fails loudly when
# there is no GPU, and takes well under five minutes.
#
#   scripts/gpu-check.sh                 build, then run
#   scripts/gpu-check.sh --build DIR     only build the test binaries and lrctl into DIR
#   scripts/gpu-check.sh --prebuilt DIR  run binaries built by --build (no Go, no network)
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
	echo "gpu-check: FAIL: $*" >&2
	exit 1
}

build() {
	local dir=$1
	mkdir -p "$dir"
	go test -c -o "$dir/gpu.test" ./runtime/gpu/
	go test -c -o "$dir/sched.test" ./runtime/sched/
	go build -o "$dir/lrctl" ./cmd/lrctl
}

mode=${1:-}
case "$mode" in
--build)
	build "${2:?--build needs a folder}"
	echo "gpu-check: built into $2"
	exit 0
	;;
--prebuilt)
	bin=$(cd "${2:?--prebuilt needs a folder}" && pwd)
	;;
"")
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	echo "gpu-check: building"
	timeout 180 bash -c "$(declare -f build); build $bin" || fail "build failed"
	;;
*)
	fail "unknown option $mode (want --build DIR or --prebuilt DIR)"
	;;
esac

echo "gpu-check: looking for a GPU"
if command -v nvidia-smi >/dev/null; then
	nvidia-smi -L || fail "nvidia-smi sees no GPU"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && ! ls /usr/lib*/libcuda.so.1 /usr/lib/*/libcuda.so.1 >/dev/null 2>&1; then
	fail "no NVIDIA driver library (libcuda.so.1) on this machine: this check needs a GPU"
fi

# LRCHIP_REQUIRE_GPU=1 turns the CUDA tests' "no CUDA driver" skips into failures.
export LRCHIP_REQUIRE_GPU=1
log=$(mktemp)
run_tests() {
	local pkg=$1 test=$2
	echo "gpu-check: go test -run CUDA ./runtime/$pkg/"
	if ! (cd "runtime/$pkg" && timeout 120 "$bin/$test" -test.run CUDA -test.v -test.count=1) 2>&1 | tee "$log"; then
		fail "CUDA tests of runtime/$pkg failed"
	fi
	grep -q -- '--- SKIP' "$log" && fail "CUDA tests of runtime/$pkg skipped"
	grep -q -- '--- PASS' "$log" || fail "no CUDA test of runtime/$pkg ran"
}
run_tests gpu gpu.test
run_tests sched sched.test

echo "gpu-check: pipeline benchmark, CUDA then CPU"
net=examples/pipeline/pipeline.yaml
timeout 60 "$bin/lrctl" pipeline "$net" --gpu cuda --windows 3000 || fail "lrctl pipeline --gpu cuda failed"
timeout 60 "$bin/lrctl" pipeline "$net" --gpu cuda --windows 3000 --window 10 --depth 8 || fail "lrctl pipeline --gpu cuda (short windows) failed"
timeout 60 "$bin/lrctl" pipeline "$net" --gpu cpu --windows 3000 --window 10 --depth 8 || fail "lrctl pipeline --gpu cpu failed"
cuda=$(timeout 60 "$bin/lrctl" pipeline "$net" --gpu cuda --windows 500 --json | grep '"accuracy"')
cpu=$(timeout 60 "$bin/lrctl" pipeline "$net" --gpu cpu --windows 500 --json | grep '"accuracy"')
[ "$cuda" = "$cpu" ] || fail "CUDA and CPU pipelines disagree: $cuda vs $cpu"
rm -f "$log"
echo "gpu-check: OK"
