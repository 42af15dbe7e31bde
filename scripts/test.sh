#!/usr/bin/env bash
# Runs every test of the lab. Installs what the tests need first (see scripts/common.sh).
source "$(dirname "$0")/common.sh"
require_rust

log "checking the shipped data against data/SHA256SUMS"
python3 data/build_datasets.py --check

log "cargo test (library, CLI end to end, benchmarks in test mode)"
# --all-targets also compiles and runs each criterion benchmark once, so they cannot rot.
cargo test --workspace --all-targets

log "building the site for the browser tests"
bash scripts/build_web.sh

GZ_BYTES="$(gzip -9c www/pkg/microlearning_bg.wasm | wc -c)"
log "shipped .wasm: $GZ_BYTES bytes gzip'd (limit 4,000,000)"
[ "$GZ_BYTES" -le 4000000 ] || die "the .wasm is over 4 MB gzip'd"

log "browser tests: Debian chromium driven by playwright-core (never a downloaded browser)"
apt_install chromium
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after installing Debian's chromium"
node --test --test-concurrency=1 tests/cpu.test.mjs tests/human.test.mjs tests/webgpu.test.mjs

log "all tests passed"
