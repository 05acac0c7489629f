"""SqueezeNet (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and
<0.5MB model size", 2016, arXiv:1602.07360), versions 1.0 (Table 1) and 1.1 (the authors' release).

Fire module (§3.2, Fig. 1): a 1×1 "squeeze" conv of ``s1x1`` filters -> ReLU, then two parallel
"expand" convs, 1×1 (``e1x1``) and 3×3 (``e3x3``, padding 1), each -> ReLU, concatenated (e1x1 first).
Every conv has a bias and there is no batch normalisation (the paper's network, as torchvision).

- v1.0 (Table 1): conv1 96 7×7/2 -> max-pool -> fire2..4 -> max-pool -> fire5..8 -> max-pool -> fire9
  -> dropout 0.5 -> conv10 (1×1, classes) -> ReLU -> global average pool -> softmax (§3.3).
- v1.1 (SqueezeNet v1.1 release, same Fire modules): conv1 64 3×3/2, the max-pools after conv1, fire3
  and fire5 ("2.4× less computation than 1.0").

Max-pools are 3×3 stride 2 in Caffe's ceil mode, conv1 is unpadded: at 224×224, v1.0 runs fire2–4 at
54×54, fire5–8 at 27×27, fire9 at 13×13 and has 1,248,424 parameters and 0.82 G multiply-adds
(torchvision: 1,248,424 and 0.819 "GFLOPS", which are MACs: torchvision's weight metadata); v1.1 has
1,235,496 and 0.35 G. Ceil mode is emulated per spatial size: "valid" for odd sizes, one extra row /
column at the bottom / right for even sizes (identical results: the pooled maps are ≥ 0 after ReLU,
except after a complex bypass; an unknown (None) size pools in floor mode).

Knobs (the paper's values are the defaults):

- ``bypass`` (§6, Fig. 2, Table 3): ``"none"`` (vanilla); ``"simple"`` adds each Fire module's input to
  its output where their channels match (fire3, 5, 7, 9 — derived from the table, not hard-coded);
  ``"complex"`` also bypasses the other modules (fire2, 4, 6, 8) through a 1×1 conv (with bias, no
  ReLU) to the output's channels. The sums are not followed by a ReLU (as the SqueezeNet-Residual
  release).
- ``batch_norm``: ``True`` puts BN between every conv (except conv10) and its ReLU and drops those
  convs' biases. Not in the paper; can help short trainings from scratch.
- ``stem``: ``"imagenet"`` = conv1 as above, unpadded, with the max-pool after it; ``"small"`` = conv1
  3×3 stride 1 ("same" padding, same filters) and no max-pool after conv1 (two max-pools remain).
  This is the documented small-input variant (registry ``small_knobs``): fire9 / conv10 work on 8×8
  maps at 32×32 input and 7×7 at 28×28 (the ImageNet stem would leave 1×1).

Layer names: ``conv1_conv``, ``conv1_relu``, ``pool1`` (``pool{n}`` after fire{n}), ``fire{n}_squeeze1x1_conv``,
``fire{n}_expand1x1_conv``, ``fire{n}_expand3x3_conv`` (and ``_bn``, ``_relu``), ``fire{n}_concat``,
``fire{n}_bypass_conv``, ``fire{n}_add``; head ``drop9``, ``conv10``, ``conv10_relu``, ``pool10``, ``predictions``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from src.errors import ConfigError
from src.models.common import POOLINGS, bn, check_choice, model_input
from src.models.registry import register_model

PAPER = "Iandola et al. 2016, arXiv:1602.07360"

#: Table 1: Fire module number -> (s1x1, e1x1, e3x3); the same modules in v1.0 and v1.1.
FIRE_MODULES: dict[int, tuple[int, int, int]] = {
    2: (16, 64, 64),
    3: (16, 64, 64),
    4: (32, 128, 128),
    5: (32, 128, 128),
    6: (48, 192, 192),
    7: (48, 192, 192),
    8: (64, 256, 256),
    9: (64, 256, 256),
}
#: Version -> conv1 (filters, kernel, stride) and the layers followed by a 3×3/2 max-pool (1 = conv1).
VERSIONS: dict[str, dict] = {
    "1.0": {"conv1": (96, 7, 2), "pools_after": (1, 4, 8)},
    "1.1": {"conv1": (64, 3, 2), "pools_after": (1, 3, 5)},
}
DROPOUT = 0.5  # §3.3: after fire9
BYPASSES = ("none", "simple", "complex")
STEMS = ("imagenet", "small")
#: He-uniform fan-in (torchvision's kaiming_uniform_ for the Fire convs; no BN to rescale activations).
CONV_INIT = {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}}
#: conv10: N(0, 0.01) as the Caffe release and torchvision.
CONV10_INIT = {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.01}}


def _conv_act(x, filters: int, kernel_size: int, name: str, batch_norm: bool, strides: int = 1,
              padding: str = "same", activation: str | None = "relu"):
    """Conv (bias unless BN) -> [BN] -> [ReLU], named ``{name}_conv``, ``{name}_bn``, ``{name}_relu``."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=not batch_norm,
        kernel_initializer=CONV_INIT, name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = bn(x, f"{name}_bn")
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def ceil_max_pool(x, name: str):
    """3×3 stride-2 max-pool in Caffe's ceil mode: ⌈(n − 3) / 2⌉ + 1 outputs per known spatial size n."""
    pads = [1 if (d is not None and d % 2 == 0) else 0 for d in x.shape[1:3]]
    if pads == [1, 1]:
        return layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)  # pads bottom/right by 1
    if pads == [1, 0] or pads == [0, 1]:
        x = layers.ZeroPadding2D(((0, pads[0]), (0, pads[1])), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, strides=2, padding="valid", name=name)(x)


def fire_module(x, s1x1: int, e1x1: int, e3x3: int, name: str, batch_norm: bool = False, bypass: str = "none"):
    """Fire module (§3.2, Fig. 1) with the optional simple / complex bypass of §6 (Fig. 2)."""
    s = _conv_act(x, s1x1, 1, f"{name}_squeeze1x1", batch_norm)
    e1 = _conv_act(s, e1x1, 1, f"{name}_expand1x1", batch_norm)
    e3 = _conv_act(s, e3x3, 3, f"{name}_expand3x3", batch_norm)
    y = layers.Concatenate(name=f"{name}_concat")([e1, e3])
    if bypass == "none":
        return y
    if x.shape[-1] == y.shape[-1]:
        shortcut = x
    elif bypass == "complex":
        shortcut = _conv_act(x, y.shape[-1], 1, f"{name}_bypass", batch_norm, activation=None)
    else:
        return y
    return layers.Add(name=f"{name}_add")([y, shortcut])


def squeezenet(
    *,
    version: str,
    input_shape: Sequence[int] | None = None,
    classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    bypass: str = "none",
    batch_norm: bool = False,
    stem: str = "imagenet",
    name: str | None = None,
) -> keras.Model:
    """SqueezeNet v1.0 (Table 1) or v1.1; the head is the paper's conv10 -> ReLU -> global average pool."""
    where = f"squeezenet{version.replace('.', '_')}"
    check_choice("version", version, tuple(VERSIONS), where)
    check_choice("bypass", bypass, BYPASSES, where)
    check_choice("batch_norm", batch_norm, (False, True), where)
    check_choice("stem", stem, STEMS, where)
    if include_top and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 1):
        raise ConfigError(f"{where}: classes must be a positive integer, got {classes!r}.")
    if not include_top:
        check_choice("pooling", pooling, POOLINGS, where)
    filters, kernel, strides = VERSIONS[version]["conv1"]
    pools_after = VERSIONS[version]["pools_after"]
    if stem == "small":
        kernel, strides, pools_after = 3, 1, tuple(p for p in pools_after if p != 1)
    # Smallest input that leaves ≥ 1×1 after conv1 and the pools (32 for both versions' ImageNet stem).
    inputs = model_input(input_shape, (224, 224, 3), 32 if stem == "imagenet" else 8, where)

    x = _conv_act(
        inputs, filters, kernel, "conv1", batch_norm, strides=strides,
        padding="valid" if stem == "imagenet" else "same",
    )
    if 1 in pools_after:
        x = ceil_max_pool(x, "pool1")
    for n, (s1x1, e1x1, e3x3) in FIRE_MODULES.items():
        x = fire_module(x, s1x1, e1x1, e3x3, f"fire{n}", batch_norm, bypass)
        if n in pools_after:
            x = ceil_max_pool(x, f"pool{n}")

    if include_top:
        x = layers.Dropout(DROPOUT, name="drop9")(x)
        x = layers.Conv2D(classes, 1, kernel_initializer=CONV10_INIT, name="conv10")(x)
        x = layers.Activation("relu", name="conv10_relu")(x)
        x = layers.GlobalAveragePooling2D(name="pool10")(x)
        if classifier_activation is not None:
            x = layers.Activation(classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="head_pool")(x)
    return keras.Model(inputs, x, name=name or where)


for _version in VERSIONS:
    register_model(
        f"squeezenet{_version.replace('.', '_')}", squeezenet, fixed={"version": _version}, family="squeezenet",
        paper=f"{PAPER}, Table 1" + (" (v1.1: SqueezeNet v1.1 release)" if _version == "1.1" else ""),
        default_input_shape=(224, 224, 3), small_input_shape=(32, 32, 3), small_knobs={"stem": "small"},
        knob_choices={"bypass": BYPASSES, "batch_norm": (False, True), "stem": STEMS},
    )
