#!/usr/bin/env bash
# Regenerates the flamegraphs in this folder: one SVG per echod model under
# the same load, so their shapes can be compared.
#
#   bash flamegraphs/regen.sh [MODELS] [CONNS] [SECS]
#   (defaults: "reactor tokio threads", 50 connections, 5 s; MODELS may
#   also name uring, the io_uring model: Linux only, and skipped with
#   echod's reason where io_uring is blocked)
#
# For each model: `loadgen serve -- --model M` pinned to CPU 0, driven by
# `loadgen run` (closed loop, 512 B, depth 1) pinned to CPU 1, sampled with
# `perf record -e cpu-clock` (a software event: hardware counters do not
# work on these VMs) for SECS seconds after 1 s of warm-up, then folded and
# drawn with inferno (installed from crates.io if missing).
#
# Whole stacks: `--call-graph dwarf,16384` on the ordinary release build
# (perf unwinds the copied stack with the .eh_frame tables every binary
# carries, the ones a panic unwinds with). Plain `-g` follows frame pointers, which neither
# our build nor the precompiled std nor libc keeps, so user-space stacks
# stopped after a frame or two (13.6% [unknown] in the reactor, its
# Reactor::run at 0.6%). Measured on all four models at 50 connections:
# - frame pointers (RUSTFLAGS="-C force-frame-pointers=yes", separate
#   target dir): no [unknown] frames, and whole stacks for reactor and
#   uring (tokio: all but 0.2%), but in threads 97% of the stacks ended
#   in the libc wrapper (`__libc_recv`, `__send`): the blocking calls go
#   through std and libc, which keep no frame pointers, and the chain
#   stops there. Where stacks were whole, a frame could still be missing
#   without a trace: std's write between Connection::drive and `__send`;
# - dwarf with perf's default 8 KiB of stack copied per sample: every
#   reactor stack cut short below echod::supervisor::run ([unknown]
#   root); 12 KiB: 91% still cut; 16 KiB: every stack of every model
#   reaches _start or the thread's start, 0.0% [unknown].
# The cost of dwarf is the copy: 16 KiB of stack per sample (about 16 MB
# of perf.data per 1000 samples, against 0.3 KB per sample with frame
# pointers), and perf script unwinding it afterwards. It is used because
# it is the one that gives whole stacks for every model, and it needs no
# second build. `--no-inline`: perf's inline expansion names the
# innermost inlined frame after its enclosing function, which put
# Connection::drive above the std call it makes; without it each frame
# is a real function (inlined ones, like Connection::pump, count in their
# caller). Identical functions may share one symbol after linking, so
# std's TcpStream write can show as `<&UnixStream as Write>::write`.
#
# Also writes MODEL.txt, which docs/performance.md and the teaching guides
# quote. Where the CPU was, by the leaf frame: the kernel (inside syscalls,
# or elsewhere: interrupts, softirq, scheduler) or user space, and there by
# crate (echod, mio, tokio, slab, io_uring) or libc, std and the rest. Then,
# from the whole stacks: the inclusive share of the model's own top
# function (its stacks, whatever runs on top), of [unknown] frames, and of
# stacks that reach _start or a thread's start.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${1:-"reactor tokio threads"}
CONNS=${2:-50}
SECS=${3:-5}
command -v perf >/dev/null || { echo "perf not found (Debian: linux-perf)" >&2; exit 2; }
if ! command -v inferno-flamegraph >/dev/null; then
  cargo install inferno --locked --quiet
fi
cargo build --release -p loadgen --quiet
LOADGEN=${CARGO_TARGET_DIR:-target}/release/loadgen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for model in $MODELS; do
  taskset -c 0 "$LOADGEN" serve -- --model "$model" --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
  server=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/out" && break; sleep 0.05; done
  addr=$(sed -n 's#listening on tcp://##p' "$work/out" | head -1)
  if [ -z "$addr" ]; then
    # A model this machine cannot run (uring without io_uring): echod's line.
    echo "$model: skipped, did not start: $(head -1 "$work/err")" >&2
    kill $server 2>/dev/null || true; wait $server 2>/dev/null || true
    continue
  fi
  taskset -c 1 "$LOADGEN" run --target "$addr" --connections "$CONNS" --warmup 1s \
    --duration "$((SECS + 1))s" --quiet &
  gen=$!
  sleep 1
  perf record -q -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$server" \
    -o "$work/perf.data" -- sleep "$SECS" 2>/dev/null
  wait $gen
  kill $server; wait $server 2>/dev/null || true
  perf script --no-inline -i "$work/perf.data" 2>/dev/null >"$work/stacks"
  inferno-collapse-perf --all <"$work/stacks" >"$work/folded"
  inferno-flamegraph --title "echod --model $model: $CONNS connections, 512 B ping-pong (perf cpu-clock)" \
    <"$work/folded" >"flamegraphs/$model.svg"
  samples=$(grep -c ' cpu-clock: *$' "$work/stacks" || true)
  python3 - "$work/folded" "$model" "$samples" >"flamegraphs/$model.txt" <<'PY'
import sys
CRATES = ("echod", "mio", "tokio", "slab", "io_uring")
# The function every stack of a model passes through, once stacks are whole.
TOP = {"reactor": "echod::reactor::Reactor::run",
       "tokio": "echod::models::tokio::run",
       "threads": "echod::models::blocking::clients::echo",
       "uring": "echod::models::uring::Uring::run"}
model = sys.argv[2]
top = TOP.get(model, f"echod::models::{model}::run")
total = user = in_syscall = unknown = whole = under_top = 0
by_crate = dict.fromkeys(CRATES, 0)
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip().rpartition(" ")
    n = int(n)
    frames = stack.split(";")  # frames[0] is the thread's name
    total += n
    leaf = frames[-1]
    if not leaf.endswith("_[k]"):
        user += n
        # The crate named first in the leaf: `<tokio::X as Y>::f` is tokio's.
        hits = [(leaf.find(c + "::"), c) for c in CRATES if c + "::" in leaf]
        if hits:
            by_crate[min(hits)[1]] += n
    elif any(f.startswith("entry_SYSCALL") for f in frames):
        in_syscall += n
    if any(f.startswith("[unknown]") for f in frames):
        unknown += n
    if len(frames) > 1 and frames[1] in ("_start", "clone3", "clone", "start_thread"):
        whole += n
    if top in frames:
        under_top += n
kernel = total - user
ours = sum(by_crate.values())
pct = lambda x: 100.0 * x / max(total, 1)
crates = ", ".join(f"{c} {pct(by_crate[c]):.1f}%" for c in CRATES)
print(f"{model}: {sys.argv[3]} samples at 999 Hz. Where the CPU was (leaf frame): "
      f"kernel {pct(kernel):.1f}% ({pct(in_syscall):.1f}% inside syscalls, "
      f"{pct(kernel - in_syscall):.1f}% elsewhere: interrupts, softirq, scheduler), "
      f"user space {pct(user):.1f}% (code of {crates}: {pct(ours):.1f}% together; "
      f"libc, std and the rest: {pct(user - ours):.1f}%)")
print(f"{model}: inclusive (whole stacks): {top} {pct(under_top):.1f}%, "
      f"[unknown] {pct(unknown):.1f}%, reaching _start or a thread's start {pct(whole):.1f}%")
PY
  cat "flamegraphs/$model.txt"
done
