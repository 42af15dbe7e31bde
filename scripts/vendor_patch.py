#!/usr/bin/env python3
"""Seals the patched burn-flex (crate/patches/burn-flex) as a vendored crate.

Cargo rebuilds a path dependency whenever its files' mtimes are newer than the last build, and
a fresh clone gives every file a new mtime: with the patch as a path dependency, every CI clone
recompiled burn-flex and every burn crate above it, natively and for wasm (~15 min). A crate from
a directory source is instead identified by its name, version and source, and cargo verifies its
files against `.cargo-checksum.json`. So the patch is served as a one-crate directory source
(`.cargo/config.toml`) and its version carries a hash of its content as build metadata
(`0.22.1+ml.<hash>`): different content is a different package, whose artifacts never mix with
another content's, and the same content in a fresh clone reuses the cached build.

    python3 scripts/vendor_patch.py          # after editing the patch: rehash, rewrite, relock
    python3 scripts/vendor_patch.py --check  # fails if the patch was edited without resealing

`--check` runs in the test command; cargo itself refuses files that differ from the checksums.
"""
import hashlib
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATE = ROOT / "crate" / "patches" / "burn-flex"
BASE_VERSION = "0.22.1"
VERSION_LINE = re.compile(r'^version = "[^"]*"$', re.MULTILINE)
# The crate's own Cargo.lock (for its standalone tests) names its version too.
LOCK_ENTRY = re.compile(r'(name = "burn-flex"\nversion = ")[^"]*(")')


def files():
    return sorted(
        p for p in CRATE.rglob("*")
        if p.is_file() and p.name != ".cargo-checksum.json" and "target" not in p.relative_to(CRATE).parts
    )


def manifest_text(version):
    text = (CRATE / "Cargo.toml").read_text()
    # The first `version = ` line is the package's (the normalized manifest puts [package] first).
    return VERSION_LINE.sub(f'version = "{version}"', text, count=1)


def lock_text(version):
    return LOCK_ENTRY.sub(lambda m: m.group(1) + version + m.group(2), (CRATE / "Cargo.lock").read_text(), count=1)


def content_hash():
    # The version is left out of the hash: it is the hash. So are the Markdown files, which
    # cannot change a build: editing PATCH.md should not cost a rebuild of burn.
    h = hashlib.sha256()
    for p in files():
        rel = p.relative_to(CRATE).as_posix()
        if rel.endswith(".md"):
            continue
        if rel == "Cargo.toml":
            data = manifest_text("HASHED").encode()
        elif rel == "Cargo.lock":
            data = lock_text("HASHED").encode()
        else:
            data = p.read_bytes()
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).hexdigest().encode() + b"\n")
    return h.hexdigest()[:16]


def current_version():
    m = VERSION_LINE.search((CRATE / "Cargo.toml").read_text())
    return m.group(0).split('"')[1] if m else None


def checksums():
    return {p.relative_to(CRATE).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files()}


def main():
    want = f"{BASE_VERSION}+ml.{content_hash()}"
    if "--check" in sys.argv:
        problems = []
        if current_version() != want:
            problems.append(f"its version is {current_version()}, its content says {want}")
        if lock_text(want) != (CRATE / "Cargo.lock").read_text():
            problems.append("its own Cargo.lock names another version")
        listed = CRATE / ".cargo-checksum.json"
        if not listed.exists() or json.loads(listed.read_text()).get("files") != checksums():
            problems.append(".cargo-checksum.json does not list its files as they are")
        if problems:
            sys.exit("the patched burn-flex was edited without resealing it (" + "; ".join(problems)
                     + "): run `python3 scripts/vendor_patch.py`")
        print(want)
        return
    (CRATE / "Cargo.toml").write_text(manifest_text(want))
    (CRATE / "Cargo.lock").write_text(lock_text(want))
    (CRATE / ".cargo-checksum.json").write_text(json.dumps({"files": checksums(), "package": None}, indent=1, sort_keys=True) + "\n")
    # Resolving (which `cargo tree` does offline) relocks the new version and nothing else.
    subprocess.run(["cargo", "tree", "--offline", "--quiet", "--invert", "burn-flex", "--depth", "0"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    print(want)


if __name__ == "__main__":
    main()
