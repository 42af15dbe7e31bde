#!/usr/bin/env bash
# Runs every test of the lab. Installs what the tests need first (see scripts/common.sh).
source "$(dirname "$0")/common.sh"
require_rust

log "checking the shipped data against data/SHA256SUMS"
python3 data/build_datasets.py --check

log "cargo test (library, CLI, benchmarks in test mode)"
# --all-targets also compiles and runs each criterion benchmark once, so they cannot rot.
cargo test --workspace --all-targets

log "CLI smoke test: a short training run writes results and weights"
out="$(mktemp -d)"
cargo run --quiet --bin microlearning -- train --task mnist --epochs 1 \
    --train-limit 640 --test-limit 200 --quiet --out "$out/run.json" --weights "$out/run.bpk"
python3 - "$out/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema_version"] == 1, r["schema_version"]
assert len(r["epochs"]) == 1 and r["data"]["train_images"] == 640
assert 0.5 < r["final_test_accuracy"] <= 1.0, r["final_test_accuracy"]
print(f"CLI run: test accuracy {r['final_test_accuracy']:.3f}")
PY
test -s "$out/run.bpk" || die "weights file missing"
rm -rf "$out"
log "all tests passed"
