#!/bin/bash
# Concurrent calls playing a prompt (issue 8; DESIGN budget 10,000 calls,
# p99 send jitter < 2 ms). N SIPp callers at RATE/s into a flow that plays
# the `info` prompt in a loop; their SDP points at rtpload, which measures
# each call's packet spacing from kernel receive timestamps once every call
# is in. Loopback only, bounded: N calls, HOLD_S seconds each.
# Overload: offered more than the media workers carry (or with a low
# BUSY_PERCENT), the calls beyond get 503; the line counts them and how
# fast they were told, and the spacing is that of the calls admitted.
#   cargo build --release -p softswitch --bins && benches/load/plateau.sh N [RATE] [HOLD_S]
# Prints one summary line; the work directory has every log (KEEP=1).
set -euo pipefail
N=${1:-1000}; RATE=${2:-200}; HOLD=${3:-60}
source "$(dirname "$0")/common.sh"
ramp 2
check_hold

loop_flow loop
{ base_config $(( N * 2 + 100 ))
  printf '[[trunks]]\nname = "local"\nallow = ["127.0.0.0/8"]\ndids = { "7200" = "loop" }\n'
} > "$W/ss.toml"
start_softswitch
# rtpload measures from SKIP to HOLD - 1 s: every call in, none gone.
start_rtpload $(( HOLD - 1 )) "$SKIP" 1 --report-every 5
RSS0=$(rss_kib "$SS")

start_callers 7200 "${PROBE_PORTS[0]}"
on_window_start() { :; }
on_window_middle() { UP=$(metric softswitch_calls_in_progress); worker_load; }
on_window_end() { :; }
measure_window
wait "$PROBE" || true
wait "$CALLERS" || true
sipp_stats "$W/callers.csv"
INT_P99=$(metric 'softswitch_rtp_send_jitter_seconds{quantile="0.99"}')
python3 - "$W/rtpload.json" <<PY
import json, sys
p = json.load(open(sys.argv[1]))
n, up = $N, int(float("${UP:-0}" or 0))
per_call = ($RSSP - $RSS0) / max(up, 1)
print(f"plateau N={n} rate=$RATE hold=${HOLD}s: calls {$answered} ok {$refused} refused ({$refused_10ms} within 10 ms) "
      f"{$failed} failed {$retrans} retrans, {up} in progress at the sample; "
      f"media workers busy $BUSY, {int(float('${OVERLOADED:-0}' or 0))} overloaded; "
      f"rtpload heard {p['active_peak']} calls, {p['pps']:.0f} pkt/s "
      f"({p['pps'] / max($answered * 50, 1):.1%} of 50/s per call answered), lost {p['lost']} ({p['loss_ratio']:.2%}: "
      f"$RCVBUF_DROPS dropped by the kernel at full UDP receive buffers, $SEND_DROPS at softswitch's full send buffers); "
      f"per-call spacing |dt-20ms| p50 {p['jitter_p50_us'] / 1000:.2f} ms p99 {p['jitter_p99_us'] / 1000:.2f} ms "
      f"p99.9 {p['jitter_p999_us'] / 1000:.2f} ms max {p['jitter_max_us'] / 1000:.1f} ms "
      f"({p['spacing_samples']} samples over {p['window_s']:.0f} s); "
      f"RSS {$RSS0 / 1024:.1f} -> {$RSSP / 1024:.1f} MB ({per_call:.1f} KiB per call); "
      f"server $CORES cores, rtpload $PCORES cores; worker bound p99 {float('${INT_P99:-0}' or 0) * 1000:.2f} ms")
PY
