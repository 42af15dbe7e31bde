#!/usr/bin/env bash
# Builds the static site: crate/ → wasm32 (burn flex + WebGPU) → wasm-bindgen → wasm-opt →
# www/pkg/, and the JS libraries from npm → www/vendor/. The result (index.html, www/, data/)
# is a plain static site that any static host can serve.
source "$(dirname "$0")/common.sh"
require_rust

log "wasm32 target"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown \
    || die "rustup target add wasm32-unknown-unknown failed"

# wasm-bindgen's CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)"
[ -n "$WB_VERSION" ] || die "wasm-bindgen is not in Cargo.lock"
TOOLS="$HOME/.cache/microlearning/tools"
WASM_BINDGEN="$TOOLS/bin/wasm-bindgen"
if [ ! -x "$WASM_BINDGEN" ] || [ "$("$WASM_BINDGEN" --version | awk '{print $2}')" != "$WB_VERSION" ]; then
    log "installing wasm-bindgen-cli $WB_VERSION (about 5 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WB_VERSION" --root "$TOOLS" --force \
        || die "cargo install wasm-bindgen-cli $WB_VERSION failed"
fi
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm

log "building the wasm module (the first build compiles burn + wgpu: ~20 min on 2 cores)"
RUSTFLAGS="-C target-feature=+simd128" cargo build -p microlearning --lib \
    --target wasm32-unknown-unknown --no-default-features --profile wasm
RAW="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/microlearning.wasm"

log "JS libraries and tools (npm ci)"
npm ci --no-audit --no-fund --silent || die "npm ci failed"
mkdir -p www/vendor
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css www/vendor/
cp node_modules/jspsych/dist/index.browser.min.js www/vendor/jspsych.browser.min.js
cp node_modules/jspsych/css/jspsych.css www/vendor/jspsych.css
cp node_modules/@jspsych/plugin-html-button-response/dist/index.browser.min.js www/vendor/plugin-html-button-response.browser.min.js
cp node_modules/@jspsych/plugin-instructions/dist/index.browser.min.js www/vendor/plugin-instructions.browser.min.js

log "wasm-bindgen"
rm -rf www/pkg
"$WASM_BINDGEN" --target web --no-typescript --out-dir www/pkg "$RAW"

# wasm-opt from npm's binaryen (pinned in package-lock.json). Debian's binaryen 108 is too old:
# it retypes wasm-bindgen's externref table and the browser rejects the module. -O3 rather than
# -Oz: the page's training speed is this code's speed. The optimised file is cached by the hash
# of its input, because the optimiser (itself compiled to wasm) takes several minutes here.
OPT_CACHE="$HOME/.cache/microlearning/wasm-opt"
mkdir -p "$OPT_CACHE"
KEY="$(sha256sum www/pkg/microlearning_bg.wasm | cut -c1-32)"
if [ -n "${MICROLEARNING_SKIP_WASM_OPT:-}" ]; then
    # Development only: a quick build whose module is slower (never for the test command).
    log "wasm-opt skipped (MICROLEARNING_SKIP_WASM_OPT)"
else
  if [ ! -f "$OPT_CACHE/$KEY.wasm" ]; then
    log "wasm-opt -O3 (several minutes; cached afterwards)"
    node_modules/.bin/wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-sign-ext \
        --enable-nontrapping-float-to-int --enable-mutable-globals --enable-reference-types \
        --enable-multivalue www/pkg/microlearning_bg.wasm -o "$OPT_CACHE/$KEY.partial" \
        || die "wasm-opt failed"
    mv "$OPT_CACHE/$KEY.partial" "$OPT_CACHE/$KEY.wasm"
  fi
  cp "$OPT_CACHE/$KEY.wasm" www/pkg/microlearning_bg.wasm
fi
printf 'wasm: %s bytes raw, %s bytes gzip -9\n' \
    "$(stat -c %s www/pkg/microlearning_bg.wasm)" "$(gzip -9c www/pkg/microlearning_bg.wasm | wc -c)" >&2

log "site built: index.html, www/, data/"
