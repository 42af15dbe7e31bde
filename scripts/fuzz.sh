#!/usr/bin/env bash
# Fuzzes every parser that takes user bytes (IDX, weights, results JSON, trial CSV/JSON,
# stimulus design) with cargo-fuzz (libFuzzer) for a fixed budget per target, then prints a
# table: target, seconds, executions, crashes found. A crash's input is copied into
# crate/tests/fuzz-regressions/<target>/, where the stable regression test
# (crate/tests/fuzz_regressions.rs, part of `cargo test`) replays it; the script exits non-zero
# if any target crashed.
#
#   scripts/fuzz.sh                       # every target, FUZZ_SECONDS (120) each
#   FUZZ_SECONDS=30 scripts/fuzz.sh idx   # one target, a short budget
#
# Settings (environment):
#   FUZZ_SECONDS    seconds per target (default 120)
#   FUZZ_SANITIZER  address (default) or none. Address: libFuzzer's -malloc_limit_mb needs a
#                   sanitizer's allocator hooks, and ASan also checks the unsafe code in burn
#                   and its kernels; `none` builds and runs faster but only -rss_limit_mb then
#                   bounds memory.
#   FUZZ_LOCK       a lock file: builds run under `flock FUZZ_LOCK nice -n 10` (shared machines)
#   FUZZ_NIGHTLY    the nightly toolchain to use (default: nightly)
#
# Each run: -max_total_time=FUZZ_SECONDS -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10,
# built with optimisations plus debug assertions and overflow checks (cargo fuzz -O -a).
# Needs rustup: installs a nightly toolchain (minimal profile) and cargo-fuzz if they are missing.
source "$(dirname "$0")/common.sh"
require_rust

FUZZ_SECONDS="${FUZZ_SECONDS:-120}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-address}"
FUZZ_NIGHTLY="${FUZZ_NIGHTLY:-nightly}"
ALL_TARGETS=(idx weights results trials stimuli)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown fuzz target '$t' (targets: ${ALL_TARGETS[*]})"
done
[[ "$FUZZ_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a positive whole number, got '$FUZZ_SECONDS'"
case "$FUZZ_SANITIZER" in address | none) ;; *) die "FUZZ_SANITIZER must be address or none" ;; esac

heavy() {
    # heavy COMMAND... : a build, under the lock when FUZZ_LOCK is set.
    if [ -n "${FUZZ_LOCK:-}" ]; then
        # Through bash, so that common.sh's cargo function (the shared burn-flex copy) applies.
        flock "$FUZZ_LOCK" nice -n 10 bash -c '"$@"' heavy "$@"
    else
        "$@"
    fi
}

FUZZ_DIR="$REPO_ROOT/fuzz"
# The stable builds (CLI, seed writer) use the shared cache; the nightly, instrumented fuzz
# build keeps to fuzz/target so the two never invalidate each other.
STABLE_TARGET_DIR="$CARGO_TARGET_DIR"
FUZZ_TARGET_DIR="$FUZZ_DIR/target"
REGRESSIONS="$REPO_ROOT/crate/tests/fuzz-regressions"
LOGS="$FUZZ_DIR/artifacts/logs"
mkdir -p "$LOGS"

log "toolchain: $FUZZ_NIGHTLY and cargo-fuzz"
if ! rustup run "$FUZZ_NIGHTLY" rustc --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "need rustup to install a nightly toolchain (cargo-fuzz needs nightly)"
    rustup toolchain install "$FUZZ_NIGHTLY" --profile minimal \
        || die "rustup toolchain install $FUZZ_NIGHTLY failed"
fi
rustup run "$FUZZ_NIGHTLY" rustc --version
if ! cargo fuzz --version >/dev/null 2>&1; then
    heavy cargo install cargo-fuzz --locked || die "cargo install cargo-fuzz failed"
fi
cargo fuzz --version
HOST="$(rustup run "$FUZZ_NIGHTLY" rustc -vV | sed -n 's/^host: //p')"
[ -n "$HOST" ] || die "cannot tell the nightly toolchain's host triple"

log "seed corpora (fuzz/corpus/<target>/): from the shipped data and files the lab writes"
SEEDS="$FUZZ_DIR/corpus"
mkdir -p "$SEEDS"
# Small IDX files cut from data/, weight files, results files of every schema version, trial
# tables (CSV, session JSON, NDJSON, JATOS) and the stimulus presets, written by the library.
FUZZ_SEEDS_DIR="$SEEDS" heavy cargo test -p microlearning --test fuzz_regressions --quiet \
    -- --ignored --exact write_fuzz_seeds >"$LOGS/seeds.log" 2>&1 \
    || { tail -20 "$LOGS/seeds.log" >&2; die "writing the seed corpora failed (log: $LOGS/seeds.log)"; }
# A real run of the CLI: its results file and its trained weights.
heavy cargo build --bin microlearning --quiet || die "cargo build --bin microlearning failed"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
"$STABLE_TARGET_DIR/debug/microlearning" train --epochs 1 --train-limit 64 --test-limit 64 \
    --diagnostics-every 1 --quiet --out "$SCRATCH/run.json" --weights "$SCRATCH/run.bpk" \
    >"$LOGS/train.log" 2>&1 || { tail -20 "$LOGS/train.log" >&2; die "microlearning train (for the seed corpora) failed"; }
cp "$SCRATCH/run.json" "$SEEDS/results/cli-run.json"
cp "$SCRATCH/run.bpk" "$SEEDS/weights/cli-run.bpk"
for t in "${ALL_TARGETS[@]}"; do
    [ -d "$FUZZ_DIR/seeds/$t" ] && cp "$FUZZ_DIR/seeds/$t"/* "$SEEDS/$t/"
    printf '  %-8s corpus of %4d files, %9s bytes\n' "$t" "$(ls "$SEEDS/$t" | wc -l)" "$(du -sb "$SEEDS/$t" | cut -f1)"
done

log "building the fuzz targets (cargo +$FUZZ_NIGHTLY fuzz build -O -a -s $FUZZ_SANITIZER; burn takes a while the first time)"
CARGO_TARGET_DIR="$FUZZ_TARGET_DIR" heavy cargo "+$FUZZ_NIGHTLY" fuzz build --fuzz-dir "$FUZZ_DIR" \
    -O -a -s "$FUZZ_SANITIZER" || die "cargo fuzz build failed"

ROWS=()
CRASHED=0
for t in "${TARGETS[@]}"; do
    bin="$FUZZ_TARGET_DIR/$HOST/release/$t"
    [ -x "$bin" ] || die "no fuzz binary at $bin"
    artifacts="$FUZZ_DIR/artifacts/$t"
    mkdir -p "$artifacts"
    before="$(ls "$artifacts")"
    corpus=("$SEEDS/$t")
    extra=()
    if [ "$t" = weights ]; then
        # Weight files are 4.8 MB: libFuzzer would otherwise cut inputs to 1 MB. The units it
        # adds go to a scratch folder (libFuzzer writes into the first one), not to the
        # corpus, which would otherwise grow by hundreds of MB a run.
        extra+=(-max_len=$((6 << 20)))
        corpus=("$SCRATCH/weights-units" "$SEEDS/$t")
        mkdir -p "${corpus[0]}"
    fi
    log "fuzzing $t for ${FUZZ_SECONDS}s"
    start=$SECONDS
    set +e
    "$bin" "${corpus[@]}" -artifact_prefix="$artifacts/" -max_total_time="$FUZZ_SECONDS" \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 "${extra[@]}" \
        >"$LOGS/$t.log" 2>&1
    rc=$?
    set -e
    seconds=$((SECONDS - start))
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log" | tail -1)"
    [ -n "$execs" ] || execs="$(grep -oE '^#[0-9]+' "$LOGS/$t.log" | tail -1 | tr -d '#')"
    new=()
    while IFS= read -r f; do
        [ -n "$f" ] && ! grep -qxF "$f" <<<"$before" && new+=("$f")
    done < <(ls "$artifacts" | grep -E '^(crash|oom|timeout|leak)-' || true)
    if [ ${#new[@]} -gt 0 ] || [ $rc -ne 0 ]; then
        CRASHED=1
        mkdir -p "$REGRESSIONS/$t"
        for f in "${new[@]}"; do
            cp "$artifacts/$f" "$REGRESSIONS/$t/$f"
            printf '  %s: %s -> crate/tests/fuzz-regressions/%s/%s\n' "$t" "$f" "$t" "$f" >&2
        done
        grep -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY' "$LOGS/$t.log" | head -5 >&2 || true
        printf '  (exit %d; the whole log: %s)\n' "$rc" "$LOGS/$t.log" >&2
    fi
    ROWS+=("$(printf '%-8s %8s %12s %8s' "$t" "$seconds" "${execs:-?}" "${#new[@]}")")
done

log "fuzzing summary (sanitizer: $FUZZ_SANITIZER, ${FUZZ_SECONDS}s per target; logs in fuzz/artifacts/logs/)"
printf '%-8s %8s %12s %8s\n' target seconds executions crashes
printf '%s\n' "${ROWS[@]}"
if [ $CRASHED -ne 0 ]; then
    die "a fuzz target crashed: its input is in crate/tests/fuzz-regressions/; fix the parser, then run cargo test -p microlearning --test fuzz_regressions"
fi
log "no crashes"
