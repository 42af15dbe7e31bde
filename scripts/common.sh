# Shared set-up for the scripts in this folder: sourced, not run.
# Installs what the lab needs on a fresh Debian machine, or fails loudly saying what is missing.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# Builds live outside the clone so a fresh clone on the same machine (CI) reuses them:
# compiling burn from scratch takes most of CI's time budget on 2 cores.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/microlearning/target}"
mkdir -p "$CARGO_TARGET_DIR"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The patched burn-flex is a vendored crate whose version is a hash of its content
# (scripts/vendor_patch.py). Cargo rebuilds a vendored crate when the folder it was built from
# moves, so the scripts serve it from a copy in a folder named by that hash, the same for every
# clone: a fresh clone then reuses the cached build of burn instead of spending ~15 min on it.
# The name binds the content, so a copy is never stale; cargo checks it against its checksums.
command -v python3 >/dev/null || die "python3 not found: install Debian's python3"
FLEX_VERSION="$(python3 scripts/vendor_patch.py --check)" || exit 1
export MICROLEARNING_PATCHES="$HOME/.cache/microlearning/patches/${FLEX_VERSION##*+}"
if [ ! -d "$MICROLEARNING_PATCHES" ]; then
    mkdir -p "$(dirname "$MICROLEARNING_PATCHES")"
    flex_tmp="$(mktemp -d "$MICROLEARNING_PATCHES.XXXXXX")"
    cp -R crate/patches/burn-flex "$flex_tmp/burn-flex"
    # Another script may have made the same copy meanwhile: its content is the same.
    mv -T "$flex_tmp" "$MICROLEARNING_PATCHES" 2>/dev/null || rm -rf "$flex_tmp"
fi
cargo() {
    # cargo [+TOOLCHAIN] ARGS... : cargo, taking the patched burn-flex from the shared copy.
    local toolchain=()
    if [[ "${1:-}" == +* ]]; then toolchain=("$1"); shift; fi
    command cargo "${toolchain[@]}" \
        --config "source.microlearning-patches-vendored.directory=\"$MICROLEARNING_PATCHES\"" "$@"
}
export -f cargo

apt_install() {
    # apt_install PACKAGE... : installs the Debian packages that are missing.
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "need Debian packages ${missing[*]} but apt-get is missing"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    log "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

require_rust() {
    command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
}
