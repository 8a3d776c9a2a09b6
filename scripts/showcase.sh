#!/usr/bin/env bash
# Set everything up (first run only) and run the main job: the coin showcase.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python examples/coin_showcase.py "$@"
