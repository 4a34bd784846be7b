#!/usr/bin/env bash
# Runs the test suite with node's test runner (Node 20's --test takes no globs, so we list the files).
# Usage: scripts/run-tests.sh [PATH-FILTER]   e.g. scripts/run-tests.sh src/apiserver
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-}"
mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | grep -F -- "$filter" | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files match '$filter'" >&2; exit 1; fi
# Processes the tests start (bin/hwameistor, bin/hwameictl) run the sources through tsx, so tests never run a
# stale dist/; the built JavaScript has its own tests (test/install/*).
export HWAMEISTOR_TSX="${HWAMEISTOR_TSX:-1}"
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-1}" --test-timeout=600000 \
  --test-reporter=spec "${files[@]}"
