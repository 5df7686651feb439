#!/usr/bin/env bash
# Side-by-side transport benchmarks, in one run, on loopback:
#   TCP echo: `wirelab tcp serve --quiet` vs `socat ... PIPE` (round trips/s, stream MiB/s)
#   UDP send: `wirelab udp send --rate 0 --size 64` vs `iperf3 -u -l 64 -b 0` (datagrams/s)
# Prints each figure and the ratio wirelab/peer (>= 1.0 means wirelab is at least as fast).
# Usage: benches/transport.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
rounds=${2:-3}
for p in socat iperf3 python3; do
  command -v "$p" >/dev/null || { echo "benches/transport.sh needs $p (apt-get install $p)"; exit 2; }
done
cargo build --release --quiet --bin wirelab --example echo_load
wl=target/release/wirelab
load=target/release/examples/echo_load
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened"; exit 1; }
median() { python3 -c 'import sys,statistics;print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
ratio() { python3 -c 'import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print(f"{a/b:.2f}x" if b else "n/a")' "$1" "$2"; }

pw=$(free_port); "$wl" tcp serve --quiet --listen 127.0.0.1:"$pw" >/dev/null & pids+=($!)
ps=$(free_port); socat TCP-LISTEN:"$ps",bind=127.0.0.1,reuseaddr,fork PIPE & pids+=($!)
wait_port "$pw"; wait_port "$ps"

declare -a w_rtt s_rtt w_bw s_bw
for r in $(seq "$rounds"); do   # interleaved, so both see the same machine noise
  w_rtt+=("$("$load" 127.0.0.1:"$pw" rtt "$secs")")
  s_rtt+=("$("$load" 127.0.0.1:"$ps" rtt "$secs")")
  w_bw+=("$("$load" 127.0.0.1:"$pw" stream 1024)")
  s_bw+=("$("$load" 127.0.0.1:"$ps" stream 1024)")
done
a=$(median "${w_rtt[@]}"); b=$(median "${s_rtt[@]}")
echo "tcp echo round trips/s (64 B, 1 conn): wirelab $a  socat $b  ratio $(ratio "$a" "$b")"
a=$(median "${w_bw[@]}"); b=$(median "${s_bw[@]}")
echo "tcp echo stream MiB/s (1 GiB, 1 conn):  wirelab $a  socat $b  ratio $(ratio "$a" "$b")"

# UDP: sender datagrams/s with 64-byte payloads, no loss, as fast as the socket takes them.
pi=$(free_port); iperf3 -s -B 127.0.0.1 -p "$pi" >/dev/null 2>&1 & pids+=($!)
wait_port "$pi"
count=$(python3 -c "print(int(1500000*$secs/3))")
declare -a w_pps i_pps
for r in $(seq "$rounds"); do
  pu=$(free_port); rf=$(mktemp); "$wl" udp recv --listen 127.0.0.1:"$pu" --timeout 2 --json >"$rf" & pids+=($!)
  for _ in $(seq 100); do grep -q listening "$rf" && break; sleep 0.05; done
  w_pps+=("$("$wl" udp send 127.0.0.1:"$pu" --count "$count" --size 64 --rate 0 --seed "$r" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["rate_pps"])')")
  i_pps+=("$(iperf3 -c 127.0.0.1 -p "$pi" -u -l 64 -b 0 -t "$secs" -J | python3 -c 'import json,sys;d=json.load(sys.stdin)["end"]["sum"];print(d["packets"]/d["seconds"])')")
done
a=$(median "${w_pps[@]}"); b=$(median "${i_pps[@]}")
echo "udp send datagrams/s (64 B, no loss):   wirelab $a  iperf3 $b  ratio $(ratio "$a" "$b")"
