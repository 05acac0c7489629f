"""What this process computes on, as far as it changes a run's numbers or speed: the Keras backend,
TensorFlow's oneDNN switch (src/__init__.py), the CPU. No framework is imported here (the GPU machine's
workers import it without TensorFlow or MLflow), and asking never imports TensorFlow."""

from __future__ import annotations

import os
import platform
import sys


def tensorflow_onednn() -> str:
    """'on' or 'off': whether this process' TensorFlow runs oneDNN's CPU kernels (src/__init__.py turns
    them on unless TF_ENABLE_ONEDNN_OPTS=0); 'n/a' where TensorFlow is not imported (JAX backend) or the
    query is missing."""
    if "tensorflow" not in sys.modules:
        return "n/a"
    try:
        from tensorflow.python.util import _pywrap_util_port  # the flag TensorFlow reads; no public API
    except ImportError:
        return "n/a"
    return "on" if _pywrap_util_port.IsMklEnabled() else "off"


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compute_environment() -> dict[str, str]:
    """The settings that change a run's numbers besides library versions: Keras backend, TensorFlow's
    oneDNN kernels, the CPU and its core count."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules:
        backend = sys.modules["keras"].backend.backend()
    return {"keras_backend": backend, "tf_onednn": tensorflow_onednn(), "cpu": cpu_model(),
            "cpu_count": str(os.cpu_count())}
