#!/usr/bin/env bash
# Builds the lab (wasm module, JS libraries, the native binary) and serves it on
# http://127.0.0.1:8080 with the collection server: studies, participants' trials and the
# dashboard, stored in sqlite://lab-data/lab.db (created on first start). Set
# MICROLEARNING_DATABASE=postgres://USER@HOST/DB for PostgreSQL, PORT for another port,
# HOST=0.0.0.0 to be reachable from other machines. Everything under index.html, www/ and data/
# is also a plain static site any host can serve (without collection).
source "$(dirname "$0")/common.sh"
require_rust
bash scripts/build_web.sh
log "building the microlearning binary (the collection server)"
# The dev profile optimises every dependency; it is the build `scripts/test.sh` already made.
cargo build -p microlearning --bin microlearning
PORT="${PORT:-8080}"
HOST="${HOST:-127.0.0.1}"
log "serving the lab on http://$HOST:$PORT/ (Ctrl-C stops); create a study with:"
log "  $CARGO_TARGET_DIR/debug/microlearning study create --name NAME --public-url http://$HOST:$PORT"
exec "$CARGO_TARGET_DIR/debug/microlearning" serve --listen "$HOST:$PORT" --site "$REPO_ROOT" \
    --database "${MICROLEARNING_DATABASE:-sqlite://lab-data/lab.db}"
