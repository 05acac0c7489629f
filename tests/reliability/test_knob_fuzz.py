"""Property: any knob combination either builds a network whose counted parameters equal Keras' own
count, or is refused by our validation with a ConfigError naming the knob — never a crash inside Keras."""

from __future__ import annotations

import keras
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.errors import ConfigError
from src.models import build_model
from src.profiling import count_params

#: Per family: each knob's strategy, the declared choices plus values that must be refused.
KNOBS = {
    "shufflenet_v1": {
        "groups": st.sampled_from([1, 2, 3, 4, 8, 0, 5, 7, -1]),
        "width_multiplier": st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 0.0, -0.5, 0.3]),
        "shuffle": st.booleans(),
        "stem": st.sampled_from(["imagenet", "small", "tiny"]),
    },
    "mobilenet_v1": {
        "width_multiplier": st.floats(min_value=-0.5, max_value=1.5, allow_nan=False),
        "stem": st.sampled_from(["imagenet", "small", "small_typo"]),
        "dropout": st.sampled_from([0.0, 0.2, 1.0, -0.1]),
    },
    "igc": {
        "primary_partitions": st.sampled_from([1, 2, 4, 8, 12, 24, 48, 5, 0]),
        "secondary_partitions": st.sampled_from([1, 2, 4, 8, 3, 0]),
        "depth": st.sampled_from([8, 20, 9, 2]),
    },
    "resnet18": {
        "stem": st.sampled_from(["imagenet", "small", "big"]),
        "output_stride": st.sampled_from([8, 16, 32, 4, 64]),
        "se_position": st.sampled_from(["none", "standard", "pre", "post", "identity", "after"]),
    },
}
SIZES = st.sampled_from([8, 16, 32, 64])


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_random_knob_combinations_build_consistently_or_are_refused_clearly(name):
    outcomes = {"built": 0, "refused": 0}

    @settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(knobs=st.fixed_dictionaries(KNOBS[name]), size=SIZES)
    def check(knobs, size):
        keras.backend.clear_session()
        try:
            model = build_model(name, input_shape=(size, size, 3), classes=10, **knobs)
        except ConfigError as exc:
            message = str(exc)
            assert any(k in message for k in (*knobs, "input", "size")), f"{name} {knobs}: unclear refusal: {message}"
            outcomes["refused"] += 1
            return
        assert count_params(model).total == model.count_params(), (name, knobs, size)
        outcomes["built"] += 1

    check()
    assert outcomes["built"] and outcomes["refused"], outcomes  # the strategies reach both sides
