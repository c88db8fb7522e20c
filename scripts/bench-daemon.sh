#!/usr/bin/env bash
# Benchmarks the switchyard daemon on loopback; the figures go to BENCHMARKS.md.
#
# 1. CPU and memory: the release daemon probes NODES emulated Lavalink nodes (one
#    `sim node` process each, in 5 regions) at a 1 s interval with a real redis-server.
#    After a warm-up, /proc/<pid>/stat and /proc/<pid>/status are sampled every second
#    for SAMPLE_SECONDS: CPU is the daemon's user+system time over wall time (100 % is
#    one core), memory its resident set (VmRSS).
# 2. API latency under load: wrk (Debian's package) sends a paced 1,000 requests/s to
#    the control panel's node list (100 nodes in the answer), to /api/status and, as a
#    control, to /healthz for LOAD_SECONDS each, while the probing goes on, and reports
#    p50/p99 latency.
#
# Each of RUNS runs starts a fresh daemon; the emulators and Redis are shared. The
# summary gives each run and the median over runs.
#
# Usage: scripts/bench-daemon.sh            (RUNS=3 NODES=100 SAMPLE_SECONDS=60 LOAD_SECONDS=30)
#        RUNS=1 SAMPLE_SECONDS=10 LOAD_SECONDS=5 scripts/bench-daemon.sh   (a quick look)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
NODES=${NODES:-100}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-60}
WARMUP_SECONDS=${WARMUP_SECONDS:-10}
LOAD_SECONDS=${LOAD_SECONDS:-30}
RATE=${RATE:-1000}
TARGET=${CARGO_TARGET_DIR:-target}
PASSWORD=bench-password
TOKEN=bench-token

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "== installing $2 (Debian package)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need redis-server redis-server
need curl curl

echo "== building the release daemon and emulator"
cargo build --release --locked -p switchyard-runtime --bin switchyard -p switchyard-sim --bin sim

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Free loopback ports, all held open at once so none is handed out twice.
mapfile -t PORTS < <(python3 - "$((NODES + 2))" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
)
REDIS_PORT=${PORTS[0]}
API_PORT=${PORTS[1]}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
PIDS+=($!)

entries=()
for i in $(seq 0 $((NODES - 1))); do
  port=${PORTS[$((i + 2))]}
  region="r$((i % 5))"
  "$TARGET/release/sim" node --listen "127.0.0.1:$port" --password "$PASSWORD" \
    --name "n$i" --region "$region" --seed "$i" >/dev/null 2>&1 &
  PIDS+=($!)
  entries+=("$region:n$i:http://127.0.0.1:$port")
done
LAVALINK_NODES=$(IFS=,; echo "${entries[*]}")

cat >"$WORK/switchyard.toml" <<EOF
[controller.health]
probe_interval_ms = 1000
probe_interval_fast_ms = 500
probe_timeout_ms = 800
EOF

# wrk's Lua hook paces each connection: 10 connections, each waiting 9 ms before its
# next request; with the answer's own time that is about RATE requests/s (wrk reports
# the rate reached, and the summary quotes it).
CONNECTIONS=10
DELAY_MS=$((CONNECTIONS * 1000 / RATE - 1))
[ "$DELAY_MS" -ge 1 ] || DELAY_MS=1
cat >"$WORK/pace.lua" <<EOF
function delay()
  return $DELAY_MS
end
EOF

api() { curl -fsS "http://127.0.0.1:$API_PORT$1"; }

serving() { api /api/status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["nodes"]["serving"])' 2>/dev/null || echo 0; }

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

# Latency percentile from wrk --latency output, in milliseconds.
wrk_ms() {
  awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}'
}

TICKS=$(getconf CLK_TCK)
RESULTS="$WORK/results"
: >"$RESULTS"
for run in $(seq 1 "$RUNS"); do
  echo "== run $run/$RUNS: starting the daemon over $NODES nodes"
  LAVALINK_NODES="$LAVALINK_NODES" LAVALINK_PASSWORD="$PASSWORD" \
    QUEUE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" SWITCHYARD_LISTEN="127.0.0.1:$API_PORT" \
    SWITCHYARD_API_TOKEN="$TOKEN" RUST_LOG=info \
    "$TARGET/release/switchyard" run --config "$WORK/switchyard.toml" 2>"$WORK/daemon-$run.log" &
  daemon=$!
  for _ in $(seq 1 600); do
    [ "$(serving)" = "$NODES" ] && break
    sleep 0.1
  done
  [ "$(serving)" = "$NODES" ] || { echo "not every node came up"; tail "$WORK/daemon-$run.log"; exit 1; }
  sleep "$WARMUP_SECONDS"

  read -r utime stime < <(awk '{print $14, $15}' "/proc/$daemon/stat")
  start_ticks=$((utime + stime))
  start_ns=$(date +%s%N)
  : >"$WORK/rss"
  for _ in $(seq 1 "$SAMPLE_SECONDS"); do
    sleep 1
    awk '/^VmRSS/ {print $2}' "/proc/$daemon/status" >>"$WORK/rss"
  done
  read -r utime stime < <(awk '{print $14, $15}' "/proc/$daemon/stat")
  end_ns=$(date +%s%N)
  cpu=$(awk -v t=$((utime + stime - start_ticks)) -v hz="$TICKS" -v ns=$((end_ns - start_ns)) \
    'BEGIN {printf "%.2f", 100 * t / hz / (ns / 1e9)}')
  rss_mb=$(median <"$WORK/rss" | awk '{printf "%.1f", $1 / 1024}')
  rss_max_mb=$(sort -g "$WORK/rss" | tail -1 | awk '{printf "%.1f", $1 / 1024}')
  probes=$(api /metrics | awk '/^switchyard_probes_total/ {s += $2} END {print s}')
  echo "   CPU ${cpu} % of one core, RSS median ${rss_mb} MB (max ${rss_max_mb} MB), ${probes} probes so far"

  line="$run $cpu $rss_mb $rss_max_mb"
  # /healthz answers a constant: its tail is the machine's, not the handlers'.
  for path in /api/control-panel/lavalink/nodes /api/status /healthz; do
    wrk -t2 -c"$CONNECTIONS" -d"${LOAD_SECONDS}s" --latency -s "$WORK/pace.lua" \
      "http://127.0.0.1:$API_PORT$path" >"$WORK/wrk.out"
    p50=$(wrk_ms 50% <"$WORK/wrk.out")
    p99=$(wrk_ms 99% <"$WORK/wrk.out")
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk.out")
    errors=$(awk '/Non-2xx|Socket errors/' "$WORK/wrk.out")
    echo "   $path: ${rps} req/s, p50 ${p50} ms, p99 ${p99} ms ${errors}"
    line="$line $rps $p50 $p99"
  done
  echo "$line" >>"$RESULTS"
  kill -TERM "$daemon"
  wait "$daemon" || true
done

echo
echo "== summary ($NODES nodes, 1 s probes, $SAMPLE_SECONDS s samples, $RUNS runs; load $RATE req/s for $LOAD_SECONDS s)"
echo "run  cpu%  rss_MB  rss_max_MB  nodes:req/s p50_ms p99_ms  status:req/s p50_ms p99_ms  healthz:req/s p50_ms p99_ms"
cat "$RESULTS"
col() { awk -v c="$1" '{print $c}' "$RESULTS" | median; }
echo "median CPU $(col 2) % of one core; RSS $(col 3) MB (max $(col 4) MB)"
echo "median /api/control-panel/lavalink/nodes: $(col 5) req/s, p50 $(col 6) ms, p99 $(col 7) ms"
echo "median /api/status: $(col 8) req/s, p50 $(col 9) ms, p99 $(col 10) ms"
echo "median /healthz: $(col 11) req/s, p50 $(col 12) ms, p99 $(col 13) ms"
