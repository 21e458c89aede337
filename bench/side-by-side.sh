#!/usr/bin/env bash
# Runs the queue benchmarks of veriphy-jobs and graphile-worker one after the
# other against one throwaway PostgreSQL cluster (the peers' start-pg.sh), and
# appends their JSON lines to OUT (default bench/results-<utc>.jsonl).
#
# VIEWERS=100 runs ours with that many live viewers connected (the console
# served in-process, its hub pushing the Jobs tab to a bank admin's tabs).
#
# ROUNDS=N (default 3) runs each workload N times, the two systems taking
# turns (graphile-worker, ours, graphile-worker, ours, ...), and ends with
# bench/side-by-side-summary.py's medians and ratios: on a shared 2-core VM
# one system's figure moves by a third between minutes, so a single pair
# of runs says more about the minute than about the systems.
#
# Needs: a release build (cargo build --release --features ssr), Node.js and
# npm (graphile-worker is installed from the npm registry into a copy of the
# peers folder), PostgreSQL server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
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
  # As the peers' run-all.sh does before every run: flush the previous run's
  # dirty pages so that its checkpoint does not land in this one.
  psql "$DATABASE_URL" -qAtc "CHECKPOINT" >/dev/null 2>&1 || true
  sleep 2
  "$@" 2>"$work/run.log" | tee -a "$OUT" || {
    failures=$((failures + 1))
    echo "exited with an error: $*" >&2
    grep -v '^ ' "$work/run.log" | tail -5 >&2
  }
}
viewers=(${VIEWERS:+--viewers "$VIEWERS"})
rounds="${ROUNDS:-3}"
for round in $(seq "$rounds"); do
  echo "enqueue, round $round of $rounds" >&2
  run node graphile.mjs --mode enqueue --n 100000 --chunk 1000
  run "$BIN" bench --mode enqueue --n 100000 --chunk 1000 "${viewers[@]}"
  run "$BIN" bench --mode enqueue --n 100000 --chunk 5000 "${viewers[@]}"
done
for round in $(seq "$rounds"); do
  echo "drain, round $round of $rounds" >&2
  run node graphile.mjs --mode drain --n 100000 --concurrency 10
  run "$BIN" bench --mode drain --n 100000 --concurrency 10 "${viewers[@]}"
done
for round in $(seq "$rounds"); do
  echo "latency, round $round of $rounds" >&2
  run node graphile.mjs --mode latency --rate 500 --duration 20 --concurrency 10
  run "$BIN" bench --mode latency --rate 500 --duration 20 --concurrency 10 "${viewers[@]}"
done
echo "results: $OUT" >&2
python3 "$repo/bench/side-by-side-summary.py" "$OUT" >&2 || true
exit $((failures > 0))
