"""Typos in command-line overrides get one line with a "did you mean" before Hydra starts."""

from __future__ import annotations

import pytest

from src.cli_checks import check_overrides
from tests.helpers.cli import run_cli
from tests.helpers.config import TINY_JOB


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["experiment=resnet_depth"], "Unknown experiment 'resnet_depth'. Did you mean 'resnet_depths'?"),
        (["model=mobilenet_v5"], "Unknown model 'mobilenet_v5'. Did you mean 'mobilenet_v"),
        (["-m", "model=resnet20,resnt32"], "Unknown model 'resnt32'. Did you mean 'resnet32'?"),
        (["data=fashion"], "Unknown data 'fashion'. Did you mean 'fashion_mnist'?"),
        (["modle=resnet20"], "Unknown config field 'modle'. Did you mean 'model'?"),
        (["train.epoch=3"], "Unknown config field 'train.epoch'. Did you mean 'train.epochs'?"),
        (["model=shufflenet_v1", "model.group=4"], "Unknown config field 'model.group'. Did you mean 'model.groups'?"),
        (["experiment=resnet_depths", "data.train_subst=5"], "Did you mean 'data.train_subset'?"),
    ],
)
def test_typos_are_named_with_the_closest_match(args, expected):
    message = check_overrides(args)
    assert message is not None and expected in message, message


@pytest.mark.parametrize(
    "args",
    [
        ["model=shufflenet_v1", "model.groups=4", "train.epochs=3", "seed=1"],
        ["experiment=resnet_depths", "data.train_subset=5"],
        ["+train.new_field=1", "~export", "hydra.run.dir=/tmp/x"],  # additions, deletions, Hydra's own: Hydra's job
        ["--config-path", "/elsewhere", "--config-name", "config", "whatever=1"],  # another config: not ours to check
        ["-m", "seed=range(0,3)", "model=resnet20,resnet32"],
        # mandatory (???) fields: OmegaConf's `in` says False for them, they must still be accepted
        ["data=image_folder", "data.root=/path", "model=mobilenet_v2"],
        ["experiment=shufflenet_groups", "scale=full", "data.root=/path/to/imagenet"],
        [],
    ],
)
def test_valid_overrides_pass(args):
    assert check_overrides(args) is None


def test_the_cli_exits_2_with_one_line_before_starting(tmp_path):
    proc = run_cli([*TINY_JOB, "train.epoch=3"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "Did you mean 'train.epochs'?" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_an_output_folder_that_cannot_be_created_is_refused(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    message = check_overrides([f"hydra.run.dir={blocker}/out"])
    assert message is not None and f"{blocker} is a file, not a folder" in message and "hydra.run.dir" in message
    assert check_overrides([f"hydra.sweep.dir={tmp_path}/new/deeper"]) is None
    assert check_overrides(["hydra.run.dir=outputs/${now:%H}"]) is None
