"""Bad values of every field kind are refused before anything starts: one line, exit 2, no output folder.

Issue 44 item 3 (one schema, src/config_schema.py) and issue 46 item 2 (knob values checked before any
variant logic; an explicit knob is never overwritten by model_variant=auto)."""

from __future__ import annotations

import time

import pytest
from omegaconf import DictConfig, ListConfig, OmegaConf

from src.cli_checks import check_values, sweep_points
from src.config_schema import DATA_SCHEMAS, TFLITE_FORMATS, validate_config
from src.errors import ConfigError
from tests.helpers.cli import run_cli
from tests.helpers.config import TINY_JOB, compose_config

#: The cases of issue 44 item 4 that crashed with a traceback (or, for epochs=0, blamed a NaN loss).
ISSUE_CASES = [
    ("train.epochs=abc", "train.epochs='abc'"),
    ("train.learning_rate=abc", "train.learning_rate='abc'"),
    ("seed=abc", "seed='abc'"),
    ("data.batch_size=0", "data.batch_size=0"),
    ("data.batch_size=-1", "data.batch_size=-1"),
    ("data.val_fraction=1.5", "data.val_fraction=1.5"),
    ("train.epochs=0", "train.epochs=0"),
]


@pytest.mark.parametrize(("override", "fragment"), ISSUE_CASES)
def test_the_reported_bad_values_stop_the_cli_with_one_line_and_no_folder(tmp_path, override, fragment):
    proc = run_cli([*TINY_JOB, override], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid config:") and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and fragment not in proc.stdout  # printed once
    assert not (tmp_path / "out").exists()


def test_a_bad_sweep_point_stops_the_sweep_before_its_first_point(tmp_path):
    job = [o for o in TINY_JOB if not o.startswith("data.batch_size=")]
    proc = run_cli(["-m", *job, "data.batch_size=32,0"], tmp_path)
    assert proc.returncode == 2 and "sweep point data.batch_size=0:" in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "multi").exists()


# Through the checker: bad values of every kind, in every group (the composed config, as Hydra parses them).
@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        # top level: int, enum, bool, text, null
        (["seed=-1"], "seed=-1"),
        (["seed=1.5"], "seed=1.5"),
        (["seed=null"], "seed=None"),
        (["model_variant=smal"], "model_variant='smal' is not valid; use model_variant=auto | paper | small"),
        (["task=trian"], "task='trian' is not valid"),
        (["resume=sometimes"], "resume='sometimes' is not valid; use resume=auto | never"),
        (["fail_fast=yes"], "fail_fast='yes': input should be a valid boolean"),
        (["experiment_name=''"], "experiment_name=''"),
        (["run_name=2024"], "quote it"),
        # train: ints, floats, bools, enums, lists, nulls, cross-field rules
        (["train.epochs=-3"], "train.epochs=-3"),
        (["train.epochs=2.5"], "train.epochs=2.5"),
        (["train.epochs=null"], "train.epochs=None"),
        (["train.learning_rate=0"], "train.learning_rate=0"),
        (["train.learning_rate=nan"], "finite"),
        (["train.learning_rate=[0.1]"], "train.learning_rate=[0.1]"),
        (["train.momentum=1.0"], "train.momentum=1.0"),
        (["train.weight_decay=-1e-4"], "train.weight_decay=-0.0001"),
        (["train.label_smoothing=1"], "train.label_smoothing=1"),
        (["train.clip_norm=0"], "train.clip_norm=0"),
        (["train.nesterov=1"], "train.nesterov=1"),
        (["train.jit_compile=maybe"], "train.jit_compile='maybe'"),
        (["train.schedule=cosin"], "train.schedule='cosin' is not valid; use train.schedule=cosine | step | constant"),
        (["train.optimizer=adam"], "train.optimizer='adam'"),
        (["train.precision=fp16"], "train.precision='fp16'"),
        (["train.distribution=mirror"], "train.distribution='mirror'"),
        (["train.verbose=true"], "train.verbose=True"),
        (["train.verbose=3"], "train.verbose=3"),
        (["train.milestones=[0.5,1.5]"], "train.milestones[1]=1.5"),
        (["train.milestones=0.5"], "train.milestones=0.5"),
        (["train.milestones=[0.75,0.5]"], "must increase"),
        (["train.warmup_epochs=20"], "train.warmup_epochs=20 is more than train.epochs=15"),
        (["train.sparsity=1.0"], "train.sparsity=1.0"),
        (["train.sparsity=0"], "train.sparsity=0"),
        (["train.progress_every_s=-5"], "train.progress_every_s=-5"),
        # data (per data set): ints, floats, bools, enums, lists, nested, cross-field
        (["data.image_size=0"], "data.image_size=0"),
        (["data.channels=2"], "data.channels=2 is not valid; use data.channels=1 | 3"),
        (["data.channels=true"], "data.channels=True"),
        (["data.resize=crop"], "data.resize='crop'"),
        (["data.train_subset=0"], "data.train_subset=0"),
        (["data.eval_batch_size=abc"], "data.eval_batch_size='abc'"),
        (["data.labelled_fraction=0"], "data.labelled_fraction=0"),
        (["data.pseudo_ratio=1.5"], "data.pseudo_ratio=1.5"),
        (["data.pseudo_labels=x.npz"], "data.pseudo_labels needs data.labelled_fraction"),
        (["data.augment.random_crop_pad=-2"], "data.augment.random_crop_pad=-2"),
        (["data.augment.horizontal_flip=no"], "data.augment.horizontal_flip='no'"),
        (["data.normalize.std=[0.0]"], "data.normalize.std[0]=0.0"),
        (["data.normalize.mean=[0.1,0.2]"], "data.normalize.mean has 2 values for 1 channel"),
        (["data=synthetic", "data.num_classes=1"], "data.num_classes=1"),
        (["data=synthetic", "data.num_train=abc"], "data.num_train='abc'"),
        (["data=image_folder"], "data.root is mandatory and not set"),
        (["data=image_folder", "data.root=/x", "data.on_bad_file=ignore"], "data.on_bad_file='ignore'"),
        (["data=image_folder", "data.root=/x", "data.channels=4"], "data.channels=4"),
        (["data=imagenet_folder", "data.root=/x", "data.recipe=inceptoin"], "data.recipe='inceptoin'"),
        (["data=imagenet_folder", "data.root=/x", "data.crop_pct=1.5"], "data.crop_pct=1.5"),
        (["data=imagenet_folder", "data.root=/x", "data.val_fraction=0.6"], "data.val_fraction=0.6"),
        (["data=tfrecord", "data.root=/x", "data.val_shards=0"], "data.val_shards=0"),
        (["scale=full"], "data.root is mandatory and not set"),
        # export, logger
        (["data.normalize=null"], "data.normalize=None"),
        (["data=synthetic", "data.channels=3", "data.normalize.std=[0.1,0.2]"], "give 3 (or 1, used for every channel)"),
        (["+train.foo=1"], "train.foo is not a field of train.*"),
        (["export.enabled=1"], "export.enabled=1"),
        (["export.formats=float32"], "export.formats='float32': input should be a valid list"),
        (["export.formats=[float32,int9]"], "export.formats[1]='int9' is not valid"),
        (["export.formats=[]"], "export.formats is empty"),
        (["export.num_threads=0"], "export.num_threads=0"),
        (["export.max_eval_examples=-1"], "export.max_eval_examples=-1"),
        (["logger.enabled=null"], "logger.enabled=None"),
        (["logger.tracking_uri=''"], "logger.tracking_uri=''"),
        (["scale=full", "data.root=/x", "scale.resolution.r224=abc"], "scale.resolution.r224='abc'"),
        # model knobs: enumerations, ints, floats, bools, lists, unknown knobs
        (["model=resnet18", "model.stem=smal"], "model.stem='smal' is not valid; choose one of ['imagenet', 'small']. Did you mean 'small'?"),
        (["model=resnet18", "model.stem=cifar"], "model.stem='cifar' is now spelled 'small'."),
        (["model=resnet18", "model.output_stride=abc"], "model.output_stride='abc' is not valid; give an integer"),
        (["model=resnet18", "model.deformable_stages=[a]"], "model.deformable_stages=['a'] is not valid"),
        (["model=shufflenet_v1", "model.shuffle=1"], "model.shuffle=1 is not valid; give true or false"),
        (["model=mobilenet_v1", "model.width_multiplier=wide"], "model.width_multiplier='wide' is not valid; give a number"),
        (["model=vgg11", "model.head=gapp"], "Did you mean 'gap'?"),
        (["+model.width=2"], "has no knob 'width'"),
    ],
)
def test_bad_values_of_every_field_kind_are_refused_by_name(overrides, fragment):
    message = check_values(overrides)
    assert message is not None and fragment in message, message
    assert "\n" not in message and message.startswith("invalid config:") or "mandatory" in message


def _leaves(node, path=()):
    if isinstance(node, DictConfig):
        for key in node.keys():
            yield from _leaves(node._get_node(key), (*path, str(key)))
    elif not isinstance(node, ListConfig):
        yield ".".join(path), node._value()


def _wrong(value):
    """A value of another kind: text for numbers and booleans, a number for text; None for nulls and interpolations."""
    if isinstance(value, str) and not value.startswith("${"):
        return 12
    return "abc" if isinstance(value, (bool, int, float)) else None


@pytest.mark.parametrize("data", sorted(DATA_SCHEMAS))
def test_every_field_given_a_value_of_another_kind_is_refused_naming_it(data):
    """Generated from the composed config, so a field added later is covered without editing this test."""
    with_root = ("image_folder", "imagenet_folder", "tfrecord", "tfds")  # their root is mandatory (???)
    base = compose_config([f"data={data}", "data.root=/x"] if data in with_root else [f"data={data}"])
    checked = 0
    for key, value in _leaves(base):
        wrong = _wrong(value)
        if wrong is None:  # nulls (optional fields, checked above) and interpolations (checked where they point)
            continue
        cfg = base.copy()
        OmegaConf.update(cfg, key, wrong, force_add=True)
        try:
            validate_config(cfg)
        except ConfigError as exc:
            assert f"{key.split('.')[-1]}=" in str(exc), (key, str(exc))
        else:
            pytest.fail(f"{key}={wrong!r} passed: declare {key} in src/config_schema.py")
        checked += 1
    assert checked >= 40, checked  # every group's fields were reached


def test_every_shipped_config_passes_the_schema():
    from tests.helpers.config import EXPERIMENTS

    for overrides in [[], ["debug=smoke"], ["data=synthetic"], ["scale=full", "data.root=/x"],
                      *[[f"experiment={e}"] for e in EXPERIMENTS]]:
        validate_config(compose_config(overrides))
    for name in ("experiment=se_placement", "experiment=deep_compression", "experiment=shufflenet_groups"):
        assert check_values(["-m", name]) is None


def test_unknown_data_sets_and_fields_pass_the_common_checks():
    """The extension point: a data set without a schema entry gets the common DataConfig; extra fields pass."""
    assert check_values(["+data.workers=4", "+data.format=tfrecord"]) is None
    assert check_values(["data.name=imagenet_tfrecord"]) is None
    assert "data.batch_size=0" in check_values(["data.name=imagenet_tfrecord", "data.batch_size=0"])


def test_what_does_not_compose_is_left_to_hydra():
    assert check_values(["model=null"]) is None and check_values(["-m", "seed=interval(0,1)"]) is None


def test_a_batch_that_does_not_split_over_the_replicas_is_refused_by_the_engine_check():
    """The replica count is known once the engine starts: src.train.distribution checks it before any MLflow run."""
    from src.train.distribution import _check_batch

    for batch in (1, 33):
        with pytest.raises(ConfigError, match=f"data.batch_size={batch} does not split over 2 replicas"):
            _check_batch(batch, 2)
    _check_batch(32, 2)


def test_the_schema_lists_the_exporters_formats():
    from src.export.tflite import FORMATS

    assert tuple(TFLITE_FORMATS) == tuple(FORMATS)


def test_sweeps_are_checked_per_point_and_large_ones_per_swept_value():
    assert "sweep point" in check_values(["-m", "experiment=deep_compression", "data.batch_size=64,0"])
    assert check_values(["-m", "experiment=deep_compression", "data.batch_size=64,32"]) is None
    points = sweep_points(["seed=range(0,13)", "data.batch_size=64,0"], None)
    assert len(points) < 26 and ["seed=0", "data.batch_size=0"] in points
    assert "data.batch_size=0" in check_values(["-m", "seed=range(0,13)", "data.batch_size=64,0"])


# Knob values (issue 46 item 2)
@pytest.mark.parametrize("variant", ["auto", "paper", "small"])
def test_a_knob_typo_stops_the_cli_in_under_5_s_under_every_model_variant(tmp_path, variant):
    started = time.perf_counter()
    proc = run_cli(["model=resnet18", "model.stem=smal", f"model_variant={variant}"], tmp_path)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 2 and "model.stem='smal' is not valid" in proc.stderr, proc.stderr[-2000:]
    assert "Did you mean 'small'?" in proc.stderr and not (tmp_path / "out").exists()
    assert elapsed < 5.0, f"{elapsed:.1f} s"


def test_a_knob_typo_is_refused_before_any_variant_logic_inside_the_job_too():
    from src.train.loop import effective_model_knobs

    for variant in ("auto", "paper", "small"):
        with pytest.raises(ConfigError, match="model.stem='smal' is not valid"):
            effective_model_knobs(compose_config(["model=resnet18", "model.stem=smal", f"model_variant={variant}"]),
                                  (28, 28, 1))


def test_an_explicit_valid_knob_is_kept_on_a_small_input():
    from src.train.loop import effective_model_knobs

    # set by an override (differs from conf/model/vgg11.yaml): kept; the knob left alone gets its small value
    assert effective_model_knobs(compose_config(["model=vgg11", "model.pools=4"]), (28, 28, 1)) == {
        "head": "gap", "pools": 4, "width_multiplier": 1.0}
    assert effective_model_knobs(compose_config(["model=vgg11"]), (28, 28, 1))["pools"] == 3
    assert effective_model_knobs(compose_config(["model=vgg11", "model.pools=4", "model_variant=small"]),
                                 (28, 28, 1))["pools"] == 4


def test_a_knob_named_on_the_command_line_is_kept_even_at_its_file_value():
    """model.stem=imagenet equals resnet18.yaml's value; Hydra's record of the overrides says the user set it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from src.train.loop import effective_model_knobs
    from tests.helpers.config import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        full = compose(config_name="config", overrides=["model=resnet18", "model.stem=imagenet"], return_hydra_config=True)
    HydraConfig.instance().set_config(full)
    try:
        assert effective_model_knobs(compose_config(["model=resnet18", "model.stem=imagenet"]), (28, 28, 1))["stem"] == "imagenet"
    finally:
        HydraConfig.instance().cfg = None
    assert effective_model_knobs(compose_config(["model=resnet18"]), (28, 28, 1))["stem"] == "small"


def test_an_explicit_knob_that_cannot_work_on_a_small_input_stops_the_job_and_says_why(tmp_path):
    """model.stem=imagenet is the file's value, but named on the command line: auto keeps it, and at 16 px
    the paper stem is too small, which the job says before training (one line, no folder)."""
    job = [o for o in TINY_JOB if not o.startswith("model=")] + ["model=resnet18", "model.stem=imagenet"]
    proc = run_cli(job, tmp_path)
    assert "model_variant=auto keeps the knobs you set: {'stem': 'imagenet'}" in proc.stdout, proc.stdout[-2000:]
    assert proc.returncode == 2 and "input 16x16 is smaller than the network's minimum" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_knob_table_is_what_its_command_writes_from_the_registry(tmp_path):
    """src/models/knob_table.json must be rewritten (`python -m src.models.knob_table`) when a knob changes."""
    import subprocess
    import sys

    from src.models.knob_table import TABLE
    from tests.helpers.config import ROOT

    proc = subprocess.run([sys.executable, "-m", "src.models.knob_table", "--out", str(tmp_path / "t.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "t.json").read_text() == TABLE.read_text(), "run: python -m src.models.knob_table"


def test_a_bad_value_in_a_recorded_config_is_refused_in_the_job_with_one_line_and_no_folder(tmp_path):
    """--config-path configs skip the checks before Hydra; the job's own check refuses them and drops the folder."""
    import os
    import subprocess
    import sys

    from tests.helpers.config import ROOT

    cfg = compose_config(TINY_JOB)
    cfg.train.epochs = 0
    (tmp_path / "recorded").mkdir()
    OmegaConf.save(cfg, tmp_path / "recorded" / "config.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "src.run", "--config-path", str(tmp_path / "recorded"), "--config-name", "config",
         f"hydra.run.dir={tmp_path}/out"],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == ["error: invalid config: train.epochs=0: input should be greater than or equal to 1."]
    assert "train.epochs=0" not in proc.stdout and not (tmp_path / "out").exists()


def test_train_called_from_python_checks_the_schema_before_writing_anything(tmp_path):
    from src.train import train

    with pytest.raises(ConfigError, match=r"train.epochs=0: input should be greater than or equal to 1"):
        train(compose_config([*TINY_JOB, "train.epochs=0"], tmp_path / "job"))
    assert not (tmp_path / "job").exists()


def test_sweep_points_checked_from_one_compose_per_group_choice_equal_composing_each_point():
    from src.cli_checks import CONF_DIR, _composed_points

    points, multirun = _composed_points(["-m", "experiment=deep_compression", "train.epochs=2,3"], CONF_DIR)
    assert multirun and len(points) == 12
    for where, cfg in points:
        full = compose_config(["experiment=deep_compression", *where.split()])
        assert OmegaConf.to_container(cfg, resolve=True) == OmegaConf.to_container(full, resolve=True), where
