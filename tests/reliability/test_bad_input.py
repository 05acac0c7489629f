"""Issue 9's bad knob values, each refused with one message that names the knob and the way out.

(IGC has no "L·M ≠ channels" case: its width is G = L·M by construction, src/models/igc.py.)"""

from __future__ import annotations

import pytest

from src.errors import ConfigError
from src.models import build_model
from tests.helpers.cli import run_cli
from tests.helpers.config import TINY_JOB


@pytest.mark.parametrize(
    ("name", "knobs", "fragments"),
    [
        ("shufflenet_v1", {"groups": 5}, ["groups=5", "choose one of [1, 2, 3, 4, 8]"]),
        ("mobilenet_v1", {"width_multiplier": 0.0}, ["width_multiplier=0.0", "(0, 4]"]),
        ("mobilenet_v2", {"width_multiplier": -1.0}, ["width_multiplier=-1.0", "(0, 4]"]),
        ("shufflenet_v2", {"width_multiplier": 0.7}, ["width_multiplier=0.7", "[0.5, 1.0, 1.5, 2.0]"]),
        ("se_resnet50", {"se_position": "after"}, ["se_position='after'", "'standard'"]),
        ("mobilenet_v1", {"input_shape": (8, 8, 3)}, ["smaller than the network's minimum", "data.image_size"]),
        ("densenet121", {"growth_rate": 0}, ["growth_rate=0", "positive integer"]),
        ("igc", {"primary_partitions": 0}, ["primary_partitions"]),
    ],
)
def test_knob_values_that_cannot_build_are_refused_by_name(name, knobs, fragments):
    with pytest.raises(ConfigError) as info:
        build_model(name, **knobs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_a_bad_knob_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    job = [o for o in TINY_JOB if not o.startswith("model=")] + ["model=shufflenet_v1", "model.groups=5"]
    proc = run_cli(job, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: shufflenet_v1: groups=5 is not valid; choose one of [1, 2, 3, 4, 8]." in proc.stderr
    # refused inside the job (the builder checks ranges): printed once, and the folder Hydra made is gone
    assert proc.stderr.count("groups=5 is not valid") == 1 and "groups=5 is not valid" not in proc.stdout
    assert not (tmp_path / "out").exists()
