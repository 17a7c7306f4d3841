#!/usr/bin/env bash
# Dependency audit: yanked versions, sources and licences of everything in Cargo.lock, checked
# against crates.io's sparse index; RustSec advisories too when given a database snapshot.
#   scripts/audit.sh [--lock FILE] [--rustsec ADVISORY_DB_DIR] [--no-licences]
# Needs python3 (3.11+, standard library only) and network access to index.crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/audit.py "$@"
