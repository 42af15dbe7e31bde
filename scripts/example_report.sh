#!/usr/bin/env bash
# The example study's report, docs/example-report/: the README's reference runs as one study
# (docs/example-study.toml; 2 tasks × 6 rules × 3 seeds on the learned front end), with
# SIMULATED participants (scripts/simulate_people.mjs) collected through the collection server
# into runs/example-study/people.db, which the study reads as its people's database.
# Resumable: rerun it after an interruption and only the missing units run.
#   bash scripts/example_report.sh          # RAYON_NUM_THREADS sets the threads (default: all)
source "$(dirname "$0")/common.sh"
require_rust
command -v node >/dev/null || die "node not found: install Debian's nodejs"
log "building the release binary"
cargo build --release -p microlearning --bin microlearning
B="$CARGO_TARGET_DIR/release/microlearning"
OUT=runs/example-study
DB="$OUT/people.db"
mkdir -p "$OUT"
if [ ! -f "$DB" ]; then
    log "collecting simulated participants into $DB"
    for task in mnist fashion; do
        node scripts/simulate_people.mjs --bin "$B" --database "sqlite://$DB" --task "$task" --participants 12
    done
fi
log "running the study (every unit whose output is missing)"
start=$(date +%s)
"$B" study run docs/example-study.toml
log "study run: $(( $(date +%s) - start )) s"
"$B" study status docs/example-study.toml
"$B" study report docs/example-study.toml --out-dir docs/example-report
