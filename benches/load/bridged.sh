#!/bin/bash
# Bridged caller-agent calls (issue 8; DESIGN budget 5,000). N agents
# registered with digest auth by one SIPp process (answering every call
# offered), N callers from another SIPp process, queued in `general` and
# bridged one to one. SIPp carries the signalling; rtpload talks for both
# sides (50 G.711 packets a second per leg, from the addresses in the SDP)
# and measures what softswitch relays: every packet, both ways.
# Loopback only, bounded: N calls, HOLD_S seconds each.
#   cargo build --release -p softswitch --bins && benches/load/bridged.sh N [RATE] [HOLD_S]
set -euo pipefail
N=${1:-1000}; RATE=${2:-200}; HOLD=${3:-60}
source "$(dirname "$0")/common.sh"
ramp 3
check_hold

mkdir -p "$W/flows"
printf '[flow]\nname = "q"\nstart = "q"\n[nodes.q]\nkind = "queue"\nqueue = "general"\n' > "$W/flows/q.toml"
{ base_config $(( N * 3 + 100 ))
  printf '[[trunks]]\nname = "local"\nallow = ["127.0.0.0/8"]\ndids = { "7100" = "q" }\n'
  printf '[[queues]]\nname = "general"\nskills = { general = 1 }\nring_timeout_s = 10\nwrap_up_s = 0\n'
  for i in $(seq 1 "$N"); do
    printf '[[agents]]\nid = "a%d"\npassword = "pw"\nskills = { general = 1 }\n' "$i"
  done
} > "$W/ss.toml"
{ echo SEQUENTIAL; for i in $(seq 1 "$N"); do echo "a$i;[authentication username=a$i password=pw]"; done; } > "$W/agents.csv"
start_softswitch
# Port 0: the callers' side, port 1: the agents'. The window is marked
# with signals once every call is bridged (SIGUSR1) until before the first
# leaves (SIGUSR2); the time bound is only a safety net.
start_rtpload $(( HOLD + RAMP + 120 + N / 200 )) 100000 2 --echo --report-every 5
CALLER_RTP=${PROBE_PORTS[0]}; AGENT_RTP=${PROBE_PORTS[1]}

# Agents: register all, stay registered, answer what they are offered.
sipp "$SIP_ADDR" -sf "$HERE/agent_register.xml" -oocsf "$HERE/agent_answer.xml" \
  -inf "$W/agents.csv" -i 127.0.0.1 -p 0 -key rtp_ip 127.0.0.1 -key rtp_port "$AGENT_RTP" \
  -m "$N" -r 500 -l "$N" -d $(( (HOLD + RAMP + 60) * 1000 )) -nostdin -max_socket 60000 \
  > "$W/agents.out" 2>&1 &
PIDS+=("$!")
REG=0
# Up to 10 s, plus 1 s per 100 agents (500 register a second).
for _ in $(seq 1 $(( 100 + N / 10 ))); do
  REG=$(api agents | { grep -o '"registered":true' || true; } | wc -l)
  [ "$REG" -ge "$N" ] && break; sleep 0.1
done
(( REG >= N )) || { echo "only $REG of $N agents registered" >&2; exit 1; }
RSS0=$(rss_kib "$SS")

start_callers 7100 "$CALLER_RTP"
on_window_start() {
  kill -USR1 "$PROBE"
  R0=$(metric softswitch_rtp_packets_relayed_total); T0=$(now)
}
on_window_middle() { BRIDGED=$(api agents | { grep -o '"state":"on_call"' || true; } | wc -l); }
on_window_end() { R1=$(metric softswitch_rtp_packets_relayed_total); T1=$(now); }
measure_window
kill -USR2 "$PROBE" 2>/dev/null || true
wait "$PROBE" || true
wait "$CALLERS" || true
sipp_stats "$W/callers.csv"
python3 - "$W/rtpload.json" <<PY
import json, sys
try:
    p = json.load(open(sys.argv[1]))
except Exception:
    p = None
n, b = $N, $BRIDGED
relayed = ($R1 - $R0) / ($T1 - $T0)
per_call = ($RSSP - $RSS0) / max(b, 1)
line = (f"bridged N={n} rate=$RATE hold=${HOLD}s: calls {$answered} ok {$refused} refused {$failed} failed {$retrans} retrans, "
        f"{b} bridged at the sample; softswitch relayed {relayed:.0f} pkt/s ({relayed / max(n * 100, 1):.1%} of 2 x 50/s per call); "
        f"RSS {$RSS0 / 1024:.1f} -> {$RSSP / 1024:.1f} MB ({per_call:.1f} KiB per bridged call, two legs); "
        f"server $CORES cores, rtpload $PCORES cores")
if p:
    line += (f"; rtpload heard {p['active_peak']} streams, lost {p['lost']} ({p['loss_ratio']:.2%}), "
             f"spacing |dt-20ms| p99 {p['jitter_p99_us'] / 1000:.2f} ms p99.9 {p['jitter_p999_us'] / 1000:.2f} ms "
             f"(relay and rtpload's own pacing); rtpload's echo ticks began late p99 {p['echo_late_p99_us'] / 1000:.2f} ms "
             f"max {p['echo_late_max_us'] / 1000:.2f} ms")
print(line)
PY
