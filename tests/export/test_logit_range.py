"""Float logit spread and the hint it gives for a quantised export that disagrees with Keras."""

from __future__ import annotations

import numpy as np
import pytest

from src.export.logit_range import LogitRange, logit_range, quantization_hint


def logits_with_outliers(n_normal: int = 95, n_outliers: int = 5, outlier_class: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(n_normal + n_outliers, 10)).astype(np.float32)
    logits[:n_normal, 0] += 4.0  # ordinary inputs: largest |logit| ~ 4–6
    logits[n_normal:, outlier_class] = 500.0  # over-confident inputs of one class
    return rng.permutation(logits)


def test_outliers_are_counted_by_predicted_class():
    spread = logit_range(logits_with_outliers())
    assert 3 < spread.median_max_abs_logit < 8
    assert spread.max_abs_logit == pytest.approx(500.0)
    assert spread.outlier_share == pytest.approx(0.05)
    assert spread.outlier_classes == {"3": 5}


def test_classes_are_listed_most_first():
    logits = np.vstack([logits_with_outliers(90, 2, outlier_class=7), logits_with_outliers(0, 6, outlier_class=1)])
    assert list(logit_range(logits).outlier_classes.items()) == [("1", 6), ("7", 2)]


def test_no_outliers_without_a_heavy_tail():
    spread = logit_range(logits_with_outliers(n_outliers=0))
    assert spread.outlier_share == 0 and spread.outlier_classes == {}
    assert quantization_hint(spread, top1_agreement=0.3) is None


def test_hint_only_when_agreement_is_poor_and_outliers_exist():
    spread = logit_range(logits_with_outliers())
    assert quantization_hint(spread, top1_agreement=0.99) is None
    hint = quantization_hint(spread, top1_agreement=0.36, labels=[f"c{i}" for i in range(10)])
    assert "5.0 % of the inputs" in hint and "3 (c3): 5" in hint and "0.3600" in hint
    assert "label_smoothing" in hint


def test_round_trips_through_a_dict():
    spread = logit_range(logits_with_outliers())
    assert LogitRange(**spread.as_dict()) == spread


@pytest.mark.parametrize("bad", [np.zeros((0, 10)), np.zeros(10)])
def test_bad_logits_are_refused(bad):
    with pytest.raises(ValueError, match=r"shape \(N, classes\)"):
        logit_range(bad)


def test_factor_must_exceed_one():
    with pytest.raises(ValueError, match="outlier_factor"):
        logit_range(logits_with_outliers(), outlier_factor=1.0)


def test_report_hint_only_for_quantised_formats_with_a_recorded_spread():
    from src.export.tflite import report_hint

    report = {"top1_agreement": 0.36, "keras_logit_range": logit_range(logits_with_outliers()).as_dict()}
    assert report_hint(report, "float32") is None and report_hint(report, "float16") is None
    assert report_hint({"top1_agreement": 0.36}, "int8") is None  # a report written before the spread existed
    assert report_hint(report, "int8") == quantization_hint(logit_range(logits_with_outliers()), 0.36)
