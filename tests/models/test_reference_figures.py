"""Every registered network with published figures, at its default (paper) input, against those figures.

The one table of golden numbers is src/models/reference_figures.py ``REFERENCE`` (parameters and
multiply-adds per network, with their source and tolerance; the zoo table is generated from it too).
The family tests check figures of other settings (widths, resolutions, knobs) against the papers, not
these again. The networks whose paper input is ImageNet-size (up to 140 M parameters, 19.6 G
multiply-adds) are checked under ``-m slow``; the CIFAR- and MNIST-size ones (ResNet-20 to -110,
DenseNet-BC-100, IGC, LeNet) in the default run. ResNet-1202's 3,600 layers: slow too.
"""

from __future__ import annotations

import keras
import pytest

from src.models import build_model, get_spec, list_models
from src.models.reference_figures import REFERENCE
from src.profiling import count_macs, count_params


def _tier(name: str):
    large = max(get_spec(name).default_input_shape[:2]) > 64 or name == "resnet1202"
    return pytest.param(name, marks=pytest.mark.slow) if large else name


CHECKED = [_tier(n) for n in sorted(set(REFERENCE) & set(list_models()))]


@pytest.mark.parametrize("name", CHECKED)
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
