#!/usr/bin/env bash
# Runs the queue benchmarks of veriphy-jobs and graphile-worker one after the
# other against one throwaway PostgreSQL cluster (the peers' start-pg.sh), and
# appends their JSON lines to OUT (default bench/results-<utc>.jsonl).
#
# VIEWERS=100 runs ours with that many live viewers connected (the console
# served in-process, its hub pushing the Jobs tab to a bank admin's tabs).
#
# Needs: a release build (cargo build --release --features ssr), Node.js and
# npm (graphile-worker is installed from the npm registry into a copy of the
# peers folder), PostgreSQL server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS="${PEERS:-../shared/bench/peers}"
BIN="${BIN:-${CARGO_TARGET_DIR:-/var/cache/veriphy-jobs/target}/release/veriphy-jobs}"
OUT="${OUT:-$PWD/bench/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl}"
[[ -x "$BIN" ]] || { echo "no release binary at $BIN (cargo build --release --features ssr)" >&2; exit 1; }

work="$(mktemp -d)"
chmod 755 "$work"  # the postgres user (when run as root) must reach it
cp -r "$PEERS" "$work/peers"
cd "$work/peers"
npm install --no-audit --no-fund >/dev/null
eval "$(./start-pg.sh --env)"
trap './stop-pg.sh "$BENCH_PGDATA" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# A run that exits with an error is reported with the end of its log, and
# the others still run: graphile.mjs's latency mode sometimes exits 1 after
# printing its line (its pool reports the connections that dropping its
# database terminates), which used to end the script before our last run.
failures=0
run() {
  "$@" 2>"$work/run.log" | tee -a "$OUT" || {
    failures=$((failures + 1))
    echo "exited with an error: $*" >&2
    grep -v '^ ' "$work/run.log" | tail -5 >&2
  }
}
run node graphile.mjs --mode enqueue --n 100000 --chunk 1000
viewers=(${VIEWERS:+--viewers "$VIEWERS"})
run "$BIN" bench --mode enqueue --n 100000 --chunk 1000 "${viewers[@]}"
run "$BIN" bench --mode enqueue --n 100000 --chunk 5000 "${viewers[@]}"
run node graphile.mjs --mode drain --n 100000 --concurrency 10
run "$BIN" bench --mode drain --n 100000 --concurrency 10 "${viewers[@]}"
run node graphile.mjs --mode latency --rate 500 --duration 20 --concurrency 10
run "$BIN" bench --mode latency --rate 500 --duration 20 --concurrency 10 "${viewers[@]}"
echo "results: $OUT" >&2
exit $((failures > 0))
