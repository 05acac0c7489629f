"""Reproducible experiments for efficient CNN architectures, in Keras 3."""

import os

# TensorFlow's x86 build uses oneDNN's CPU kernels by default only on CPUs with AVX-512 VNNI/BF16 or AMX
# (it left them off on an AVX2-only AMD EPYC). Elsewhere it runs Eigen kernels, some of whose gradients
# are pathological: a 1×1 conv's input gradient at 464→1024 channels took 96 ms against 4.4 ms with
# oneDNN, and ResNet-50 trained 7.9× slower (experiments/bench/README.md, "oneDNN on every x86 CPU").
# TensorFlow reads the switch once, at import, so it is set here, before any of our modules imports it.
# TF_ENABLE_ONEDNN_OPTS=0 in the environment turns it off; `src.compute_env.tensorflow_onednn` says
# which is in force, and every MLflow run records it (tag env.tf_onednn).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
