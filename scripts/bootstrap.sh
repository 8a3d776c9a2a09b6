#!/usr/bin/env bash
# Create .venv (once) with torch 2.13.0, the five packages installed editable, and the tools the
# tests use. Safe to run again: it only installs what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" "tox>=4" "pytest>=7" scipy pyro-api arviz matplotlib graphviz
.venv/bin/python -m pip install -q --disable-pip-version-check \
    -e packages/pyro-core -e packages/pyro-distributions -e packages/pyro-optim \
    -e packages/pyro-infer -e packages/pyro-nn
