# Shared by the benchmark scripts (source it; it is not run on its own).

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# need_debian PROGRAM [PACKAGE]: installs the package when the program is missing.
need_debian() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "$(basename "$0"): installing ${2:-$1}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${2:-$1}" >/dev/null
  fi
}

# A scratch directory and the processes started by the script (add them to `pids`), both
# cleaned up on exit: SIGINT first, then SIGKILL.
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE PATTERN: waits (at most 10 s) until FILE contains PATTERN.
wait_for() {
  for _ in $(seq 200); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}
