#!/usr/bin/env bash
# Event hub benchmark (examples/hub_bench.rs drives it with wirelab's own WebSocket client):
#  1. fan-out: one emitter, CLIENTS (100) clients in one room; events/s emitted and
#     deliveries/s until every client has every event;
#  2. durable enqueue -> deliver -> ack, one identified client: every event is written to
#     SQLite (WAL) before delivery and deleted on the client's ack; messages/s until all acks
#     are committed. Side by side with Redis Streams doing the same job (XADD; XREADGROUP
#     COUNT 100 in a group; one XACK per entry), redis-server from Debian with appendonly yes,
#     appendfsync everysec (the hub's WAL with synchronous=NORMAL does not fsync each commit
#     either; --queue-cap is raised so that no event is dropped, Redis runs without MAXLEN).
#     Ratio = wirelab / Redis (goal >= 1.0).
# Each run is repeated ROUNDS times (alternating); the best counts.
#   benches/hub.sh                      # EVENTS=2000 MESSAGES=20000 ROUNDS=3
#   EVENTS=500 MESSAGES=5000 ROUNDS=1 benches/hub.sh
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-2000}
messages=${MESSAGES:-20000}
clients=${CLIENTS:-100}
rounds=${ROUNDS:-3}
. benches/lib.sh
need_debian redis-server
cargo build --release --quiet --bin wirelab --example hub_bench
W=target/release/wirelab
B=target/release/examples/hub_bench

"$W" hub serve --listen 127.0.0.1:0 --data "$tmp/hub" --quiet --max-clients 10000 --queue-cap 100000000 >"$tmp/hub.out" 2>&1 &
pids+=($!)
wait_for "$tmp/hub.out" 'listening on'
hub=$(grep -o 'listening on [^ ]*' "$tmp/hub.out" | head -1 | cut -d' ' -f3)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/redis"
redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/redis" --save '' \
  --appendonly yes --appendfsync everysec --daemonize no --logfile "$tmp/redis.log" &
pids+=($!)
for _ in $(seq 200); do
  if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
  sleep 0.05
done

field() { awk -v f="$1" '{for(i=1;i<NF;i++) if($i==f) print $(i+1)}'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN{print (b>a)?b:a}'; }

fan=0; fand=0; dur=0; red=0
for _ in $(seq "$rounds"); do
  out=$("$B" fanout "ws://$hub/fan" "$clients" "$events")
  fan=$(max "$fan" "$(echo "$out" | field per_s)")
  fand=$(max "$fand" "$(echo "$out" | field deliveries_per_s)")
  dur=$(max "$dur" "$("$B" durable "ws://$hub/" "$messages" | field per_s)")
  red=$(max "$red" "$("$B" redis "$port" "$messages" | field per_s)")
done
printf '%-58s %14s\n' "fan-out, 1 emitter -> $clients clients in one room" "$fan events/s ($fand deliveries/s)"
printf '%-58s %14s %14s %7s\n' workload wirelab "Redis Streams" ratio
printf '%-58s %14s %14s %6.2fx\n' "durable enqueue->deliver->ack, 1 client ($messages msgs)" \
  "$dur msg/s" "$red msg/s" "$(awk -v a="$dur" -v b="$red" 'BEGIN{print a/b}')"
