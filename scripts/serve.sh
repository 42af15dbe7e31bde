#!/usr/bin/env bash
# Sets up the lab and runs it. Until the browser page lands this runs the CLI's demo
# training: 3 epochs of backprop on MNIST-10k, results in runs/demo.json.
source "$(dirname "$0")/common.sh"
require_rust
log "building the microlearning CLI (the first build compiles burn: ~10 min on 2 cores)"
cargo build --release --bin microlearning
log "demo: training the seed network on MNIST-10k"
"$CARGO_TARGET_DIR/release/microlearning" train --task mnist --rule bp --epochs 3 --seed 0 \
    --out runs/demo.json --weights runs/demo.bpk
