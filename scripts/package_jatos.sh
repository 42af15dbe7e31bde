#!/usr/bin/env bash
# Packages the lab's experiment as a JATOS study: builds the site, then writes
# dist/microlearning-lab.jzip (a study description .jas plus the study assets), which JATOS
# imports with "Import study". The component is jatos.html: the lab's page with jatos.js loaded,
# so it runs in JATOS mode (www/experiment/jatos.js). Put the design in the study's or the
# component's JSON input, e.g. {"design": {...}, "completion_url": "https://..."}; without one
# it runs the standard design (MNIST-10k, seed 1). Usage: bash scripts/package_jatos.sh [--with-fashion]
source "$(dirname "$0")/common.sh"
bash scripts/build_web.sh
WITH_FASHION=0
[ "${1:-}" = "--with-fashion" ] && WITH_FASHION=1
mkdir -p dist
python3 - "$WITH_FASHION" <<'PY'
import json, sys, uuid, zipfile, pathlib
with_fashion = sys.argv[1] == "1"
root = pathlib.Path(".")
name = "microlearning_lab"
page = (root / "index.html").read_text()
marker = '<script type="module" src="www/app.js"></script>'
assert marker in page, "index.html no longer loads www/app.js as expected"
jatos_page = page.replace(marker, '<script src="jatos.js"></script>\n' + marker)
study = {"version": "3", "data": {
    "uuid": str(uuid.uuid4()), "title": "Microlearning Lab: naming degraded images",
    "description": "People name briefly shown, noisy images; the lab compares them with trained networks.",
    "groupStudy": False, "linearStudy": False, "allowPreview": False, "dirName": name, "comments": "",
    "jsonData": json.dumps({"design": None, "completion_url": None}),
    "componentList": [{"uuid": str(uuid.uuid4()), "title": "Experiment", "htmlFilePath": "jatos.html",
                       "reloadable": True, "active": True, "comments": "", "jsonData": None}],
    "batchList": [{"uuid": str(uuid.uuid4()), "title": "Default", "active": True, "maxActiveMembers": None,
                   "maxTotalMembers": None, "maxTotalWorkers": None,
                   "allowedWorkerTypes": ["PersonalSingle", "GeneralSingle", "PersonalMultiple", "GeneralMultiple"],
                   "comments": None, "jsonData": None}]}}
out = pathlib.Path("dist/microlearning-lab.jzip")
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr(f"{name}.jas", json.dumps(study, indent=1))
    z.writestr(f"{name}/jatos.html", jatos_page)
    for folder in ["www", "data/mnist10k"] + (["data/fashion-mnist"] if with_fashion else []):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                z.write(path, f"{name}/{path.as_posix()}")
print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
PY
