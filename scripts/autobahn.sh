#!/usr/bin/env bash
# npm run autobahn: the Autobahn|Testsuite fuzzingclient (cases 1-10) against
# an echo server on wsrs. Needs ../shared/autobahn (see its README).
#   AUTOBAHN_DIR  where the suite lives (default: ../shared/autobahn)
#   ECHO_ARGS     extra options for the echo server (e.g. --max-fragments=0)
# Cases 12.* and 13.* (permessage-deflate): npm run autobahn -- '12.*,13.*' with
# ECHO_ARGS=--deflate.
# With --client first: the suite tests wsrs's client instead (autobahn-client.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" == "--client" ]]; then
  shift
  exec "$ROOT/scripts/autobahn-client.sh" "$@"
fi
DIR=${AUTOBAHN_DIR:-$ROOT/../shared/autobahn}
[[ -x "$DIR/run.sh" ]] || { echo "autobahn: no suite at $DIR" >&2; exit 2; }
"$DIR/setup.sh"
PORT=${AUTOBAHN_PORT:-9001}
node "$ROOT/scripts/autobahn-echo.js" "$PORT" ${ECHO_ARGS:-} &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
  sleep 0.1
done
"$DIR/run.sh" "$PORT" "${1:-}" "${2:-$ROOT/.autobahn}"
