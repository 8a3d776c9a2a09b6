#!/usr/bin/env bash
# Run the whole test suite: every tox env (each package alone, everything together, the
# example plugins, the wheels, lint). Extra arguments go to tox, e.g. `-e all`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/tox "$@"
