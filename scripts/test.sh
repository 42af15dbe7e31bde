#!/usr/bin/env bash
# Runs every test of the lab. Installs what the tests need first (see scripts/common.sh).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/postgres.sh"
require_rust

log "checking the shipped data against data/SHA256SUMS"
python3 data/build_datasets.py --check

log "PostgreSQL for the collection server's tests (a throwaway cluster, stopped at exit)"
start_postgres

log "cargo test (library, CLI end to end, collection server on SQLite and PostgreSQL, benchmarks in test mode)"
# --all-targets also compiles and runs each criterion benchmark once, so they cannot rot.
cargo test --workspace --all-targets
log "the patched burn-flex's own tests (its 430, the new conv kernels' among them)"
# The crate is its own workspace, built with its dev-dependencies in a separate target folder.
# It runs from a copy next to the shared one (cargo may rewrite a root package's Cargo.lock,
# which the vendored copy's checksums forbid), so that a fresh clone reuses this build too.
FLEX_TESTS="$MICROLEARNING_PATCHES-tests"
if [ ! -d "$FLEX_TESTS" ]; then
    flex_tmp="$(mktemp -d "$FLEX_TESTS.XXXXXX")"
    cp -R "$MICROLEARNING_PATCHES/burn-flex" "$flex_tmp/burn-flex"
    mv -T "$flex_tmp" "$FLEX_TESTS" 2>/dev/null || rm -rf "$flex_tmp"
fi
CARGO_TARGET_DIR="$CARGO_TARGET_DIR-flex" cargo test --release --lib \
    --manifest-path "$FLEX_TESTS/burn-flex/Cargo.toml"
log "the native GPU build (--features gpu: burn's wgpu backend) and --device, on Mesa's software Vulkan driver"
# lavapipe is a real Vulkan adapter that runs on the CPU: --device gpu trains on it through wgpu,
# and --device auto, which takes hardware GPUs only, falls back to the CPU with its numbers.
# Its own target folder, so that the default build's binary stays the CPU-only one and neither
# build undoes the other's on the next run.
apt_install mesa-vulkan-drivers
CARGO_TARGET_DIR="$CARGO_TARGET_DIR-gpu" cargo test -p microlearning --features gpu --test device
export MICROLEARNING_BIN="$CARGO_TARGET_DIR/debug/microlearning"
[ -x "$MICROLEARNING_BIN" ] || die "cargo test did not build $MICROLEARNING_BIN"

log "crash test of the collection server (kill -9 mid-load, SQLite and PostgreSQL)"
node --test --test-concurrency=1 tests/crash.test.mjs

log "building the site for the browser tests"
bash scripts/build_web.sh

GZ_BYTES="$(gzip -9c www/pkg/microlearning_bg.wasm | wc -c)"
log "shipped .wasm: $GZ_BYTES bytes gzip'd (limit 4,000,000)"
[ "$GZ_BYTES" -le 4000000 ] || die "the .wasm is over 4 MB gzip'd"

log "browser tests: Debian chromium driven by playwright-core (never a downloaded browser)"
apt_install chromium
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after installing Debian's chromium"
node --test --test-concurrency=1 tests/report.test.mjs tests/cpu.test.mjs tests/classroom.test.mjs tests/a11y.test.mjs tests/robust.test.mjs tests/human.test.mjs tests/people.test.mjs tests/collect.test.mjs tests/jatos.test.mjs tests/webgpu.test.mjs

log "all tests passed"
