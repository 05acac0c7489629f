"""Every registered network with published figures, at its default input, against those figures
(src/models/reference_figures.py, transcribed from the papers and libraries it names)."""

from __future__ import annotations

import keras
import pytest

from src.models import build_model, list_models
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params
from tests.models.test_zoo import _built_by_default

#: ImageNet-size builds of the networks the zoo tests build by default run by default too; the rest
#: (and the ~140 M-parameter AlexNet/VGG builds) under ``-m slow``. Their family tests check them too.
HEAVY = {"alexnet", "resnet1202"}
CHECKED = sorted(set(REFERENCE) & set(list_models()))


def _params(names):
    return [n if (_built_by_default(n) and n not in HEAVY and not n.startswith("vgg")) else
            pytest.param(n, marks=pytest.mark.slow) for n in names]


@pytest.mark.parametrize("name", _params(CHECKED))
def test_params_and_macs_match_the_published_figures(name):
    ref = REFERENCE[name]
    keras.backend.clear_session()
    model = build_model(name)
    params = count_params(model).trainable
    if ref.params is not None:
        if ref.exact:
            assert params == ref.params, f"{name}: {params:,} trainable parameters, {ref.source}: {ref.params:,}"
        else:
            assert params == pytest.approx(ref.params, rel=ref.params_precision), (name, params, ref.source)
    if ref.macs is not None:
        macs = count_macs(model).total
        assert macs == pytest.approx(ref.macs, rel=ref.macs_precision), (name, macs, ref.source)


def test_every_reference_names_a_registered_network():
    assert set(REFERENCE) <= set(list_models()), set(REFERENCE) - set(list_models())
