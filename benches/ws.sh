#!/usr/bin/env bash
# WebSocket echo benchmark: `wirelab ws serve --echo` vs a tokio-tungstenite echo server
# (examples/ws_bench.rs), driven by the same tokio-tungstenite load client, side by side.
# Workloads: round trips/s of a 32-byte text message with 1 and 8 concurrent clients, and
# throughput of 1 MiB binary messages (one client, echo). Each pair runs ROUNDS times,
# alternating servers; the best run of each counts. Ratio = wirelab / tokio-tungstenite.
#   benches/ws.sh                      # SECONDS=5 ROUNDS=3
#   SECONDS_PER_RUN=2 ROUNDS=1 benches/ws.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-3}
cargo build --release --quiet --bin wirelab --example ws_bench
W=target/release/wirelab
B=target/release/examples/ws_bench
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start() { # name cmd... -> sets addr_<name>
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    if grep -q 'listening on' "$tmp/$name.out"; then break; fi
    sleep 0.05
  done
  grep -o 'listening on [^ ]*' "$tmp/$name.out" | head -1 | cut -d' ' -f3
}
wl=$(start wirelab "$W" ws serve --listen 127.0.0.1:0 --echo --quiet)
tt=$(start tungstenite "$B" tungstenite-echo 127.0.0.1:0)

best() { # url clients size kind field
  local b=0 v
  v=$("$B" load "ws://$1/" "$2" "$secs" "$3" "$4" | awk -v f="$5" '{for(i=1;i<NF;i++) if($i==f) print $(i+1)}')
  echo "$v"
}
printf '%-36s %14s %16s %7s\n' workload "wirelab" "tokio-tungstenite" ratio
run() { # label clients size kind field unit
  local w=0 t=0 v
  for _ in $(seq "$rounds"); do
    v=$(best "$wl" "$2" "$3" "$4" "$5"); w=$(awk -v a="$w" -v b="$v" 'BEGIN{print (b>a)?b:a}')
    v=$(best "$tt" "$2" "$3" "$4" "$5"); t=$(awk -v a="$t" -v b="$v" 'BEGIN{print (b>a)?b:a}')
  done
  printf '%-36s %14s %16s %6.2fx\n' "$1" "$w $6" "$t $6" "$(awk -v a="$w" -v b="$t" 'BEGIN{print a/b}')"
}
run "echo 32 B text, 1 client" 1 32 text per_s rt/s
run "echo 32 B text, 8 clients" 8 32 text per_s rt/s
run "echo 1 MiB binary, 1 client" 1 1048576 binary mib_per_s MiB/s
