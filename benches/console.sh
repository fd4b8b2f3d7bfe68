#!/usr/bin/env bash
# Console page weight and first render with 100 queues and 1,000 agents
# (issue 21's budget: under 300 KB per page, first render under 500 ms,
# locally). Starts softswitch (release build) on free loopback ports with
# the shipped configuration plus 100 queues and 1,000 agents, signs in with
# Chromium and loads every page of the console, cold, several times.
# Usage: benches/console.sh [RUNS]   (prints a Markdown table)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-5}
BIN=${BIN:-$REPO/target/release/softswitch}
[ -x "$BIN" ] || (cd "$REPO" && cargo build --release -p softswitch)
[ -d "$REPO/tests/web/node_modules/playwright-core" ] || (cd "$REPO/tests/web" && npm ci --no-audit --no-fund)
WORK=$(mktemp -d /tmp/console-bench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIP=$(free_port); ADMIN=$(free_port)
# The shipped configuration on free ports, its data in $WORK.
sed -e "s/127.0.0.1:5060/127.0.0.1:$SIP/" -e "s/127.0.0.1:8080/127.0.0.1:$ADMIN/" \
    -e "s|^dir = \"var\"|dir = \"$WORK/var\"|" -e "s|^dir = \"prompts\"|dir = \"$REPO/prompts\"|" \
    -e "s|^dir = \"ivr-flows\"|dir = \"$REPO/ivr-flows\"|" \
    -e 's/^token = "change-me-admin-token"/token = "bench-token-0123456789"\nbootstrap_password = "Bench-Console-2026"/' \
    "$REPO/configs/default.toml" > "$WORK/softswitch.toml"
# The flows' files are only read. 100 queues, 1,000 agents serving two each.
python3 - "$WORK/softswitch.toml" <<'PY'
import sys
with open(sys.argv[1], "a") as f:
    for q in range(1, 101):
        f.write(f'\n[[queues]]\nname = "file-{q:03}"\nskills = {{ s{q:03} = 1 }}\n')
    for a in range(1, 1001):
        q1, q2 = a % 100 + 1, (a * 7) % 100 + 1
        q2 = q2 % 100 + 1 if q2 == q1 else q2
        f.write(f'\n[[agents]]\nid = "a{a:04}"\npassword = "pw-{a:04}-bench-2026"\nskills = {{ s{q1:03} = 5, s{q2:03} = 5 }}\n')
PY
cd "$REPO"
"$BIN" run --config "$WORK/softswitch.toml" 2> "$WORK/softswitch.log" &
PID=$!
up=""
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$ADMIN/api/v1/health" -H 'Authorization: Bearer bench-token-0123456789' >/dev/null && { up=1; break; }
  sleep 0.1
done
[ -n "$up" ] || { echo "softswitch did not start:" >&2; cat "$WORK/softswitch.log" >&2; exit 1; }
cd "$REPO/tests/web"
BASE="http://127.0.0.1:$ADMIN" RUNS=$RUNS PASSWORD=Bench-Console-2026 node ${SCRIPT:-bench_console.mjs}
echo "softswitch RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
