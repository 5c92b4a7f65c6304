#!/usr/bin/env bash
# The project's test command (the README's): vet, then every test, with the race detector on
# the packages that run goroutines.
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -count=1 ./...
