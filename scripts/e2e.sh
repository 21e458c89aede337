#!/usr/bin/env bash
# Builds the app, starts it on a fresh embedded database with the demo data,
# runs the Playwright specs in Debian's Chromium, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=/var/cache/veriphy-jobs/target}"
export CARGO_TARGET_DIR

ADDR="${E2E_ADDR:-127.0.0.1:3917}"
# under the target directory: as root the postgres user must reach it, and a
# checkout may live where it cannot (e.g. under /root)
DATA_DIR="${E2E_DATA_DIR:-$CARGO_TARGET_DIR/e2e-data}"
LOG="$PWD/end2end/server.log"

echo "[e2e] building the app (server + wasm)" >&2
cargo leptos build

rm -rf "$DATA_DIR"
echo "[e2e] starting the server on $ADDR with demo data (log: $LOG)" >&2
# The specs read the demo data as loaded: no daily cleanup prunes it meanwhile.
# Provider stand-ins of the specs listen on loopback, which is allowlisted.
LEPTOS_SITE_ADDR="$ADDR" LEPTOS_SITE_ROOT="target/site" VERIPHY_DATA_DIR="$DATA_DIR" \
  VERIPHY_WORKER_DAILY_RETENTION=off VERIPHY_OUTBOUND_ALLOWLIST=127.0.0.1 \
  RUST_LOG="${RUST_LOG:-info}" "$CARGO_TARGET_DIR/debug/veriphy-jobs" serve --demo >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap stop_server EXIT

for _ in $(seq 1 240); do
  if curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "[e2e] the server exited during startup:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  sleep 0.5
done

cd end2end
E2E_BASE_URL="http://$ADDR" npx playwright test "$@"
