#!/bin/bash
# Overload by a flood of new calls (issue 8: beyond capacity, new calls get
# 503 quickly while calls in progress keep clean audio). N calls are set up
# at RATE/s and play a prompt; once all are in, a second SIPp offers
# FLOOD_CPS new calls a second for FLOOD_S seconds (each kept CALL_MS if
# admitted). softswitch runs with `[calls] max_cps` = MAX_CPS (the shipped
# default when unset). rtpload hears the calls in progress on one port and the
# admitted flood calls on another, and measures the first ones' packet
# spacing during the flood. Loopback only, bounded: N + FLOOD_CPS x FLOOD_S
# calls.
# FLOODER=raw floods with sipflood instead of SIPp: INVITEs to an unknown
# number at FLOOD_CPS a second (past what SIPp can send here), no state kept,
# each first final answer timed; the SIP backlog and softswitch's memory
# are sampled during the flood. MAX_BACKLOG sets `[sip] max_backlog`.
#   cargo build --release -p softswitch --bins && benches/load/flood.sh N RATE FLOOD_CPS FLOOD_S
# Prints one summary line.
set -euo pipefail
(( $# == 4 )) || { echo "usage: $0 N RATE FLOOD_CPS FLOOD_S" >&2; exit 2; }
N=$1; RATE=$2; FLOOD=$3; FLOOD_S=$4
CALL_MS=${CALL_MS:-1000}
source "$(dirname "$0")/common.sh"
ramp 2
# The calls in progress outlast the flood and its stragglers.
HOLD=$(( SKIP + FLOOD_S + CALL_MS / 1000 + 5 ))

loop_flow loop
{ base_config $(( N + FLOOD * (CALL_MS / 1000 + 2) + 100 ))
  printf '[[trunks]]\nname = "local"\nallow = ["127.0.0.0/8"]\ndids = { "7200" = "loop" }\n'
} > "$W/ss.toml"
start_softswitch
# Port 0: the calls in progress; port 1: the flood's admitted calls.
start_rtpload $(( HOLD - 1 )) "$SKIP" 2 --report-every 5
start_callers 7200 "${PROBE_PORTS[0]}"

RAW=0; [ "${FLOODER:-sipp}" = raw ] && RAW=1
# Every 0.2 s: the SIP backlog and softswitch's RSS (KiB).
sample_peaks() {
  while :; do
    echo "$(metric softswitch_sip_inbound_backlog) $(rss_kib "$SS")" >> "$W/peaks.txt"
    sleep 0.2
  done
}
on_window_start() {
  if (( RAW )); then
    SIP_DROPS0=$(udp_port_drops "${SIP_ADDR##*:}")
    "$SIPFLOOD_BIN" --target "$SIP_ADDR" --did 0000 --rate "$FLOOD" --seconds "$FLOOD_S" \
      --linger 10 > "$W/sipflood.json" 2> "$W/sipflood.err" &
    FLOOD_PID=$!
    sample_peaks &
    PIDS+=("$!")
  else
    sipp_callers "$SIP_ADDR" 7200 "${PROBE_PORTS[1]}" $(( FLOOD * FLOOD_S )) "$FLOOD" \
      $(( FLOOD * (CALL_MS / 1000 + 2) )) "$CALL_MS" "$W/flood.csv" &
    FLOOD_PID=$!
  fi
  PIDS+=("$FLOOD_PID")
}
on_window_middle() { UP=$(metric softswitch_calls_in_progress); }
on_window_end() { :; }
measure_window
FLOOD_RC=0
wait "$FLOOD_PID" || FLOOD_RC=$?
wait "$PROBE" || true
wait "$CALLERS" || true
if (( RAW )); then
  (( FLOOD_RC == 0 )) || { echo "sipflood failed ($FLOOD_RC):" >&2; cat "$W/sipflood.err" >&2; exit 1; }
  SIP_DROPS=$(( $(udp_port_drops "${SIP_ADDR##*:}") - SIP_DROPS0 ))
  F=$(python3 - "$W/sipflood.json" "$W/peaks.txt" <<PY
import json, sys
f = json.load(open(sys.argv[1]))
peaks = [l.split() for l in open(sys.argv[2]) if len(l.split()) == 2]
backlog = max((int(float(b)) for b, _ in peaks), default=0)
rss = max((int(r) for _, r in peaks), default=0)
answers = "; ".join(
    f"{a['count']} got {code} ({a['within_10ms']} within 10 ms, p50 {a['p50_ms']:.1f} ms, p99 {a['p99_ms']:.0f} ms, max {a['max_ms']:.0f} ms)"
    for code, a in f["answers"].items())
print(f"raw flood {$FLOOD} INVITE/s for ${FLOOD_S}s (max_backlog ${MAX_BACKLOG:-shipped}): {f['sent']} sent, {answers}; "
      f"{f['unanswered']} unanswered, {f['send_errors']} not sent, $SIP_DROPS dropped by the kernel at softswitch's full SIP receive buffer; "
      f"SIP backlog peak {backlog}, softswitch RSS peak {rss / 1024:.0f} MB")
PY
)
else
  sipp_stats "$W/flood.csv"
  F="flood $FLOOD cps for ${FLOOD_S}s (max_cps ${MAX_CPS:-shipped}): calls $created, $answered admitted, $refused refused ($refused_10ms within 10 ms), $failed failed, $retrans retrans"
fi
sipp_stats "$W/callers.csv"
python3 - "$W/rtpload.json" <<PY
import json, sys
p = json.load(open(sys.argv[1]))
steady, flood = p["ports"][0], p["ports"][1]
secs = max(p["window_s"], 0.001)
print(f"flood N=$N in progress: calls {$answered} ok {$refused} refused {$failed} failed, "
      f"{int(float('${UP:-0}' or 0))} in progress at the sample; $F; "
      f"during it the calls in progress got {steady['packets'] / secs:.0f} pkt/s "
      f"({steady['packets'] / secs / max($answered * 50, 1):.1%} of 50/s per call), lost {steady['lost']} "
      f"(UDP receive-buffer drops on the machine: $RCVBUF_DROPS, softswitch send drops: $SEND_DROPS), "
      f"spacing |dt-20ms| p50 {steady['jitter_p50_us'] / 1000:.2f} ms p99 {steady['jitter_p99_us'] / 1000:.2f} ms "
      f"p99.9 {steady['jitter_p999_us'] / 1000:.2f} ms max {steady['jitter_max_us'] / 1000:.1f} ms; "
      f"admitted flood calls heard: {flood['streams']}; server $CORES cores, rtpload $PCORES cores")
PY
