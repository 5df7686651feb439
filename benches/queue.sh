#!/usr/bin/env bash
# Work-queue benchmark (examples/queue_bench.rs drives it):
#  jobs/s through a work queue (enqueue -> deliver to one consumer -> job_ack), producer and
#  consumers on wirelab's own WebSocket client, with 1 and 4 consumers (PREFETCH jobs in flight
#  each, default 1 as `hub listen --queue` uses):
#   1. the hub with its embedded store (SQLite, WAL, synchronous=NORMAL) vs the hub on Redis;
#   2. the hub on Redis vs raw Redis Streams with no hub (XADD pipelined; XREADGROUP COUNT
#      PREFETCH; XACK + XDEL per job): the overhead the hub adds, as a ratio.
# redis-server from Debian, no persistence (--save '' --appendonly no), on a free port.
# Each run is repeated ROUNDS times; the best counts.
#   benches/queue.sh                          # JOBS=5000 ROUNDS=2 PREFETCH=1
#   JOBS=2000 ROUNDS=1 PREFETCH=16 benches/queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-5000}
rounds=${ROUNDS:-2}
prefetch=${PREFETCH:-1}
. benches/lib.sh
need_debian redis-server
cargo build --release --quiet --bin wirelab --example queue_bench
W=target/release/wirelab
B=target/release/examples/queue_bench

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
  --logfile "$tmp/redis.log" &
pids+=($!)
for _ in $(seq 200); do
  if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
  sleep 0.05
done

start_hub() { # name args...
  local name=$1; shift
  "$W" hub serve --listen 127.0.0.1:0 --quiet "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  wait_for "$tmp/$name.out" 'listening on'
  grep -o 'listening on [^ ]*' "$tmp/$name.out" | head -1 | cut -d' ' -f3
}
emb=$(start_hub embedded --data "$tmp/hub")
red=$(start_hub redis --store "redis://127.0.0.1:$port")

field() { awk -v f="$1" '{for(i=1;i<NF;i++) if($i==f) print $(i+1)}'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN{print (b>a)?b:a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }

printf '%-34s %16s %16s %16s %9s %9s\n' "jobs/s ($jobs jobs, prefetch $prefetch)" \
  "hub embedded" "hub on Redis" "raw Streams" "emb/Red" "hub/raw"
for c in 1 4; do
  e=0; r=0; x=0
  for i in $(seq "$rounds"); do
    e=$(max "$e" "$("$B" hub "ws://$emb/c$c-$i" "$jobs" "$c" "$prefetch" | field per_s)")
    r=$(max "$r" "$("$B" hub "ws://$red/c$c-$i" "$jobs" "$c" "$prefetch" | field per_s)")
    x=$(max "$x" "$("$B" raw "redis://127.0.0.1:$port" "$jobs" "$c" "$prefetch" | field per_s)")
  done
  printf '%-34s %16s %16s %16s %9s %9s\n' "$c consumer(s)" "$e" "$r" "$x" "$(ratio "$e" "$r")" "$(ratio "$r" "$x")"
done
