#!/usr/bin/env python3
"""Dependency audit for custseg: every package in Cargo.lock is checked against crates.io's
sparse index (https://index.crates.io, the same source cargo resolves from):

- the locked version exists on crates.io and is not yanked (authors yank releases with
  security or soundness bugs; a yanked version in the lock is a finding);
- every package comes from crates.io (no git or unknown registries);
- every package declares a licence, and none is GPL/AGPL/LGPL/SSPL (custseg is MIT/Apache);
- with `--rustsec DB` (a checkout or snapshot of the RustSec advisory database) and
  `cargo audit` installed, cargo audit runs offline against it as well.

Exit status: 0 when clean, 1 on any finding, 2 when the index cannot be reached.
Standard library only.
"""

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request

INDEX = "https://index.crates.io"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
SPARSE = "sparse+https://index.crates.io/"
COPYLEFT = ("GPL", "AGPL", "LGPL", "SSPL")


def index_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def fetch(name: str):
    url = f"{INDEX}/{index_path(name)}"
    req = urllib.request.Request(url, headers={"User-Agent": "custseg-audit"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read().decode()
    return {v["vers"]: v for v in map(json.loads, filter(None, body.splitlines()))}


def licences(manifest_dir: str):
    """name@version -> licence expression, from cargo metadata (no network)."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--offline"],
        cwd=manifest_dir,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        out = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            cwd=manifest_dir,
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        print(f"cargo metadata failed: {out.stderr.strip()}", file=sys.stderr)
        return None
    meta = json.loads(out.stdout)
    return {f'{p["name"]}@{p["version"]}': p.get("license") for p in meta["packages"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lock", default="Cargo.lock", help="Cargo.lock to audit")
    ap.add_argument("--no-licences", action="store_true", help="skip the licence check")
    ap.add_argument("--rustsec", metavar="DB", help="RustSec advisory-db folder for cargo audit")
    args = ap.parse_args()

    with open(args.lock, "rb") as f:
        lock = tomllib.load(f)
    packages = lock.get("package", [])
    ours = [p for p in packages if "source" not in p]
    deps = [p for p in packages if "source" in p]
    findings = []
    for p in deps:
        if p["source"] not in (CRATES_IO, SPARSE):
            findings.append(f'{p["name"]} {p["version"]}: source {p["source"]} is not crates.io')

    names = sorted({p["name"] for p in deps})
    index = {}
    with cf.ThreadPoolExecutor(max_workers=16) as pool:
        futures = {pool.submit(fetch, n): n for n in names}
        for fut in cf.as_completed(futures):
            n = futures[fut]
            try:
                index[n] = fut.result()
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    findings.append(f"{n}: not on crates.io")
                else:
                    print(f"error: {INDEX}/{index_path(n)}: HTTP {e.code}", file=sys.stderr)
                    return 2
            except (urllib.error.URLError, TimeoutError, OSError) as e:
                print(f"error: cannot reach {INDEX} for {n}: {e}", file=sys.stderr)
                return 2
    yanked = 0
    for p in deps:
        versions = index.get(p["name"])
        if versions is None:
            continue
        v = versions.get(p["version"])
        if v is None:
            findings.append(f'{p["name"]} {p["version"]}: version not on crates.io')
        elif v.get("yanked"):
            yanked += 1
            newer = [x for x, e in versions.items() if not e.get("yanked")]
            findings.append(
                f'{p["name"]} {p["version"]}: yanked on crates.io '
                f"({len(newer)} unyanked versions exist; run `cargo update -p {p['name']}`)"
            )
        if v is not None and v.get("cksum") and p.get("checksum") and v["cksum"] != p["checksum"]:
            findings.append(f'{p["name"]} {p["version"]}: checksum differs from the index')

    lic_checked = 0
    if not args.no_licences:
        lic = licences(os.path.dirname(os.path.abspath(args.lock)))
        if lic is not None:
            for p in deps:
                key = f'{p["name"]}@{p["version"]}'
                if key not in lic:
                    continue  # a platform-specific package cargo metadata did not resolve
                lic_checked += 1
                expr = lic[key]
                if not expr:
                    findings.append(f"{key}: no licence declared")
                    continue
                # "MIT OR GPL-2.0" is fine (we take MIT); flag only when every choice is copyleft.
                choices = [c.strip(" ()") for c in expr.replace("/", " OR ").split(" OR ")]
                if all(any(c.upper().startswith(x) for x in COPYLEFT) for c in choices):
                    findings.append(f"{key}: copyleft licence {expr}")

    rustsec = "not checked (pass --rustsec DB with a RustSec advisory-db snapshot)"
    if args.rustsec:
        if shutil.which("cargo-audit") is None:
            findings.append("--rustsec given but cargo-audit is not installed (cargo install cargo-audit)")
        else:
            r = subprocess.run(
                ["cargo", "audit", "--no-fetch", "--db", args.rustsec, "--file", args.lock]
            )
            rustsec = "clean" if r.returncode == 0 else "ADVISORIES FOUND (above)"
            if r.returncode != 0:
                findings.append("cargo audit reported advisories")

    print(f"audited {args.lock}: {len(deps)} locked dependencies ({len(names)} crates), "
          f"{len(ours)} local package(s)")
    print(f"  index: {len(index)} crates fetched from {INDEX}; yanked versions locked: {yanked}")
    print(f"  licences checked: {lic_checked}")
    print(f"  RustSec advisories: {rustsec}")
    for f in findings:
        print(f"FINDING: {f}")
    print("clean" if not findings else f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
