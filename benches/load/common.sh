# Shared by the load scripts in this directory (sourced, not run).
# Knobs (environment): SOFTSWITCH_BIN, RTPLOAD_BIN, SIPFLOOD_BIN (default: the release
# builds), SIP (softswitch's SIP address, default 127.0.0.1:0 = any free
# port), RTP_MIN/RTP_MAX (softswitch's RTP range, default 16384-60999:
# 22,307 calls' worth), WORKERS (media workers, default 0 = one per core),
# BUSY_PERCENT ([media] busy_percent), MAX_CPS ([calls] max_cps) and
# MAX_BACKLOG ([sip] max_backlog; the shipped defaults when unset), KEEP=1
# keeps the work directory.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/benches/load
SOFTSWITCH_BIN=${SOFTSWITCH_BIN:-$REPO/target/release/softswitch}
RTPLOAD_BIN=${RTPLOAD_BIN:-$REPO/target/release/rtpload}
SIPFLOOD_BIN=${SIPFLOOD_BIN:-$REPO/target/release/sipflood}
SIP=${SIP:-127.0.0.1:0}
RTP_MIN=${RTP_MIN:-16384}
RTP_MAX=${RTP_MAX:-60999}
TOKEN=bench-token-0123
for b in "$SOFTSWITCH_BIN" "$RTPLOAD_BIN" "$SIPFLOOD_BIN"; do
  [ -x "$b" ] || { echo "missing $b: run cargo build --release -p softswitch --bins" >&2; exit 2; }
done
command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 2; }
W=$(mktemp -d /tmp/ss-load.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "work directory kept: $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# RAMP: seconds to set up N calls at RATE a second; SKIP: the measured
# window starts $1 s after that, every call in.
ramp() {
  RAMP=$(( (N + RATE - 1) / RATE ))
  SKIP=$(( RAMP + $1 ))
}

# The calls, held HOLD s each, must leave a window of at least 3 s.
check_hold() {
  (( HOLD >= SKIP + 3 )) || { echo "HOLD_S must be at least $((SKIP + 3)) s for $N calls at $RATE/s" >&2; exit 2; }
}

# A flow playing the `info` prompt in a loop, as $W/flows/$1.toml.
loop_flow() {
  mkdir -p "$W/flows"
  cat > "$W/flows/$1.toml" <<FLOW
[flow]
name = "$1"
start = "m"
[nodes.m]
kind = "menu"
greeting = "info"
options = { "9" = "m" }
timeout_s = 1
tries = 1000000
fallback = "m"
FLOW
}

# The common part of a bench configuration; the caller appends trunks,
# queues and agents. $1 = max_calls.
base_config() {
  cat <<CONF
[sip]
udp = ["$SIP"]
tcp = []
${MAX_BACKLOG:+max_backlog = $MAX_BACKLOG}
[media]
ip = "127.0.0.1"
port_min = $RTP_MIN
port_max = $RTP_MAX
workers = ${WORKERS:-0}
rtp_timeout_s = 0
${BUSY_PERCENT:+busy_percent = $BUSY_PERCENT}
[calls]
max_calls = $1
${MAX_CPS:+max_cps = $MAX_CPS}
[data]
dir = "$W/var"
[prompts]
dir = "$REPO/prompts"
[flows]
dir = "$W/flows"
[admin]
listen = "127.0.0.1:0"
plain_http = true
token = "$TOKEN"
CONF
}

# Start softswitch on $W/ss.toml; sets SS (pid), SIP_ADDR and ADMIN.
start_softswitch() {
  SOFTSWITCH_LOG=${SOFTSWITCH_LOG:-warn} "$SOFTSWITCH_BIN" run --config "$W/ss.toml" \
    > "$W/ready.txt" 2> "$W/softswitch.err" &
  SS=$!
  PIDS+=("$SS")
  for _ in $(seq 1 100); do grep -q READY "$W/ready.txt" && break; sleep 0.1; done
  grep -q READY "$W/ready.txt" || { echo "softswitch did not start:" >&2; tail -5 "$W/softswitch.err" >&2; exit 1; }
  SIP_ADDR=$(grep -o 'sip_udp=[0-9.:]*' "$W/ready.txt" | cut -d= -f2)
  ADMIN=$(grep -o 'admin=[0-9.:]*' "$W/ready.txt" | cut -d= -f2)
}

# Start rtpload on the given number of ports for $1 seconds, skipping the
# first $2; extra arguments go to rtpload. Sets PROBE (pid) and PROBE_PORTS.
start_rtpload() {
  local secs=$1 skip=$2 n=$3; shift 3
  local listen=()
  for _ in $(seq 1 "$n"); do listen+=(--listen 127.0.0.1:0); done
  # The probe stands for callers on other machines: it must not be starved
  # by the SIP work and load generators sharing these 2 cores. Real-time
  # (SCHED_FIFO 5, under the media workers' 10) when the machine allows,
  # else nice -10. PROBE_PRIO=normal runs it as any process.
  local rt=()
  case "${PROBE_PRIO:-realtime}" in
    realtime) if chrt -f 5 true 2>/dev/null; then rt=(chrt -f 5)
              elif nice -n -10 true 2>/dev/null; then rt=(nice -n -10); fi ;;
    high) nice -n -10 true 2>/dev/null && rt=(nice -n -10) ;;
  esac
  "${rt[@]}" "$RTPLOAD_BIN" "${listen[@]}" --threads 2 --seconds "$secs" --skip "$skip" "$@" \
    > "$W/rtpload.json" 2> "$W/rtpload.err" &
  PROBE=$!
  PIDS+=("$PROBE")
  for _ in $(seq 1 50); do grep -q listening "$W/rtpload.err" && break; sleep 0.1; done
  PROBE_PORTS=($(head -1 "$W/rtpload.err" | grep -o '127.0.0.1:[0-9]*' | cut -d: -f2))
  [ "${#PROBE_PORTS[@]}" = "$n" ] || { echo "rtpload did not start:" >&2; cat "$W/rtpload.err" >&2; exit 1; }
}

# SIPp callers (uac_hold.xml): $1 target address, $2 service, $3
# rtpload's port (their SDP), $4 calls at $5 a second, at most $6 at once,
# each held $7 ms; statistics to $8 (and its .out beside it). Bounded: a
# call waits 30 s at most for each answer (beyond, it fails), and the run
# ends within the time its calls need plus a minute, whatever SIPp does
# (SIPp's own -timeout first, so that it writes its last statistics).
# Run it in the background (&): it execs, so $! is the process to stop.
sipp_callers() {
  (( $5 > 0 )) || { echo "sipp_callers: the rate must be above 0" >&2; exit 2; }
  local secs=$(( $4 / $5 + $7 / 1000 + 60 ))
  exec timeout -k 5 $(( secs + 30 )) sipp "$1" -sf "$HERE/uac_hold.xml" -s "$2" -i 127.0.0.1 -p 0 \
    -key rtp_ip 127.0.0.1 -key rtp_port "$3" \
    -m "$4" -r "$5" -l "$6" -d "$7" -nostdin -timeout "${secs}s" -recv_timeout 30000 \
    -max_socket 60000 -trace_stat -stf "$8" -fd 1 > "${8%.csv}.out" 2>&1
}

# N callers to service $1 at RATE/s, each held HOLD s, their SDP at
# rtpload's port $2. Sets CALLERS (pid).
start_callers() {
  sipp_callers "$SIP_ADDR" "$1" "$2" "$N" "$RATE" "$N" $(( HOLD * 1000 )) "$W/callers.csv" &
  CALLERS=$!
  PIDS+=("$CALLERS")
}

# The measured window of a plateau: from SKIP s after the callers started
# to HOLD - 2 s (every call in, none gone yet). Calls the script's
# on_window_start, on_window_middle and on_window_end; sets RSSP (server RSS
# in the middle), CORES and PCORES (server and rtpload over the window).
measure_window() {
  local c0 p0 t0 half
  sleep "$SKIP"
  on_window_start
  c0=$(cpu_ticks "$SS"); p0=$(cpu_ticks "$PROBE"); t0=$(now)
  RCVBUF0=$(udp_rcvbuf_errors); SENDDROP0=$(metric softswitch_rtp_send_dropped_total)
  SENDDROP0=${SENDDROP0:-0}
  half=$(( (HOLD - 2 - SKIP) / 2 ))
  sleep "$half"
  RSSP=$(rss_kib "$SS")
  on_window_middle
  sleep $(( HOLD - 2 - SKIP - half ))
  on_window_end
  # Where packets were lost: the kernel dropping them at a full receive
  # buffer (of any UDP socket on the machine: the receiver's, mostly), or
  # softswitch finding its send buffer full.
  RCVBUF_DROPS=$(( $(udp_rcvbuf_errors) - RCVBUF0 ))
  local senddrop1
  senddrop1=$(metric softswitch_rtp_send_dropped_total)
  SEND_DROPS=$(( ${senddrop1:-0} - SENDDROP0 ))
  CORES=$(cores_since "$SS" "$c0" "$t0")
  PCORES=$(cores_since "$PROBE" "$p0" "$t0")
}

metric() { curl -s "http://$ADMIN/metrics" | awk -v m="$1" '$1==m {print $2}'; }
# The sum of a metric over all its labels.
metric_sum() {
  curl -s "http://$ADMIN/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d\n", s }'
}
# Each media worker's busy share (percent, comma-separated), and how many
# are overloaded (taking no new calls).
worker_load() {
  local page
  page=$(curl -s "http://$ADMIN/metrics")
  BUSY=$(awk '/^softswitch_media_worker_busy_ratio/ { printf "%s%.0f%%", sep, $2 * 100; sep = "," }' <<< "$page")
  OVERLOADED=$(awk '$1 == "softswitch_media_workers_overloaded" { print $2 }' <<< "$page")
}
api() { curl -s -H "Authorization: Bearer $TOKEN" "http://$ADMIN/api/v1/$1"; }
udp_rcvbuf_errors() { awk '$1 == "Udp:" && $6 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
# Datagrams the kernel dropped at the IPv4 UDP sockets bound to port $1.
udp_port_drops() {
  awk -v p="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == p { s += $NF } END { printf "%d\n", s }' /proc/net/udp
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }
# Cores used by pid $1 between ($2 ticks at time $3) and now.
# "?" when the process has already gone.
cores_since() {
  [ -r "/proc/$1/stat" ] || { echo "?"; return; }
  awk -v c0="$2" -v c1="$(cpu_ticks "$1")" -v t0="$3" -v t1="$(now)" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f", (c1 - c0) / hz / (t1 - t0) }'
}

# Fields of the last line of a SIPp statistics file (-trace_stat -stf F):
# sets created, successful (answered or refused, see uac_hold.xml), failed,
# retrans, peak, answered and refused (counted by response times 1 and 2),
# answered_10ms and refused_10ms (those that got their answer within 10 ms).
sipp_stats() {
  eval "$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { if ($col["CurrentCall"] + 0 > peak) peak = $col["CurrentCall"] + 0; last = $0 }
    END { split(last, f, ";");
      for (name in col) {
        if (name ~ /^ResponseTimeRepartition1_/) answered += f[col[name]];
        if (name ~ /^ResponseTimeRepartition2_/) refused += f[col[name]];
      }
      printf "created=%d successful=%d failed=%d retrans=%d peak=%d answered=%d refused=%d answered_10ms=%d refused_10ms=%d\n",
        f[col["TotalCallCreated"]], f[col["SuccessfulCall(C)"]], f[col["FailedCall(C)"]],
        f[col["Retransmissions(C)"]], peak, answered, refused,
        f[col["ResponseTimeRepartition1_<10"]], f[col["ResponseTimeRepartition2_<10"]] }' "$1")"
}

# A field of rtpload's JSON summary.
probe() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/rtpload.json" "$1"; }
