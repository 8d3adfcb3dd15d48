#!/usr/bin/env bash
# Syscalls and server CPU per echo, for one echod model under loadgen, or
# a table of every model's syscalls by name and context switches.
#
#   bash benches/syscalls_per_echo.sh [MODEL] [CONNS] [DEPTH] [SECS] [ECHOD_ARGS...]
#   bash benches/syscalls_per_echo.sh table [CONNS] [DEPTH] [SECS] [ECHOD_ARGS...]
#
# MODEL is any echod --model: reactor (default), uring (io_uring, Linux
# only; where io_uring is blocked echod says why and this stops), tokio,
# threads, iterative.
# Starts `loadgen serve -- --model MODEL` pinned to CPU 0, drives it from
# CPU 1 with `loadgen run` (closed loop, 512 B), counts the server's
# syscalls with `perf stat -e raw_syscalls:sys_enter` (a tracepoint: works
# where hardware counters do not) and its CPU time from /proc, and prints
# one line: requests, syscalls/echo, server CPU µs/echo, req/s.
# KIND=udp measures `--listen udp:` instead (each echo one datagram).
#
# `table` measures reactor, uring, tokio and threads at CONNS (default 50)
# and all five models at 1 connection (iterative serves one client at a
# time), and prints a markdown table, one row per model and count. Each
# row is one server under one loadgen run with two windows of SECS: first
# `perf stat` (syscalls, context switches, CPU migrations; software events,
# which work where hardware counters do not) with the server's CPU time,
# then `strace -c -f` for the syscalls by name. strace stops the server at
# every syscall, so its window serves fewer echoes and batches differently:
# read its counts per echo, never its rates. Echoes in each window are the
# bytes the server's connections sent (`ss -ti`) divided by 512, and the
# server is stopped (SIGSTOP) while a window opens and closes, so echoes
# and counts cover the same calls however slowly the tools start; the stop
# itself adds about one call and one switch per blocked thread. TCP only;
# also needs strace and ss. A row whose model cannot run here (uring where
# io_uring is blocked) says why instead.
#
# Needs a release build (`cargo build --release -p loadgen`) and perf.
# Linux only: perf tracepoints, taskset and /proc.
set -euo pipefail
[ "$(uname -s)" = Linux ] || { echo "syscalls_per_echo.sh: Linux only (perf, taskset, /proc)" >&2; exit 2; }
cd "$(dirname "$0")/.."
MODEL=${1:-reactor}
CONNS=${2:-50}
DEPTH=${3:-1}
SECS=${4:-3}
shift $(( $# < 4 ? $# : 4 ))
LOADGEN=${LOADGEN:-${CARGO_TARGET_DIR:-target}/release/loadgen}
KIND=${KIND:-tcp}
case "$KIND" in
  tcp) prefix="" ;;
  udp) prefix="udp:" ;;
  *) echo "KIND=$KIND: tcp or udp" >&2; exit 2 ;;
esac
[ -x "$LOADGEN" ] || { echo "build first: cargo build --release -p loadgen" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf not found (Debian: linux-perf)" >&2; exit 2; }

out=$(mktemp)
server='' gen='' perf='' tracer=''
cleanup() {
  local p
  # A server may be stopped (table): let it go on, so that loadgen's drain
  # and the SIGTERM below are answered.
  [ -n "$server" ] && kill -CONT "$server" 2>/dev/null
  # Interrupted, they still write their files: wait before removing them.
  for p in $tracer $perf $gen; do kill -INT "$p" 2>/dev/null || true; done
  for p in $tracer $perf $gen; do wait "$p" 2>/dev/null || true; done
  [ -n "$server" ] && kill "$server" 2>/dev/null
  rm -f "$out" "$out".*
}
trap cleanup EXIT

# Starts MODEL with the echod arguments after it, pinned to CPU 0; sets
# $server and $addr. Returns 1, with echod's one-line reason in $why, if it
# did not start (uring without io_uring).
start_server() {
  local model=$1
  shift
  taskset -c 0 "$LOADGEN" serve -- --model "$model" --listen "${prefix}127.0.0.1:0" "$@" >"$out" 2>"$out.err" &
  server=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$out" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
  done
  addr=$(sed -n "s#listening on $KIND://##p" "$out" | head -1)
  why=$(grep -v '^echod: started' "$out.err" | head -1)
  [ -n "$addr" ]
}

stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
}

ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

# Starts the closed-loop load from CPU 1 in the background; $gen its pid.
start_load() {
  taskset -c 1 "$LOADGEN" run --target "$prefix$addr" --connections "$1" --depth "$DEPTH" \
    --warmup 1s --duration "$2" --quiet --json "$out.json" &
  gen=$!
}

# Bytes the server's connections have sent so far: 512 per echo.
sent() {
  ss -tinH state established "( sport = :${addr##*:} )" |
    awk -F'bytes_sent:' 'NF > 1 {split($2, f, " "); s += f[1]} END {printf "%.0f\n", s}'
}

# Stops the server (every thread) or lets it go on. A window opens and
# closes with the server stopped, so the bytes it has sent and the
# counters agree exactly, however slowly the tools start.
pause() {
  kill -STOP "$server"
  # T: stopped; t: stopped under strace.
  until sed 's/.*) //' /proc/"$server"/task/*/stat | awk '$1 !~ /^[Tt]$/ {n++} END {exit n > 0}'; do
    sleep 0.01
  done
}
resume() { kill -CONT "$server"; }

# The server's CPU time in ns (schedstat: exact, where /proc's ticks are
# 10 ms), and its voluntary context switches: both summed over threads.
cpu_ns() { awk '{s += $1} END {printf "%.0f\n", s}' /proc/"$server"/task/*/schedstat; }
voluntary() { awk '/^voluntary_ctxt_switches/ {s += $2} END {printf "%.0f\n", s}' /proc/"$server"/task/*/status; }

# One row of the table: MODEL CONNS [ECHOD_ARGS...], appended to $out.rows
# as tab-separated fields: model, conns, then either "n/a" and the reason,
# or the perf window's echoes, syscalls, context switches (all, then the
# voluntary ones), migrations and CPU ns, the strace window's echoes, and
# strace's summary file.
row() {
  local model=$1 conns=$2 b0 b1 b2 b3 t0 t1 v0 v1
  shift 2
  if ! start_server "$model" "$@"; then
    printf '%s\t%s\tn/a\t%s\n' "$model" "$conns" "$why" >>"$out.rows"
    stop_server
    return
  fi
  # Load for both windows and the gaps around them, so that neither
  # window sees connections open or close; stopped with SIGINT after them.
  start_load "$conns" 1h 2>"$out.gen"
  sleep 1.5
  # perf starts with its counters off and counts between "enable" and
  # "disable" (--control): the server is stopped at both.
  mkfifo "$out.ctl" "$out.ack"
  perf stat -D -1 --control "fifo:$out.ctl,$out.ack" -p "$server" -x, -o "$out.perf" \
    -e raw_syscalls:sys_enter,context-switches,cpu-migrations 2>/dev/null &
  perf=$!
  exec 8>"$out.ctl" 9<"$out.ack"
  pause
  echo enable >&8; read -r -u 9
  b0=$(sent); t0=$(cpu_ns); v0=$(voluntary)
  resume
  sleep "$SECS"
  pause
  t1=$(cpu_ns); v1=$(voluntary); b1=$(sent)
  echo disable >&8; read -r -u 9
  resume
  exec 8>&- 9<&-
  kill -INT $perf; wait $perf || true
  perf=
  rm -f "$out.ctl" "$out.ack"
  sleep 0.5
  # strace says "attached" once it traces every thread, and prints its
  # summary when interrupted.
  pause
  b2=$(sent)
  strace -c -f -p "$server" -o "$out.strace.$model.$conns" 2>"$out.strace.err" &
  tracer=$!
  for _ in $(seq 1000); do
    grep -q attached "$out.strace.err" && break
    kill -0 $tracer 2>/dev/null || { echo "strace: $(cat "$out.strace.err")" >&2; exit 1; }
    sleep 0.01
  done
  resume
  sleep "$SECS"
  pause
  b3=$(sent)
  kill -INT $tracer; wait $tracer || true
  tracer=
  resume
  kill -INT $gen
  # 130: interrupted, as asked. Anything else: the load failed.
  wait $gen || [ $? = 130 ] || { echo "$model, $conns connection(s): loadgen failed: $(cat "$out.gen")" >&2; exit 1; }
  gen=
  stop_server
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$model" "$conns" "$(( (b1 - b0) / 512 ))" \
    "$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$out.perf")" \
    "$(awk -F, '/context-switches/ {print $1}' "$out.perf")" "$(( v1 - v0 ))" \
    "$(awk -F, '/cpu-migrations/ {print $1}' "$out.perf")" "$(( t1 - t0 ))" \
    "$(( (b3 - b2) / 512 ))" "$out.strace.$model.$conns" >>"$out.rows"
  echo "  done: $model, $conns connection(s)" >&2
}

if [ "$MODEL" = table ]; then
  [ "$KIND" = tcp ] || { echo "table: TCP only (echoes are counted from ss's TCP byte counts)" >&2; exit 2; }
  command -v strace >/dev/null || { echo "strace not found (Debian: strace)" >&2; exit 2; }
  command -v ss >/dev/null || { echo "ss not found (Debian: iproute2)" >&2; exit 2; }
  : >"$out.rows"
  for m in reactor uring tokio threads; do row "$m" "$CONNS" "$@"; done
  for m in reactor uring tokio threads iterative; do row "$m" 1 "$@"; done
  python3 - "$out.rows" "$CONNS" "$DEPTH" "$SECS" <<'PY'
import sys

rows_file, conns, depth, secs = sys.argv[1:]


def strace_counts(path):
    """(calls, errors) per syscall name from `strace -c`'s summary."""
    counts = {}
    for line in open(path):
        f = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        if len(f) >= 5 and f[3].isdigit() and f[-1] != "total":
            counts[f[-1]] = (int(f[3]), int(f[4]) if len(f) == 6 else 0)
    return counts


rows = []
for line in open(rows_file):
    f = line.rstrip("\n").split("\t")
    if f[2] == "n/a":
        rows.append((f[0], f[1], None, f[3]))
        continue
    echoes, calls, switches, voluntary, migrations, cpu_ns, s_echoes = map(int, f[2:9])
    traced = {k: (c / max(s_echoes, 1), e / max(s_echoes, 1)) for k, (c, e) in strace_counts(f[9]).items()}
    rows.append((f[0], f[1], (echoes, calls, switches, voluntary, migrations, cpu_ns, s_echoes), traced))

# The usual suspects always (a 0.00 says something too), then any other
# syscall that reaches 0.01 per echo in some row; the rest are "other".
first = ["epoll_wait", "recvfrom", "sendto", "io_uring_enter", "futex"]
top = {}
for _, _, m, traced in rows:
    if m:
        for k, (c, _) in traced.items():
            top[k] = max(top.get(k, 0), c)
names = list(first)
names += sorted((n for n in top if n not in names and top[n] >= 0.01), key=lambda n: -top[n])

print(f"512 B closed loop, depth {depth}, {conns} connections and 1; per echo, in a {secs} s window "
      f"under perf stat, then a {secs} s window under strace -c -f (\"failed\": calls that returned an error)")
print()
head = (["model", "conns", "echoes", "syscalls", "context switches", "of them voluntary",
         "CPU migrations", "server CPU µs", "echoes under strace"] + names + ["other"])
print("| " + " | ".join(head) + " |")
print("|---|" + "---:|" * (len(head) - 1))
for model, conns, m, traced in rows:
    if m is None:
        print(f"| {model} | {conns} | n/a: {traced} |" + " |" * (len(head) - 3))
        continue
    echoes, calls, switches, voluntary, migrations, cpu_ns, s_echoes = m
    per = lambda x: f"{x / max(echoes, 1):.2f}"

    def cell(name):
        c, e = traced.get(name, (0, 0))
        return f"{c:.2f}" + (f" ({e:.2f} failed)" if e >= 0.005 else "")

    other = sum(c for k, (c, _) in traced.items() if k not in names)
    cells = ([model, conns, str(echoes), per(calls), per(switches), per(voluntary), per(migrations),
              f"{cpu_ns / 1000 / max(echoes, 1):.2f}", str(s_echoes)]
             + [cell(n) for n in names] + [f"{other:.2f}"])
    print("| " + " | ".join(cells) + " |")
PY
  exit 0
fi

start_server "$MODEL" "$@" || { echo "server did not start: $why" >&2; exit 1; }
# Warm-up and connection set-up are outside the counted window: perf is
# attached for exactly the measurement window (SECS), after 1 s of load.
start_load "$CONNS" "${SECS}s"
sleep 1
t0=$(ticks)
perf stat -e raw_syscalls:sys_enter -p "$server" -x, -o "$out.perf" -- sleep "$SECS"
t1=$(ticks)
wait $gen; gen=
requests=$(python3 -c "import json;print(json.load(open('$out.json'))['requests'])")
rps=$(python3 -c "import json;print(round(json.load(open('$out.json'))['throughput']['requests_per_sec']))")
calls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$out.perf")
hz=$(getconf CLK_TCK)
python3 - "$MODEL" "$CONNS" "$DEPTH" "$requests" "$calls" "$t0" "$t1" "$hz" "$rps" "$KIND" <<'PY'
import sys
model, conns, depth, req, calls, t0, t1, hz, rps, kind = sys.argv[1:]
req, calls = int(req), int(calls)
cpu_us = (int(t1) - int(t0)) / int(hz) * 1e6
print(f"{model:9} {kind} conns {conns:>5} depth {depth:>2}: {req} echoes, "
      f"{calls / req:.2f} syscalls/echo, {cpu_us / req:.2f} µs server CPU/echo, {rps} req/s")
PY
