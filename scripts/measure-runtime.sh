#!/usr/bin/env bash
# Measures what running the project costs: RSS at rest of the API server, the controller and a node agent
# (a node agent with no disks, the file engine), and the wall time of `hwameictl node list` against them.
# Usage: scripts/measure-runtime.sh [dist|tsx] [settle-seconds]
#   dist: bin/* run the built JavaScript (npm run build:dist first); tsx: HWAMEISTOR_TSX=1, sources via tsx.
# Prints one line per process and hyperfine's summary. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-dist}"
settle="${2:-20}"
case "$mode" in
  dist) unset HWAMEISTOR_TSX ;;
  tsx) export HWAMEISTOR_TSX=1 ;;
  *) echo "usage: $0 [dist|tsx] [settle-seconds]" >&2; exit 2 ;;
esac
tmp="$(mktemp -d /tmp/hw-measure.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME ARGS...: runs bin/hwameistor ARGS with stdout to $tmp/NAME.out; waits for the ready line.
start() {
  local name="$1"; shift
  bin/hwameistor "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
  for _ in $(seq 1 600); do
    if [ -s "$tmp/$name.out" ]; then return 0; fi
    if ! kill -0 "$!" 2>/dev/null; then echo "$name exited:"; cat "$tmp/$name.err"; exit 1; fi
    sleep 0.1
  done
  echo "$name not ready after 60 s" >&2; exit 1
}

mkdir -p "$tmp/disks"
start apiserver apiserver --data-dir "$tmp/api" --port 0 --log-level warn
kc="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).kubeconfig)' "$tmp/apiserver.out")"
kubectl --kubeconfig "$kc" apply -f deploy/crds >/dev/null
start controller controller --kubeconfig "$kc" --csi-socket-dir "$tmp/ctl" --no-leader-election --log-level warn
start node node --node-name "measure-$$" --kubeconfig "$kc" --devices "file:$tmp/disks/*.img" --disk-class HDD \
  --state-dir "$tmp/node" --csi-socket-dir "$tmp/node/csi" --engine file --log-level warn
sleep "$settle"
rss() { awk '/^VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
# bin/hwameistor may be a launcher that execs node: the pid we hold is the server itself either way.
echo "mode=$mode node=$(node --version) settle=${settle}s"
echo "rss apiserver  $(rss "$pid_apiserver")"
echo "rss controller $(rss "$pid_controller")"
echo "rss node       $(rss "$pid_node")"
hyperfine --style basic --warmup 1 --runs "${RUNS:-10}" -N "bin/hwameictl --kubeconfig $kc node list" 2>&1 | grep -E "Time|Range"
