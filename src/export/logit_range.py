"""How a float model's logits are spread over the verification inputs: the first thing to look at when a
full-integer int8 export disagrees with its Keras model.

Post-training int8 takes every activation tensor's range from the calibration images (one scale per
tensor). A few inputs whose activations run an order of magnitude above the rest stretch those ranges,
and the ordinary inputs' values round to a handful of levels. Measured on ShuffleNet v1 (g=3) after 4
epochs on Fashion-MNIST (experiments/mobile_export/NOTES.md): the median test image's largest |logit|
is 15, but 699 of the 10,000 (7 %, every one a trouser, classified correctly) exceed 10× that, up to
7.6e3; int8 top-1 agreement is 0.36. The network is not wrong on them, it is over-confident: cross-entropy
keeps widening an easy class's margin, and label smoothing bounds that margin (Szegedy et al. 2016,
§7; Müller et al. 2019). The same training with ``train.label_smoothing=0.1`` had, after 4 epochs, a
largest |logit| of 59 and int8 agreement 0.79: better, not cured (the NOTES give what remains).

`logit_range` measures this from the float logits that verification computes anyway, and
`quantization_hint` turns it into one line for a poor int8 export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: An input is an outlier when its largest |logit| exceeds this many times the median input's.
OUTLIER_FACTOR = 10.0
#: Quantised exports whose top-1 agreement is below this get a hint (`quantization_hint`).
HINT_BELOW_AGREEMENT = 0.95


@dataclass(frozen=True)
class LogitRange:
    """Spread of the per-input largest |logit| (float model) over a set of inputs."""

    median_max_abs_logit: float
    max_abs_logit: float
    outlier_factor: float
    outlier_share: float  # share of inputs whose largest |logit| exceeds outlier_factor × the median
    outlier_classes: dict[str, int]  # predicted class (as str, for JSON) -> outlier count, most first

    def as_dict(self) -> dict:
        return asdict(self)


def logit_range(logits: np.ndarray, outlier_factor: float = OUTLIER_FACTOR) -> LogitRange:
    """`LogitRange` of float ``logits`` (N, classes); outliers are counted by their predicted class."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError(f"logit_range needs logits of shape (N, classes) with N ≥ 1, got {logits.shape}.")
    if outlier_factor <= 1:
        raise ValueError(f"outlier_factor must be > 1, got {outlier_factor}.")
    peak = np.abs(logits).max(axis=1)
    median = float(np.median(peak))
    outliers = peak > outlier_factor * median
    predicted = logits[outliers].argmax(axis=1)
    classes, counts = np.unique(predicted, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return LogitRange(
        median_max_abs_logit=median,
        max_abs_logit=float(peak.max()),
        outlier_factor=float(outlier_factor),
        outlier_share=float(outliers.mean()),
        outlier_classes={str(int(classes[i])): int(counts[i]) for i in order},
    )


def quantization_hint(spread: LogitRange, top1_agreement: float, labels: list[str] | None = None) -> str | None:
    """One line explaining a quantised export's poor agreement by outlier inputs, or None when the
    agreement is fine (≥ `HINT_BELOW_AGREEMENT`) or there are no outliers to blame."""
    if top1_agreement >= HINT_BELOW_AGREEMENT or spread.outlier_share == 0:
        return None

    def name(cls: str) -> str:
        return f"{cls} ({labels[int(cls)]})" if labels and int(cls) < len(labels) else cls

    classes = ", ".join(f"{name(c)}: {n}" for c, n in list(spread.outlier_classes.items())[:3])
    return (
        f"top-1 agreement {top1_agreement:.4f}: {100 * spread.outlier_share:.1f} % of the inputs drive the float "
        f"model's largest |logit| above {spread.outlier_factor:g}× the median input's ({spread.median_max_abs_logit:.3g}; "
        f"up to {spread.max_abs_logit:.3g}), predicted class {classes}. Such inputs stretch the int8 activation "
        f"ranges; where one class dominates them, train.label_smoothing=0.1 bounds its logits "
        f"(src/export/logit_range.py)."
    )
