#!/bin/bash
# Bridged caller-agent calls under load (issue 8, DESIGN budget: 5,000).
# N agents registered by one SIPp process (answering and echoing RTP), N
# callers from another (G.711 audio, held HOLD_MS) queued in `general` and
# bridged one to one. Loopback only, bounded in calls and time. Prints the
# callers' SIPp summary, the relayed-packet rate, and the server's CPU and RSS.
#   cargo build --release -p softswitch && benches/bridged/run.sh N [RATE] [HOLD_MS]
set -euo pipefail
N=${1:-1000}; RATE=${2:-100}; HOLD=${3:-30000}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/benches/bridged
BIN=$REPO/target/release/softswitch
W=$(mktemp -d /tmp/ss-bridged.XXXX)
PORT=${PORT:-5090}
cd "$W"

# Configuration: N agents with skill general, one queue, a flow into it.
mkdir -p flows
cat > flows/q.toml <<'FLOW'
[flow]
name = "q"
start = "q"
[nodes.q]
kind = "queue"
queue = "general"
FLOW
{
  cat <<CONF
[sip]
udp = ["127.0.0.1:$PORT"]
tcp = []
[media]
ip = "127.0.0.1"
port_min = 16384
port_max = 60999
workers = 0
rtp_timeout_s = 0
[calls]
max_calls = $((N * 3))
[data]
dir = "$W/var"
[prompts]
dir = "$REPO/prompts"
[flows]
dir = "$W/flows"
[admin]
listen = "127.0.0.1:0"
token = "bench-token-0123"
[[trunks]]
name = "local"
allow = ["127.0.0.0/8"]
dids = { "7100" = "q" }
[[queues]]
name = "general"
skills = { general = 1 }
ring_timeout_s = 10
wrap_up_s = 0
CONF
  for i in $(seq 1 "$N"); do
    printf '[[agents]]\nid = "a%d"\npassword = "pw"\nskills = { general = 1 }\n' "$i"
  done
} > ss.toml
{ echo SEQUENTIAL; for i in $(seq 1 "$N"); do echo "a$i;[authentication username=a$i password=pw]"; done; } > agents.csv

ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SOFTSWITCH_LOG=warn "$BIN" run --config ss.toml > ready.txt 2> ss.err &
SS=$!
AGENTS=""
trap 'kill $SS $AGENTS 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q READY ready.txt && break; sleep 0.2; done
ADMIN=$(grep -o 'admin=[0-9.:]*' ready.txt | cut -d= -f2)
metric() { curl -s "http://$ADMIN/metrics" | awk -v m="$1" '$1==m {print $2}'; }

# Agents: register all, stay up, answer, echo RTP.
sipp 127.0.0.1:$PORT -sf "$HERE/agent_register_many.xml" -oocsf "$HERE/agent_hold.xml" \
  -inf agents.csv -i 127.0.0.1 -p 5091 -mp 30000 -rtp_echo -m "$N" -r 500 -l "$N" \
  -d $((HOLD * 4)) -nostdin -max_socket 60000 > agents.out 2>&1 &
AGENTS=$!
for _ in $(seq 1 120); do
  REG=$(curl -s -H "Authorization: Bearer bench-token-0123" "http://$ADMIN/api/v1/agents" | { grep -o '"registered":true' || true; } | wc -l)
  [ "$REG" -ge "$N" ] && break; sleep 0.5
done
echo "agents registered: $REG of $N"

RSS0=$(awk '/VmRSS/ {print $2}' /proc/$SS/status)
CPU0=$(awk '{print $14 + $15}' /proc/$SS/stat)
T0=$(date +%s.%N)
# Callers: N calls at RATE/s, G.711 audio for 28 s, then BYE (HOLD_MS bounds the wait).
sipp 127.0.0.1:$PORT -sf "$HERE/uac_talk.xml" -s 7100 -i 127.0.0.1 -p 5092 -mp 40000 \
  -m "$N" -r "$RATE" -l "$N" -d "$HOLD" -nostdin -timeout $((HOLD / 1000 + N / RATE + 60))s \
  -max_socket 60000 -trace_stat -stf callers.csv -fd 1 > callers.out 2>&1 &
CALLERS=$!
# Sample on the plateau (every caller in, none gone: callers talk 28 s).
sleep $(( N / RATE + 4 ))
P1=$(metric softswitch_rtp_packets_relayed_total); S1=$(date +%s.%N)
RSSP=$(awk '/VmRSS/ {print $2}' /proc/$SS/status)
BRIDGED=$(curl -s -H "Authorization: Bearer bench-token-0123" "http://$ADMIN/api/v1/agents" | { grep -o '"state":"on_call"' || true; } | wc -l)
sleep 5
P2=$(metric softswitch_rtp_packets_relayed_total); S2=$(date +%s.%N)
JIT=$(metric 'softswitch_rtp_send_jitter_seconds{quantile="0.99"}')
wait $CALLERS || true
CPU1=$(awk '{print $14 + $15}' /proc/$SS/stat)
T1=$(date +%s.%N)
TICK=$(getconf CLK_TCK)
OK=$(tail -1 callers.csv | awk -F';' '{print $16}' 2>/dev/null || echo "?")
awk -v n="$N" -v b="$BRIDGED" -v p1="$P1" -v p2="$P2" -v s1="$S1" -v s2="$S2" \
    -v r0="$RSS0" -v rp="$RSSP" -v c0="$CPU0" -v c1="$CPU1" -v t0="$T0" -v t1="$T1" \
    -v tick="$TICK" -v j="$JIT" 'BEGIN {
  printf "bridged N=%d: on_call at plateau %d, relayed %.0f pkt/s, RSS %.1f -> %.1f MB (%.1f KB per bridged call), server %.2f cores, send jitter p99 %.2f ms\n",
    n, b, (p2 - p1) / (s2 - s1), r0 / 1024, rp / 1024, (rp - r0) / (b > 0 ? b : 1), (c1 - c0) / tick / (t1 - t0), j * 1000 }'
grep -E "Successful call|Failed call" callers.out | tail -2 || true
