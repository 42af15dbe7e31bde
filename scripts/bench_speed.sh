#!/usr/bin/env bash
# Training speed, side by side: the lab's native step (1 and 2 threads, and every core where
# the machine has more), PyTorch's step on the same data and threads (when `torch` imports), and
# the page's CPU and WebGPU steps in Debian's Chromium. Rounds alternate the contestants so a
# busy machine slows them alike. Prints a Markdown table (the README quotes it).
#
#   bash scripts/bench_speed.sh                 # 3 rounds, page CPU + WebGPU
#   ROUNDS=1 PAGE="cpu-1 cpu-2" bash scripts/bench_speed.sh   # PAGE="" skips the page
#
# The step is one batch of 64 (batch to tensor, forward, backward, Adam), backprop, learned front
# end, diagnostics off, timed over one epoch of MNIST-10k (124 steps) for the native rows
# (`microlearning train --rule bp --epochs 1 --diagnostics-every 0`, from its images/s) and
# PyTorch (scripts/bench_torch.py, the same loop, its mean step), and over 30 batches after 3 warm-up
# batches for the page (scripts/bench_page.mjs, with ?workers=N; WebGPU 5 after 2). Peak memory is
# /usr/bin/time's maximum resident set of the whole one-epoch run.
source "$(dirname "$0")/common.sh"
require_rust

ROUNDS="${ROUNDS:-3}"
# The page's runs: cpu-1 (one worker), cpu-N (each batch split over N CPU workers), webgpu.
PAGE="${PAGE-cpu-1 cpu-$(nproc) webgpu}"
CORES="$(nproc)"
THREADS="1 2"
[ "$CORES" -gt 2 ] && THREADS="$THREADS $CORES"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

log "release build of the CLI"
cargo build --release --bin microlearning >&2
BIN="$CARGO_TARGET_DIR/release/microlearning"
[ -x /usr/bin/time ] || apt_install time

TORCH=1
if ! python3 -c 'import torch' 2>/dev/null; then
    TORCH=0
    log "PyTorch is not importable: its rows are skipped (pip install torch, then rerun)"
fi
if [ -n "$PAGE" ] && [ ! -f www/pkg/microlearning_bg.wasm ]; then
    log "the site is not built: building it (bash scripts/build_web.sh)"
    bash scripts/build_web.sh >&2
fi

for round in $(seq 1 "$ROUNDS"); do
    for t in $THREADS; do
        log "round $round/$ROUNDS: the lab, $t thread(s)"
        RAYON_NUM_THREADS="$t" /usr/bin/time -f '%M' -o "$OUT/lab-$t-$round.rss" \
            "$BIN" train --rule bp --epochs 1 --diagnostics-every 0 --quiet \
            --out "$OUT/lab-$t-$round.json" >/dev/null 2>"$OUT/lab-$t-$round.log" \
            || { cat "$OUT/lab-$t-$round.log" >&2; die "the lab's run failed"; }
        if [ "$TORCH" = 1 ]; then
            log "round $round/$ROUNDS: PyTorch, $t thread(s)"
            /usr/bin/time -f '%M' -o "$OUT/torch-$t-$round.rss" \
                python3 scripts/bench_torch.py --threads "$t" --warmup 0 \
                >"$OUT/torch-$t-$round.json" 2>/dev/null || die "PyTorch's run failed"
        fi
    done
    for run in $PAGE; do
        log "round $round/$ROUNDS: the page, $run"
        case "$run" in
            cpu-*) args=(--backend cpu --workers "${run#cpu-}") ;;
            webgpu) args=(--backend webgpu) ;;
            *) die "unknown page run $run (cpu-N or webgpu)" ;;
        esac
        node scripts/bench_page.mjs "${args[@]}" --json >"$OUT/page-$run-$round.json" \
            || die "the page's $run run failed"
    done
done

python3 - "$OUT" "$ROUNDS" "$THREADS" "$PAGE" <<'EOF'
import json, os, statistics, sys
out, rounds, threads, page = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()

def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None

def rss_mb(name):
    path = os.path.join(out, name)
    return int(open(path).read().split()[-1]) / 1024 if os.path.exists(path) else None

def span(values, fmt="{:.0f}"):
    values = sorted(values)
    if not values:
        return "–"
    return fmt.format(values[0]) if len(values) == 1 or fmt.format(values[0]) == fmt.format(values[-1]) \
        else f"{fmt.format(values[0])}–{fmt.format(values[-1])}"

rows, ratios = [], {}
for t in threads:
    lab_ms, torch_ms, lab_mb, torch_mb = [], [], [], []
    for r in range(1, rounds + 1):
        lab = load(f"lab-{t}-{r}.json")
        if lab:
            # ms per 64 images (the last, partial batch counts for what it holds).
            lab_ms.append(64000 / lab["epochs"][0]["images_per_second"])
            lab_mb.append(rss_mb(f"lab-{t}-{r}.rss"))
        torch = load(f"torch-{t}-{r}.json")
        if torch:
            torch_ms.append(torch["mean_ms"])
            torch_mb.append(rss_mb(f"torch-{t}-{r}.rss"))
    rows.append((f"the lab, native (flex, {t} thread{'s' if t != '1' else ''})", lab_ms, lab_mb))
    if torch_ms:
        rows.append((f"PyTorch {torch['torch'].split('+')[0]} CPU ({t} thread{'s' if t != '1' else ''})", torch_ms, torch_mb))
        ratios[t] = [tm / lm for lm, tm in zip(lab_ms, torch_ms)]
for backend in page:
    ms, info = [], None
    for r in range(1, rounds + 1):
        p = load(f"page-{backend}-{r}.json")
        if p:
            ms.append(p["median_ms"])
            info = p
    if info:
        if backend.startswith("cpu"):
            n = info.get("workers", 1)
            label = f"CPU, wasm simd128, {n} worker{'s' if n != 1 else ''}"
        else:
            label = f"WebGPU, {info.get('adapter') or 'adapter'}{' (software)' if info.get('software_adapter') else ''}"
        rows.append((f"the page ({label})", ms, []))

print("| | ms per step | images/s | peak memory (MB) |")
print("|---|---|---|---|")
for label, ms, mb in rows:
    print(f"| {label} | {span(ms)} | {span([64000 / m for m in ms])} | {span([m for m in mb if m])} |")
print()
for t, rs in ratios.items():
    print(f"lab/PyTorch throughput, {t} thread(s): {span(rs, '{:.2f}')} (per round: {', '.join(f'{r:.2f}' for r in rs)})")
for backend in page:
    p = load(f"page-{backend}-1.json")
    if p:
        print(f"page {backend}: .wasm {p['wasm_bytes'] / 1e6:.1f} MB, {p['wasm_gzip_bytes'] / 1e6:.2f} MB gzip'd; "
              f"hardwareConcurrency {p['hardware_concurrency']}")
print(f"\n{rounds} round(s), {os.cpu_count()} cores, {os.uname().machine}")
EOF
