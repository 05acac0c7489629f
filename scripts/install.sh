#!/usr/bin/env bash
# Installs everything the suite needs on Debian + Python 3.11 (root): the Fashion-MNIST data package
# and a virtual environment .venv with the package and its test extra. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${FASHION_MNIST_DIR:-}" ]; then
    echo "== installing Debian's dataset-fashion-mnist"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
fi

# tflite-support's metadata writer (Android bundles, src/export/android.py) loads libusb-1.0 when imported.
if ! ldconfig -p | grep -q 'libusb-1.0.so.0'; then
    echo "== installing Debian's libusb-1.0-0 (tflite-support's metadata writer needs it)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0
fi

# The tracking-server test (tests/scaleout) starts a throw-away PostgreSQL cluster with Debian's initdb/pg_ctl.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    echo "== installing Debian's postgresql (the tracking-server test's database)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi

# The MLflow-UI browser test (-m slow) needs headless Chromium: INSTALL_BROWSER=1 bash scripts/install.sh
if [ "${INSTALL_BROWSER:-0}" = "1" ] && ! command -v chromedriver >/dev/null; then
    echo "== installing Debian's chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    if ! "$PY" -m venv .venv 2>/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        rm -rf .venv && "$PY" -m venv .venv
    fi
fi
echo "== installing the package into .venv"
.venv/bin/python -m pip install -q --upgrade pip
# setuptools notes on every editable install of a package kept in the project root (ours is `src`) that a
# folder named like it may take precedence; the suite runs from the root, where that folder is the package.
PYTHONWARNINGS="ignore::UserWarning:setuptools.command.editable_wheel" .venv/bin/python -m pip install -q -e ".[test,jax]"
# TFLite Metadata for the Android bundles (src/export/android.py): tflite-support's last release pins
# protobuf<4, which TensorFlow 2.21 cannot use; its metadata writer works with ours, so no dependencies.
.venv/bin/python -m pip install -q --no-deps tflite-support==0.4.4
echo "== installed: $(.venv/bin/python -c 'import tensorflow as tf, keras; print("tensorflow", tf.__version__, "keras", keras.__version__)' 2>/dev/null)"
