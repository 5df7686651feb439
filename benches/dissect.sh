#!/usr/bin/env bash
# Benchmark (not a test): wirelab dissect against tcpdump and tshark on the same capture of
# real loopback traffic (iperf3 TCP and UDP, snap length 128), plus peak RSS at two sizes.
#
#   sudo benches/dissect.sh            # N=1000000 packets, tshark runs on TSHARK_N of them
#   N=200000 TSHARK_N=20000 benches/dissect.sh
#
# Then the cost of TCP stream decoding (the default) over --no-reassemble, on that capture and
# on a full-snap-length WebSocket capture (python `websockets`, messages of 10 B to 200 kB, so
# many span segments and are reassembled).
#
# Needs root (tcpdump on lo), iperf3, tcpdump, tshark, editcap, GNU time, .venv with websockets.
# Prints packets/s and ratios; goals: summary >= 4x tcpdump, detail and json >= 10x tshark,
# peak RSS flat < 32 MB, stream decoding <= 10% slower than per packet.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
TSHARK_N=${TSHARK_N:-100000}
SMALL_N=${SMALL_N:-10000}
WS_N=${WS_N:-200000}
work=${WORK:-$(mktemp -d)}
big="$work/big.pcap"

cargo build --release -q
bin=target/release/wirelab

if [ ! -s "$big" ]; then
  port=$((20000 + RANDOM % 20000))
  iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  srv=$!
  tcpdump -i lo -s 128 -B 65536 --immediate-mode -c "$N" -w "$big" "port $port" 2>"$work/td.log" &
  td=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/td.log" && break; sleep 0.05; done
  # Alternate TCP and UDP runs until tcpdump has its packets.
  while kill -0 "$td" 2>/dev/null; do
    iperf3 -c 127.0.0.1 -p "$port" -t 2 -l 1k >/dev/null 2>&1 || true
    kill -0 "$td" 2>/dev/null || break
    iperf3 -c 127.0.0.1 -p "$port" -u -b 0 -l 200 -t 2 >/dev/null 2>&1 || true
  done
  kill "$srv" 2>/dev/null || true
fi
editcap -r "$big" "$work/small.pcap" "1-$SMALL_N" 2>/dev/null
editcap -r "$big" "$work/tshark.pcap" "1-$TSHARK_N" 2>/dev/null
count() { tcpdump -r "$1" 2>/dev/null | wc -l; }
n_big=$(count "$big")
n_ts=$(count "$work/tshark.pcap")
echo "capture: $n_big packets ($(du -h "$big" | cut -f1)), tshark subset $n_ts packets"

# run NAME FILE PACKETS CMD...: wall seconds, packets/s and peak RSS (KB) of CMD > /dev/null.
run() {
  local name=$1 file=$2 n=$3; shift 3
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" "$file" >/dev/null 2>"$work/err" || { echo "$name failed: $(tail -2 "$work/err")"; return 1; }
  read -r secs rss <"$work/t"
  local pps
  pps=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n / 0.01) }')
  printf "%-34s %9s s %12s pkt/s %8s KB peak RSS\n" "$name" "$secs" "$pps" "$rss"
  eval "pps_${name//[^a-z_]/_}=$pps"
}

echo "--- summary vs tcpdump -nn ($n_big packets)"
run wl_summary "$big" "$n_big" "$bin" dissect --format summary
run tcpdump "$big" "$n_big" tcpdump -nn -r
echo "--- detail vs tshark -V ($n_ts packets)"
run wl_detail "$work/tshark.pcap" "$n_ts" "$bin" dissect --format detail
run tshark_v "$work/tshark.pcap" "$n_ts" tshark -V -r
echo "--- json vs tshark -T json ($n_ts packets)"
run wl_json "$work/tshark.pcap" "$n_ts" "$bin" dissect --format json
run tshark_json "$work/tshark.pcap" "$n_ts" tshark -T json -r
echo "--- peak RSS: $SMALL_N vs $n_big packets (summary above; json, the view that allocates most)"
run wl_summary_small "$work/small.pcap" "$SMALL_N" "$bin" dissect --format summary
run wl_json_small "$work/small.pcap" "$SMALL_N" "$bin" dissect --format json
run wl_json_big "$big" "$n_big" "$bin" dissect --format json
run wl_stats_big "$big" "$n_big" "$bin" dissect --stats

echo "--- stream decoding (default) vs --no-reassemble, summary view"
run wl_summary_streams "$big" "$n_big" "$bin" dissect --format summary
run wl_summary_per_packet "$big" "$n_big" "$bin" dissect --format summary --no-reassemble
ws="$work/ws.pcap"
if [ ! -s "$ws" ] && ! .venv/bin/python -c 'import websockets' 2>/dev/null; then
  echo "    (no websocket capture: .venv lacks python websockets; scripts/test creates it)"
elif [ ! -s "$ws" ]; then
  port=$((20000 + RANDOM % 20000))
  tcpdump -i lo --immediate-mode -B 65536 -c "$WS_N" -w "$ws" "tcp port $port" 2>"$work/tdws.log" &
  td=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/tdws.log" && break; sleep 0.05; done
  .venv/bin/python - "$port" "$td" <<'PY' >/dev/null 2>&1 || true
import asyncio, os, random, sys
import websockets
port, td = int(sys.argv[1]), int(sys.argv[2])
def alive():
    try:
        os.kill(td, 0)
        return True
    except OSError:
        return False
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    rnd = random.Random(7)
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, max_size=None):
        async with websockets.connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None) as c:
            while alive():
                n = rnd.choice([10, 100, 1000, 20000, 200000])
                await c.send(os.urandom(n) if rnd.random() < 0.5 else "x" * n)
                await c.recv()
asyncio.run(main())
PY
  wait "$td" 2>/dev/null || true
fi
if [ -s "$ws" ]; then
  n_ws=$(count "$ws")
  echo "    (websocket capture: $n_ws packets, $(du -h "$ws" | cut -f1), full snap length)"
  run wl_ws_streams "$ws" "$n_ws" "$bin" dissect --format summary
  run wl_ws_per_packet "$ws" "$n_ws" "$bin" dissect --format summary --no-reassemble
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
cost() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (b / a - 1) * 100 }'; }
echo "--- ratios (wirelab / peer, packets per second)"
echo "summary / tcpdump -nn:   $(ratio "$pps_wl_summary" "$pps_tcpdump")  (goal >= 4x)"
echo "detail  / tshark -V:     $(ratio "$pps_wl_detail" "$pps_tshark_v")  (goal >= 10x)"
echo "json    / tshark -T json: $(ratio "$pps_wl_json" "$pps_tshark_json")  (goal >= 10x)"
echo "stream decoding cost, iperf3 capture:    $(cost "$pps_wl_summary_streams" "$pps_wl_summary_per_packet")  (time over --no-reassemble; goal <= +10%)"
if [ -n "${pps_wl_ws_streams:-}" ]; then
  echo "stream decoding cost, websocket capture: $(cost "$pps_wl_ws_streams" "$pps_wl_ws_per_packet")  (goal <= +10%)"
fi
echo "capture kept in $work"
