#!/usr/bin/env bash
# The collection server's load benchmark (README, "Online data collection"): 500 simulated
# participants × 100 trials each over loopback, 2% of replies dropped and retried, on SQLite and
# on a throwaway PostgreSQL server; then the same with the server killed (SIGKILL) halfway and
# restarted. Prints one Markdown table row per run. Not part of the test command (a smaller
# crash run is: tests/crash.test.mjs). Usage: bash scripts/bench_collection.sh [PARTICIPANTS] [TRIALS]
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/postgres.sh"
require_rust
PARTICIPANTS="${1:-500}"
TRIALS="${2:-100}"
log "building the microlearning binary (dev profile: every dependency optimised, as scripts/test.sh builds it)"
cargo build -p microlearning --bin microlearning
BIN="$CARGO_TARGET_DIR/debug/microlearning"
start_postgres
WORK="$(mktemp -d /tmp/microlearning-bench.XXXXXX)"
echo "| database | participants × trials | dropped replies | crash | trials/s | p50 ms | p99 ms | server peak RSS MB | acknowledged | lost | duplicated | integrity |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for kill in "" "0.5"; do
    for db in sqlite postgres; do
        if [ "$db" = sqlite ]; then
            url="sqlite://$WORK/lab-${kill:-plain}.db"
        else
            name="bench_${kill:+kill}${kill:-plain}"; name="${name//./_}"
            psql "$MICROLEARNING_TEST_POSTGRES" -q -c "CREATE DATABASE $name"
            url="${MICROLEARNING_TEST_POSTGRES%/*}/$name"
        fi
        node scripts/load_test.mjs --bin "$BIN" --database "$url" --participants "$PARTICIPANTS" \
            --trials "$TRIALS" --drop 0.02 ${kill:+--kill-at $kill}
    done
done
rm -rf "$WORK"
