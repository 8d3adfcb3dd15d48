# Sourced by benches/flood.sh and benches/tcpkali_flood.sh: starts one
# server pinned to CPU 0 and waits for its address.
#
#   start_server SPEC LOG    sets $server (its pid) and $addr (HOST:PORT)
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
