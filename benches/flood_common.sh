# Sourced by benches/flood.sh and benches/tcpkali_flood.sh.
#
#   start_server SPEC LOG    starts one server pinned to CPU 0 and waits for
#                            its address: sets $server (pid), $addr (HOST:PORT)
#   report_run RESULTS       prints the last run's line, as it ends
#   summarise RESULTS        the median and range of each server at the end
#
# RESULTS holds one tab-separated line per run: server, round, MB per
# server CPU-second, MB/s, server CPU %, and optionally the limit.
#
# SPEC is echod's arguments ("--model tokio"), `echod=PATH ARGS` for
# another echod binary, or "plain" for examples/plain_tokio.rs. $T is the
# release directory holding echod and examples/.
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
