#!/usr/bin/env bash
# Builds hostlib's C ABI (hostlib/capi) with go build -buildmode=c-shared:
#   build/liblrchip.so   the library
#   build/lrchip.h       its header (generated from hostlib/internal/cabi; see go generate ./hostlib/capi)
#   build/lrchip.pc      for pkg-config: PKG_CONFIG_PATH=build pkg-config --cflags --libs lrchip
# Options: --out DIR (default build), --race (a library built with the race detector, for the
# C soak test).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build
race=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --race) race=(-race); shift ;;
    *) echo "build-hostlib.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
export PATH="$PATH:/usr/local/go/bin"
mkdir -p "$out"
go build "${race[@]}" -buildmode=c-shared -ldflags "-extldflags -Wl,-soname,liblrchip.so" \
  -o "$out/liblrchip.so" ./hostlib/capi
rm -f "$out/liblrchip.h" # cgo's own header; lrchip.h is the API
cp hostlib/capi/lrchip.h "$out/lrchip.h"
abs=$(cd "$out" && pwd)
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' hostlib/errors.go)
cat >"$out/lrchip.pc" <<PC
prefix=$abs
libdir=\${prefix}
includedir=\${prefix}

Name: lrchip
Description: hostlib: the lrchip neuromorphic chip as an inference backend (C ABI)
Version: $version
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -llrchip
Cflags: -I\${includedir}
PC
echo "built $out/liblrchip.so, $out/lrchip.h, $out/lrchip.pc"
