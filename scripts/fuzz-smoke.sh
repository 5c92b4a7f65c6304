#!/usr/bin/env bash
# A short fuzzing run of every fuzz target (FuzzXxx), on top of its seed corpus and
# testdata/fuzz, which plain `go test` already runs: -fuzztime 50x keeps each to seconds.
# FUZZTIME=30s scripts/fuzz-smoke.sh fuzzes longer.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-50x}
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | cut -d' ' -f2); do
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >/dev/null
		echo "fuzzed $pkg $name ($fuzztime)"
	done
done
