#!/usr/bin/env bash
# Installs everything, then runs the main job (extra arguments are Hydra overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m src.run experiment=resnet20_fashion_mnist "$@"
