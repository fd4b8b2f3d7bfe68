#!/bin/bash
# Call setup rate (issue 8; DESIGN budget 1,000 IVR-answered calls/s with
# 0 failed). For each RATE: RATE x STEP_S SIPp calls (INVITE, 200, ACK,
# CALL_MS of the `info` prompt, BYE) into softswitch, their SDP at rtpload,
# which counts the calls that heard the prompt; then the same SIPp load
# against `sipp -sn uas` started beside it, the load generator's own
# ceiling: the same-run peer. Loopback only, bounded: RATE x STEP_S calls
# per step and target.
#   cargo build --release -p softswitch --bins && benches/load/cps.sh RATE [RATE...]
# Knobs: STEP_S (default 10), CALL_MS (default 1000), PEER=0 skips the peer,
# MAX_CPS (default 0 here: no limit, to measure capacity).
# Prints one summary line per rate and target.
set -euo pipefail
(( $# >= 1 )) || { echo "usage: $0 RATE [RATE...]" >&2; exit 2; }
STEP_S=${STEP_S:-10}; CALL_MS=${CALL_MS:-1000}; MAX_CPS=${MAX_CPS:-0}
source "$(dirname "$0")/common.sh"

loop_flow prompt
MAX_RATE=$(printf '%s\n' "$@" | sort -n | tail -1)
{ base_config $(( MAX_RATE * (CALL_MS / 1000 + 40) + 1000 ))
  printf '[[trunks]]\nname = "local"\nallow = ["127.0.0.0/8"]\ndids = { "7300" = "prompt" }\n'
} > "$W/ss.toml"
start_softswitch

# One SIPp caller run at $1 calls/s against $2 (address); sets the
# sipp_stats fields, STEP_CORES and STEP_RSS_MB (peak) of pid $3.
step() {
  local rate=$1 target=$2 pid=$3 c0 t0 rss rpeak=0
  local n=$(( rate * STEP_S )) csv="$W/step-$rate-$pid.csv"
  c0=$(cpu_ticks "$pid"); t0=$(now)
  sipp_callers "$target" 7300 "${PROBE_PORTS[0]}" "$n" "$rate" $(( rate * 2 + 100 )) "$CALL_MS" "$csv" &
  local sp=$!
  PIDS+=("$sp")
  while kill -0 "$sp" 2>/dev/null; do
    rss=$(rss_kib "$pid"); (( rss > rpeak )) && rpeak=$rss
    sleep 0.5
  done
  wait "$sp" || true
  STEP_CORES=$(cores_since "$pid" "$c0" "$t0")
  STEP_RSS_MB=$(( rpeak / 1024 ))
  sipp_stats "$csv"
}

if [ "${PEER:-1}" = 1 ]; then
  PEER_PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sipp -sn uas -i 127.0.0.1 -p "$PEER_PORT" -nostdin -max_socket 60000 > "$W/uas.out" 2>&1 &
  UAS=$!
  PIDS+=("$UAS")
  sleep 0.5
  kill -0 "$UAS" 2>/dev/null || { echo "sipp -sn uas did not start:" >&2; cat "$W/uas.out" >&2; exit 1; }
fi

for RATE in "$@"; do
  # rtpload counts the calls that heard the prompt (a stream each); it is
  # stopped (SIGUSR2) once the step's calls are over.
  start_rtpload $(( STEP_S + CALL_MS / 1000 + 300 )) 0 1 --report-every 0
  CDR0=$(metric_sum softswitch_calls_total)
  step "$RATE" "$SIP_ADDR" "$SS"
  sleep 1
  kill -USR2 "$PROBE" 2>/dev/null || true
  wait "$PROBE" || true
  CDR1=$(metric_sum softswitch_calls_total)
  echo "cps rate=$RATE target=softswitch: calls $created, $answered ok, $refused refused ($refused_10ms within 10 ms), $failed failed, $retrans retrans," \
    "$(probe streams) heard the prompt, $(( CDR1 - CDR0 )) CDRs;" \
    "200 OK within 10 ms for $answered_10ms; peak $peak concurrent; server $STEP_CORES cores, peak RSS $STEP_RSS_MB MB"
  sleep 2
  if [ "${PEER:-1}" = 1 ]; then
    step "$RATE" "127.0.0.1:$PEER_PORT" "$UAS"
    echo "cps rate=$RATE target=sipp-uas: calls $created, $answered ok, $refused refused, $failed failed, $retrans retrans;" \
      "200 OK within 10 ms for $answered_10ms; peak $peak concurrent; server $STEP_CORES cores, peak RSS $STEP_RSS_MB MB"
    sleep 2
  fi
done
