# Sourced (no arguments) by benches/flood.sh and benches/tcpkali_flood.sh:
# checks the platform and ROUNDS CONNS SECS SERVER..., cds to the repository
# root, sets $ROUNDS $CONNS $SECS, $T (the release directory) and $dir (a
# scratch directory, removed at exit with any running server), and leaves
# the SERVER list as the positional parameters.
#
#   run_rounds MEASURE SERVER...  every round starts each server afresh
#       (pinned to CPU 0; $server its pid, $addr its HOST:PORT), calls
#       `MEASURE SPEC ROUND` to load it and append the run's line to
#       $dir/results, stops it and prints the line; at the end, the median
#       and range of each server.
#
# A results line is tab-separated: server, round, MB per server
# CPU-second, MB/s, server CPU %, and optionally the limit. SPEC is echod's
# arguments ("--model tokio"), `echod=PATH ARGS` for another echod binary,
# or "plain" for examples/plain_tokio.rs.
set -euo pipefail
me=${0##*/}
[ "$(uname -s)" = Linux ] || { echo "$me: Linux only (taskset, /proc)" >&2; exit 2; }
[ $# -ge 4 ] || { echo "usage: $me ROUNDS CONNS SECS SERVER..." >&2; exit 2; }
cd "$(dirname "$0")/.."
ROUNDS=$1 CONNS=$2 SECS=$3
shift 3
T=${CARGO_TARGET_DIR:-target}/release
dir=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT

start_server() {
  local spec=$1 log=$2 echod args
  if [ "$spec" = plain ]; then
    [ -x "$T/examples/plain_tokio" ] || { echo "build first: cargo build --release --features tokio --example plain_tokio" >&2; exit 2; }
    taskset -c 0 "$T/examples/plain_tokio" 127.0.0.1:0 >"$log" 2>&1 &
  else
    echod=$T/echod args=$spec
    if [[ $spec == echod=* ]]; then
      echod=${spec%% *}; echod=${echod#echod=}
      args=${spec#* }; [ "$args" = "$spec" ] && args=
    fi
    # word splitting of $args is wanted: it is an argument list
    # shellcheck disable=SC2086
    taskset -c 0 "$echod" --listen 127.0.0.1:0 $args >"$log" 2>&1 &
  fi
  server=$!
  addr=
  for _ in $(seq 100); do
    addr=$(grep -o 'tcp://[0-9.:]*' "$log" | head -1 | sed 's#tcp://##') && [ -n "$addr" ] && return
    sleep 0.05
  done
  echo "$spec: did not start: $(cat "$log")" >&2
  exit 1
}

run_rounds() {
  local measure=$1 round spec
  shift
  for round in $(seq "$ROUNDS"); do
    for spec in "$@"; do
      start_server "$spec" "$dir/server.log"
      "$measure" "$spec" "$round"
      kill "$server"; wait "$server" 2>/dev/null || true; server=
      report_run "$dir/results"
    done
  done
  summarise "$dir/results"
}

report_run() {
  tail -1 "$1" | awk -F'\t' '{printf "%-32s round %s: %6s MB/cpu-s  %6s MB/s  server CPU %3s%%  %s\n", $1, $2, $3, $4, $5, ($6 == "" ? "" : "limit " $6)}'
}

summarise() {
  python3 - "$1" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
order = list(dict.fromkeys(r[0] for r in rows))
print()
print(f"{'server':32} {'median MB/cpu-s':>16} {'range':>13} {'max/min':>8} {'server CPU':>11}")
for spec in order:
    v = [float(r[2]) for r in rows if r[0] == spec]
    cpu = [int(r[4]) for r in rows if r[0] == spec]
    print(f"{spec:32} {statistics.median(v):16.0f} {min(v):6.0f}-{max(v):<6.0f} "
          f"{max(v) / min(v):8.2f} {min(cpu):4d}-{max(cpu)}%")
PY
}
