#!/usr/bin/env bash
# The project's test command (the README's): vet, every test, then the race detector over the
# packages that run goroutines or share memory between them (-short skips the one-million-neuron
# load test there, which the plain pass already ran).
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -count=1 ./...
go test -race -short -count=1 ./emu/... ./runtime/... ./network/run/... ./driver/...
# Every fuzz target fuzzes briefly (its corpus already ran above).
./scripts/fuzz-smoke.sh
