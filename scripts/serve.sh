#!/usr/bin/env bash
# Builds the lab (wasm module, JS libraries) and serves it on http://127.0.0.1:8080.
# Everything it serves (index.html, www/, data/) is a plain static site.
source "$(dirname "$0")/common.sh"
bash scripts/build_web.sh
PORT="${PORT:-8080}"
log "serving the lab on http://127.0.0.1:$PORT/ (Ctrl-C stops)"
exec node scripts/static_server.mjs "$PORT" 127.0.0.1
