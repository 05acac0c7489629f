"""The peers our networks are timed against, and the knobs that make ours the same network as theirs.

Kept apart from the suite so that the fresh-process workers (src/bench/keras_train.py, torch_train.py)
import it without Hydra or TensorFlow (the GPU machine has neither).
"""

from __future__ import annotations

from typing import Any

import keras

from src.models import build_model

CLASSES = 10
#: Our knobs that make the network keras.applications' (MobileNetV2 has no dropout before its classifier).
KERAS_APPLICATIONS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # ours -> (keras.applications constructor, its extra arguments, our knobs)
    "mobilenet_v1": ("MobileNet", {}, {}),
    "mobilenet_v2": ("MobileNetV2", {}, {"dropout": 0.0}),
    "mobilenet_v3_large": ("MobileNetV3Large", {"include_preprocessing": False}, {}),
    "mobilenet_v3_small": ("MobileNetV3Small", {"include_preprocessing": False}, {}),
    "resnet50": ("ResNet50", {}, {}),
    "densenet121": ("DenseNet121", {}, {}),
    "xception": ("Xception", {}, {}),
    "inception_v3": ("InceptionV3", {}, {}),
}
#: ours -> (torchvision constructor, our knobs): torchvision's ResNet-50 strides the 3×3 conv (v1.5).
TORCHVISION: dict[str, tuple[str, dict[str, Any]]] = {
    "mobilenet_v2": ("mobilenet_v2", {}),
    "resnet50": ("resnet50", {"downsample_in": "3x3"}),
    "shufflenet_v2": ("shufflenet_v2_x1_0", {}),
    "squeezenet1_1": ("squeezenet1_1", {}),
    "densenet121": ("densenet121", {}),
}


def build_ours(name: str, size: int, channels: int = 3, **knobs: Any) -> keras.Model:
    """Our ``name`` at the paper variant (or as ``knobs`` say), ``size``×``size``×``channels`` input,
    10 classes, logits out."""
    return build_model(name, input_shape=(size, size, channels), classes=CLASSES, classifier_activation=None,
                       **knobs)
