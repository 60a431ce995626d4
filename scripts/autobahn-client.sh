#!/usr/bin/env bash
# npm run autobahn -- --client [CASES]: the Autobahn|Testsuite's fuzzingserver
# mode (the suite is the server and tests a client) against wsrs's client,
# then against ws's client the same way, and a summary of both. Uses
# ../shared/autobahn's venv (setup.sh) without changing it.
#   CASES   comma-separated patterns (default: 1.* to 10.*; 12.*,13.* for compression)
#   AUTOBAHN_DIR, AUTOBAHN_PORT (default 9002), AUTOBAHN_CLIENTS (default "wsrs ws")
#   CLIENT_ARGS   options for both clients, e.g. "--max-fragments=0 --max-buffered-chunks=0"
#                 (cases 9.3.x and 9.4.x send more fragments than the default 16384)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${AUTOBAHN_DIR:-$ROOT/../shared/autobahn}
[[ -x "$DIR/run.sh" ]] || { echo "autobahn: no suite at $DIR" >&2; exit 2; }
"$DIR/setup.sh"
PY="$DIR/.venv/bin/python"
PORT=${AUTOBAHN_PORT:-9002}
CASES=${1:-}
OUT="$ROOT/.autobahn/client"
mkdir -p "$OUT"
rm -f "$OUT"/index.json "$OUT"/*_case_*
"$PY" - "$OUT/fuzzingserver.json" "$OUT" "$PORT" "$CASES" <<'PYEOF'
import json, sys
spec_file, outdir, port, cases = sys.argv[1:]
if cases.strip():
    include, exclude = [c.strip() for c in cases.split(",") if c.strip()], []
else:
    include, exclude = ["*"], ["12.*", "13.*"]
json.dump({"url": "ws://127.0.0.1:%s" % port, "outdir": outdir, "cases": include,
           "exclude-cases": exclude, "exclude-agent-cases": {}}, open(spec_file, "w"), indent=2)
PYEOF
(cd "$OUT" && exec "$PY" -c 'from autobahntestsuite import wstest; wstest.run()' -m fuzzingserver -s fuzzingserver.json) \
  >"$OUT/wstest.log" 2>&1 &
SUITE=$!
trap 'kill $SUITE 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
  sleep 0.2
done
for impl in ${AUTOBAHN_CLIENTS:-wsrs ws}; do
  # shellcheck disable=SC2086
  timeout 1800 node "$ROOT/scripts/autobahn-client.js" "$PORT" "$impl-client" "$impl" ${CLIENT_ARGS:-}
done
node - "$OUT/index.json" <<'EOF2'
const index = require(process.argv[2]);
let failed = 0;
for (const [agent, cases] of Object.entries(index)) {
  const count = {};
  const notOk = [];
  for (const [id, r] of Object.entries(cases)) {
    count[r.behavior] = (count[r.behavior] || 0) + 1;
    if (r.behavior !== 'OK') notOk.push(`${id} ${r.behavior}`);
    if (r.behavior === 'FAILED' && agent.startsWith('wsrs')) failed++;
  }
  console.log(`autobahn ${agent}: ${Object.entries(count).map(([k, v]) => `${v} ${k}`).join(', ')} of ${Object.keys(cases).length}`);
  if (notOk.length) console.log(`  not OK: ${notOk.join(', ')}`);
}
process.exit(failed ? 1 : 0);
EOF2
