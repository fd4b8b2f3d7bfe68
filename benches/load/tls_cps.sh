#!/bin/bash
# SIP over TLS against UDP in the same run (issue 22): CALLS whole calls
# (INVITE, 200, ACK, BYE, 200) into softswitch's IVR number, CONCURRENCY at
# once, first over UDP then over TLS (one connection per caller, kept, as a
# trunk keeps its own), with the same generator (tlscalls; Debian's SIPp
# has no TLS). Prints one line per transport: calls/s, setup time p50/p99,
# softswitch's cores. Loopback only, bounded: CALLS calls per transport.
#   cargo build --release -p softswitch --bins && benches/load/tls_cps.sh CALLS CONCURRENCY
set -euo pipefail
(( $# == 2 )) || { echo "usage: $0 CALLS CONCURRENCY" >&2; exit 2; }
CALLS=$1; CONC=$2; MAX_CPS=${MAX_CPS:-0}
TLSCALLS_BIN=${TLSCALLS_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/tlscalls}
[ -x "$TLSCALLS_BIN" ] || { echo "missing $TLSCALLS_BIN: run cargo build --release -p softswitch --bins" >&2; exit 2; }
source "$(dirname "$0")/common.sh"

loop_flow prompt
{ base_config $(( CONC * 2 + 100 )) | sed 's/^tcp = \[\]$/tcp = []\ntls = ["127.0.0.1:0"]/'
  printf '[[trunks]]\nname = "local"\nallow = ["127.0.0.0/8"]\ndids = { "7300" = "prompt" }\n'
} > "$W/ss.toml"
start_softswitch
TLS_ADDR=$(grep -o 'sip_tls=[0-9.:]*' "$W/ready.txt" | cut -d= -f2)
[ -n "$TLS_ADDR" ] || { echo "no TLS listener in: $(cat "$W/ready.txt")" >&2; exit 1; }
CERT=$W/var/tls/sip-cert.pem

for T in udp tls; do
  ADDR=$SIP_ADDR; [ "$T" = tls ] && ADDR=$TLS_ADDR
  c0=$(cpu_ticks "$SS"); t0=$(now)
  OUT=$(timeout -k 5 $(( CALLS / 10 + 120 )) "$TLSCALLS_BIN" --target "$ADDR" --transport "$T" \
    --ca "$CERT" --calls "$CALLS" --concurrency "$CONC")
  CORES=$(cores_since "$SS" "$c0" "$t0")
  field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$OUT"; }
  echo "tls_cps $T calls $(field calls) ok $(field ok) failed $(field failed) concurrency $(field concurrency) $(field calls_per_s) calls/s setup p50 $(field setup_ms_p50) ms p99 $(field setup_ms_p99) ms softswitch $CORES cores"
done
