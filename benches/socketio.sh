#!/usr/bin/env bash
# Socket.IO benchmark: one Node load client (socket.io-client, WebSocket transport,
# benches/socketio_load.mjs) against `wirelab hub serve --relay rooms` and against the npm
# socket.io server with the same handlers (benches/socketio_server.mjs), in one run:
#  1. fan-out: CLIENTS (100) clients in one room, one of them emits EVENTS events;
#     deliveries/s until every other client has every event;
#  2. emit-with-ack round trips/s with 1 and 8 clients (SECONDS each);
#  and the server's CPU time (utime+stime, /proc/PID/stat) per delivery / round trip.
# wirelab runs twice: with connection state recovery (the default: every relayed event is
# written to SQLite first) and with --no-recovery (what socket.io does without
# connectionStateRecovery). Servers and the load client are separate processes.
#   benches/socketio.sh                        # CLIENTS=100 EVENTS=2000 SECONDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${CLIENTS:-100}
events=${EVENTS:-2000}
secs=${SECONDS_EACH:-3}
. benches/lib.sh
[ -d node_modules/socket.io ] && [ -d node_modules/socket.io-client ] ||
  npm install --no-save --no-package-lock --no-audit --no-fund socket.io@4.8.1 socket.io-client@4.8.1 >/dev/null
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin wirelab   # SKIP_BUILD=1: use the binary there
W=target/release/wirelab

run_load() { # NAME URL PID
  echo "== $1"
  node benches/socketio_load.mjs "$2" "$3" fanout "$clients" "$events"
  node benches/socketio_load.mjs "$2" "$3" ack 1 "$secs"
  node benches/socketio_load.mjs "$2" "$3" ack 8 "$secs"
}

start_wirelab() { # NAME ARGS...
  local name=$1; shift
  "$W" hub serve --listen 127.0.0.1:0 --data "$tmp/$name" --quiet --relay rooms --max-clients 10000 "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  wait_for "$tmp/$name.out" 'listening on'
  addr=$(grep -o 'listening on [^ ]*' "$tmp/$name.out" | head -1 | cut -d' ' -f3)
  run_load "wirelab hub serve $*" "http://$addr/" "$!"
}

start_wirelab recovery
start_wirelab plain --no-recovery

node benches/socketio_server.mjs >"$tmp/node.out" 2>&1 &
pids+=($!)
wait_for "$tmp/node.out" 'listening on'
addr=$(grep -o 'listening on [^ ]*' "$tmp/node.out" | cut -d' ' -f3)
run_load "npm socket.io $(node -p 'require("./node_modules/socket.io/package.json").version') on node $(node --version)" "http://$addr/" "$!"
