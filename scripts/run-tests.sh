#!/usr/bin/env bash
# Runs the test suite with node's test runner, in two tiers:
#   unit         `*.test.ts` under src/ (pure logic, parsers, in-process servers): files run in parallel;
#   integration  `*.int.test.ts` (other processes, real sockets), `*.host.test.ts` (loop devices, mounts,
#                root) and everything under test/ (multi-process journeys, deploy checks): one file at a
#                time, because they share the machine's loop devices, mounts and CPU.
# Usage: scripts/run-tests.sh [PATH-FILTER]        e.g. scripts/run-tests.sh src/apiserver
#        TEST_TIER=unit|integration scripts/run-tests.sh   (default: both, unit first)
# The last line is the summary of both tiers; the exit code is non-zero when any test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
filter="${1:-}"
tier="${TEST_TIER:-all}"
mapfile -t all < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | grep -F -- "$filter" | sort)
if [ ${#all[@]} -eq 0 ]; then echo "no test files match '$filter'" >&2; exit 1; fi
unit=(); integration=()
for f in "${all[@]}"; do
  case "$f" in
    *.int.test.ts|*.host.test.ts|test/*) integration+=("$f") ;;
    *) unit+=("$f") ;;
  esac
done

# Processes the tests start (bin/hwameistor, bin/hwameictl) run the sources through tsx, so tests never run a
# stale dist/; the built JavaScript has its own tests (test/install/*).
export HWAMEISTOR_TSX="${HWAMEISTOR_TSX:-1}"

log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
run_tier() { # name concurrency files...
  local name=$1 conc=$2; shift 2
  [ $# -eq 0 ] && return 0
  echo "# tier: $name ($# files, concurrency $conc)"
  node --import tsx --test --test-concurrency="$conc" --test-timeout=600000 --test-reporter=spec "$@" 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}
if [ "$tier" != integration ]; then run_tier unit "${TEST_CONCURRENCY:-$(nproc)}" "${unit[@]}" || status=1; fi
if [ "$tier" != unit ]; then run_tier integration 1 "${integration[@]}" || status=1; fi
sum() { grep -E "^ℹ $1 [0-9]+$" "$log" | awk '{s += $3} END {print s + 0}'; }
echo "# all tiers: tests $(sum tests), pass $(sum pass), fail $(sum fail), skipped $(sum skipped), cancelled $(sum cancelled)"
exit "$status"
