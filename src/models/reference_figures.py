"""Published parameter and multiply-add counts per registered network, at its default input.

Transcribed from the papers and libraries named in ``source``: only figures printed in a paper or read
from a library's source (and counts of keras.applications, or of an author's reference network
definition where ``source`` names it). ``exact`` marks parameter counts that must be equal, not close
(keras.applications / torchvision counts). ``macs`` are multiply-adds (torchvision's "GFLOPS" and
SENet's "GFLOPs" are multiply-adds). None: no trustworthy published figure.
Used by the generated zoo table (src/report/zoo_table.py) and tests/models/test_reference_figures.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    params: float | None
    macs: float | None
    source: str
    exact: bool = False  # params equal to the unit, not within 0.5 %
    params_precision: float = 0.005  # relative tolerance when not exact (paper's printed precision)
    macs_precision: float = 0.03


M, G = 1e6, 1e9

REFERENCE: dict[str, Reference] = {
    # ResNet (§2.3, §3.3): torchvision params exactly; the paper's Table 1 multiply-adds.
    "resnet18": Reference(11_689_512, 1.8 * G, "torchvision §3.3; He et al. Table 1", exact=True),
    "resnet34": Reference(21_797_672, 3.6 * G, "torchvision §3.3; He et al. Table 1", exact=True),
    "resnet50": Reference(25_557_032, 3.8 * G, "torchvision §3.3; He et al. Table 1", exact=True),
    "resnet101": Reference(44_549_160, 7.6 * G, "torchvision §3.3; He et al. Table 1", exact=True),
    "resnet152": Reference(60_192_808, 11.3 * G, "torchvision §3.3; He et al. Table 1", exact=True),
    "resnet20": Reference(0.27 * M, 40.55 * M, "He et al. Table 6 (MACs: ≈41 M, counted)", params_precision=0.02),
    "resnet32": Reference(0.46 * M, None, "He et al. Table 6", params_precision=0.02),
    "resnet44": Reference(0.66 * M, None, "He et al. Table 6", params_precision=0.02),
    "resnet56": Reference(0.85 * M, None, "He et al. Table 6", params_precision=0.02),
    "resnet110": Reference(1.7 * M, None, "He et al. Table 6", params_precision=0.03),
    "resnet1202": Reference(19.4 * M, None, "He et al. Table 6", params_precision=0.003),
    # ResNeXt: torchvision's resnext* counts exactly (same layout: grouped 3×3, stride on it); the paper's
    # Table 1 prints 4.2 G for 32×4d (±0.05 G at its precision); Table 1 has no 101-layer row.
    "resnext50_32x4d": Reference(25_028_904, 4.2 * G, "torchvision resnext50_32x4d; Xie et al. Table 1", exact=True,
                                 macs_precision=0.012),
    "resnext101_32x8d": Reference(88_791_336, None, "torchvision resnext101_32x8d", exact=True),
    "resnext101_64x4d": Reference(83_455_272, None, "torchvision resnext101_64x4d", exact=True),
    # SENet (§2.10): Table 2 / Table 10.
    "se_resnet50": Reference(28.1 * M, 3.87 * G, "SENet Table 2 / Table 10 (r=16)", params_precision=0.002),
    "se_resnet101": Reference(None, 7.60 * G, "SENet Table 2"),
    "se_resnet152": Reference(None, 11.32 * G, "SENet Table 2"),
    # Params: our count of SENet's reference network definition (hujie-frank/SENet,
    # models/SE-BN-Inception.prototxt: 11,931,622 learnable parameters; 11,285,224 without its SE layers,
    # the BN-Inception below).
    "se_inception_v2": Reference(11_931_622, 2.04 * G,
                                 "hujie-frank/SENet SE-BN-Inception.prototxt (counted); SENet Table 2", exact=True),
    # SENet's 11.76 G is its re-implemented Inception-ResNet-v2 (11.75 G) + SE; ours follows keras.applications'
    # layout (13.16 G): the SE overhead is compared in tests/models/test_se_inception.py instead.
    "se_inception_resnet_v2": Reference(None, None, "SENet Table 2"),
    # Classic networks (§1, §2.1–2.9, §3.2).
    "alexnet": Reference(60_965_224, 724.4 * M, "Caffe BVLC count; Deep Compression Table 4", exact=True),
    "vgg11": Reference(133 * M, None, "Simonyan & Zisserman Table 2", params_precision=0.004),
    "vgg13": Reference(133 * M, None, "Simonyan & Zisserman Table 2", params_precision=0.004),
    "vgg16": Reference(138_357_544, 15.3 * G, "keras.applications §3.2; MACs ResNet paper", exact=True),
    "vgg19": Reference(143_667_240, 19.6 * G, "keras.applications §3.2; MACs ResNet paper", exact=True),
    # Ours: 6,998,552 (Table 1's layers, convs with biases, true 5×5 branches; torchvision's
    # 6,624,904 uses 3×3 there and BN). The papers print 6.8 M (MobileNet Table 8): within 3 %.
    "googlenet": Reference(6.8 * M, 1.55 * G, "MobileNet Table 8", params_precision=0.03),
    # Params: SENet's reference SE-BN-Inception.prototxt without its SE layers counts 11,285,224 (every width
    # equal to the BN paper's Figure 5 table, as ours). The BN paper's text says 13.6 M, which no reading of
    # its own table reaches (11.2-11.3 M with or without biases, BN statistics or its separable stem): not compared.
    "inception_v2": Reference(11_285_224, 2.03 * G,
                              "hujie-frank/SENet SE-BN-Inception.prototxt without SE (counted); "
                              "SENet Table 2 re-implementation", exact=True),
    "inception_v3": Reference(23_817_352, 5.713 * G, "keras.applications §3.2 (no aux head); torchvision §3.3 MACs", exact=True),
    # MACs: SENet Table 2's re-implementation prints 11.75 G; keras.applications' InceptionResNetV2 itself
    # counts 13.16 G with our counter (as ours, same network), so that re-implementation differs: not compared.
    "inception_resnet_v2": Reference(55_813_192, None, "keras.applications §3.2", exact=True),
    "inception_v4": Reference(42.7 * M, None, "Szegedy et al. 2017: not in the paper, ≈42.7 M in re-implementations"),
    "xception": Reference(22_855_952, None, "Chollet Table 3; keras.applications", exact=True),
    "densenet121": Reference(7_978_856, None, "keras.applications §3.2", exact=True),
    "densenet169": Reference(14_149_480, None, "keras.applications §3.2", exact=True),
    "densenet201": Reference(20_013_928, None, "keras.applications §3.2", exact=True),
    "densenet_bc_100_12": Reference(0.8 * M, None, "Huang et al. Table 2", params_precision=0.05),
    "squeezenet1_0": Reference(1_248_424, None, "torchvision §3.3 (paper: 1.25 M)", exact=True),
    "squeezenet1_1": Reference(1_235_496, None, "torchvision §3.3", exact=True),
    # Efficient networks (§2.11–2.17).
    "mobilenet_v1": Reference(4_231_976, 569 * M, "keras.applications; MobileNet Table 6", exact=True, macs_precision=0.002),
    "mobilenet_v2": Reference(3_504_872, 300 * M, "keras.applications; MobileNetV2 Table 4", exact=True),
    "mobilenet_v3_large": Reference(5_483_032, 219 * M, "keras.applications; MobileNetV3 Table 3", exact=True),
    "mobilenet_v3_small": Reference(2_542_856, 56 * M, "keras.applications; MobileNetV3 Table 3", exact=True),
    "shufflenet_v1": Reference(None, 140 * M, "ShuffleNet Table 2 (1×, g=3)"),
    "shufflenet_v2": Reference(2.3 * M, 146 * M, "ShuffleNet v2 Table 5 (1×)", params_precision=0.03),
    # NASNet-A (4 @ 1056): keras.applications' NASNetMobile counted (§3.2); Table 2's 564 M (also MobileNetV2 Table 4).
    "nasnet_mobile": Reference(5_289_978, 564 * M, "keras.applications §3.2; Zoph et al. Table 2", exact=True,
                               macs_precision=0.002),
    # Deep Compression's MNIST networks (§2.20 Tables 2-3), at 28×28×1.
    "lenet_300_100": Reference(266e3, None, "Deep Compression Table 2 (266 K)"),
    "lenet5": Reference(431e3, None, "Deep Compression Table 3 (431 K)"),
    # The authors' README prints 8.61 M and 1.3 G "FLOPs" (multiply-add scale): MACs at
    # the printed 2-digit precision (±0.05 G).
    "igc_l100m2": Reference(8.61 * M, 1.3 * G, "IGC authors' README (IGC-L100M2+Ident.)", params_precision=0.005,
                            macs_precision=0.04),
}


def reference_for(name: str) -> Reference | None:
    """The published figures for ``name``, or None if none are recorded."""
    return REFERENCE.get(name)
