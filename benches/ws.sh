#!/usr/bin/env bash
# WebSocket echo benchmark: `wirelab ws serve --echo` vs a tokio-tungstenite echo server
# (examples/ws_bench.rs), driven by the same tokio-tungstenite load client, side by side.
# Workloads: round trips/s of a 32-byte text message with 1 and 8 concurrent clients, and
# throughput of 1 MiB binary messages (one client, echo). Each pair runs ROUNDS times,
# alternating servers; the best run of each counts. Ratio = wirelab / tokio-tungstenite.
# Also printed: the server process's CPU time per round trip (from /proc/PID/stat), which a
# noisy shared machine disturbs less than wall-clock rates; its ratio is
# tokio-tungstenite / wirelab, so above 1 means wirelab spends less CPU.
# Compressed rows (permessage-deflate): `ws serve --echo --compress` vs Python `websockets`
# with its default compression (tests/peers/ws_deflate_server.py), driven by wirelab's own
# client with compression (`ws_bench load-deflate`; tokio-tungstenite has no compression),
# 32 B and 64 KiB chat-like text.
#   benches/ws.sh                          # SECONDS_PER_RUN=5 ROUNDS=3
#   SECONDS_PER_RUN=2 ROUNDS=1 benches/ws.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_RUN:-5}
rounds=${ROUNDS:-3}
cargo build --release --quiet --bin wirelab --example ws_bench
W=target/release/wirelab
B=target/release/examples/ws_bench
tck=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pids=()
addrs=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start() { # name cmd... : starts a server, appends its pid to pids, its address to addrs
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    if grep -q 'listening on' "$tmp/$name.out"; then break; fi
    sleep 0.05
  done
  addrs+=("$(grep -o 'listening on [^ ]*' "$tmp/$name.out" | head -1 | cut -d' ' -f3)")
}
start wirelab "$W" ws serve --listen 127.0.0.1:0 --echo --quiet
start tungstenite "$B" tungstenite-echo 127.0.0.1:0
start wirelab-deflate "$W" ws serve --listen 127.0.0.1:0 --echo --quiet --compress
start python-deflate .venv/bin/python tests/peers/ws_deflate_server.py default

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # idx clients size kind field -> "rate cpu_us_per_round_trip"
  local pid=${pids[$1]} addr=${addrs[$1]} t0 t1 line
  t0=$(ticks "$pid")
  if [ "$4" = deflate ]; then
    line=$("$B" load-deflate "ws://$addr/" "$2" "$secs" "$3")
  else
    line=$("$B" load "ws://$addr/" "$2" "$secs" "$3" "$4")
  fi
  t1=$(ticks "$pid")
  awk -v l="$line" -v f="$5" -v d="$((t1 - t0))" -v tck="$tck" 'BEGIN {
    n = split(l, a, " "); for (i = 1; i < n; i++) { if (a[i] == f) r = a[i+1]; if (a[i] == "round_trips") c = a[i+1] }
    printf "%s %.1f\n", r, (c > 0) ? d / tck * 1e6 / c : 0 }'
}

printf '%-30s %14s %16s %6s   %s\n' workload wirelab tokio-tungstenite ratio \
  "server CPU per round trip: wirelab / tokio-tungstenite (ratio)"
run() { # label clients size kind field unit [first server index]
  local w=0 t=0 wc=1e99 tc=1e99 r c i=${7:-0}
  for _ in $(seq "$rounds"); do
    read -r r c < <(measure "$i" "$2" "$3" "$4" "$5")
    w=$(awk -v a="$w" -v b="$r" 'BEGIN{print (b>a)?b:a}'); wc=$(awk -v a="$wc" -v b="$c" 'BEGIN{print (b<a)?b:a}')
    read -r r c < <(measure "$((i + 1))" "$2" "$3" "$4" "$5")
    t=$(awk -v a="$t" -v b="$r" 'BEGIN{print (b>a)?b:a}'); tc=$(awk -v a="$tc" -v b="$c" 'BEGIN{print (b<a)?b:a}')
  done
  printf '%-30s %14s %16s %5.2fx   %s / %s us (%.2fx)\n' "$1" "$w $6" "$t $6" \
    "$(awk -v a="$w" -v b="$t" 'BEGIN{print a/b}')" "$wc" "$tc" "$(awk -v a="$tc" -v b="$wc" 'BEGIN{print (b>0)?a/b:0}')"
}
run "echo 32 B text, 1 client" 1 32 text per_s rt/s
run "echo 32 B text, 8 clients" 8 32 text per_s rt/s
run "echo 1 MiB binary, 1 client" 1 1048576 binary mib_per_s MiB/s
printf '\n%-30s %14s %16s %6s   %s\n' "permessage-deflate" wirelab "Python websockets" ratio \
  "server CPU per round trip: wirelab / Python websockets (ratio)"
run "echo 32 B text, compressed" 1 32 deflate per_s rt/s 2
run "echo 64 KiB text, compressed" 1 65536 deflate per_s rt/s 2
