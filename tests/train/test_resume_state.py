"""The pieces of resuming (src/train/resume.py): fingerprints, job records, atomic state, lookup."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from src.atomic_files import atomic_write_text
from src.errors import CheckpointError, ConfigError
from src.job_folder import write_job
from src.train import train
from src.train.resume import (
    TrainingState,
    accepted_fingerprints,
    earlier_job,
    find_previous_job,
    job_fingerprint,
    reap_dead_jobs,
    restore_state,
    running_elsewhere,
    saved_epoch,
)
from tests.helpers.config import compose_config


def test_fingerprint_ignores_where_the_job_runs_but_not_what_it_computes():
    cfg = OmegaConf.create({"seed": 1, "model": {"name": "resnet20"}, "output_dir": "/a", "resume_root": "/r"})
    moved = OmegaConf.create({"seed": 1, "model": {"name": "resnet20"}, "output_dir": "/b", "parent_run_id": "x"})
    other_seed = OmegaConf.create({"seed": 2, "model": {"name": "resnet20"}, "output_dir": "/a"})
    assert job_fingerprint(cfg) == job_fingerprint(moved) != job_fingerprint(other_seed)


def test_fingerprint_ignores_how_often_progress_is_logged():
    base = {"seed": 1, "model": {"name": "resnet20"}, "train": {"epochs": 3}}
    chatty = {**base, "train": {"epochs": 3, "progress_every_s": 5}}
    longer = {**base, "train": {"epochs": 4, "progress_every_s": 5}}
    fingerprints = [job_fingerprint(OmegaConf.create(c)) for c in (base, chatty, longer)]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]


def test_jobs_recorded_before_a_config_field_existed_are_still_found(tmp_path):
    """train.sparsity, then train.precision and train.distribution were added after sweeps had run: a
    job recorded without them (or with only the older one) is the same job as one at their defaults."""
    base = {"seed": 1, "model": {"name": "resnet20"}, "train": {"epochs": 2}}
    with_sparsity = {**base, "train": {"epochs": 2, "sparsity": None}}
    now = OmegaConf.create({**base, "train": {"epochs": 2, "sparsity": None, "precision": "float32",
                                               "distribution": "none"}, "output_dir": str(tmp_path / "new"),
                            "resume_root": str(tmp_path)})
    for name, old in (("before_sparsity", base), ("before_precision", with_sparsity)):
        (tmp_path / name).mkdir()
        recorded = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()  # the old scheme: all fields
        write_job(tmp_path / name, fingerprint=recorded, status="finished")
        time.sleep(0.01)
    assert job_fingerprint(now) == job_fingerprint(OmegaConf.create(base))  # at defaults the fields drop out
    assert len(accepted_fingerprints(now)) == 4  # none, the first one, two, all three of the later fields
    assert earlier_job(now, job_fingerprint(now))[0] == tmp_path / "before_precision"
    mixed = OmegaConf.merge(now, {"train": {"precision": "mixed_bfloat16"}})
    assert job_fingerprint(mixed) != job_fingerprint(now) and earlier_job(mixed, job_fingerprint(mixed)) is None


def test_a_null_subset_seed_keeps_the_fingerprint_a_per_seed_subset_changes_it():
    """data.subset_seed came later: null (the split seed's subset, as before) drops out; a value does not."""
    base = {"seed": 2, "data": {"train_subset": 6000, "split_seed": 0}}
    null = OmegaConf.create({**base, "data": {**base["data"], "subset_seed": None}})
    per_seed = OmegaConf.create({**base, "data": {**base["data"], "subset_seed": "${seed}"}})
    assert job_fingerprint(null) == job_fingerprint(OmegaConf.create(base)) != job_fingerprint(per_seed)


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "job.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_newest_job_with_the_same_fingerprint_is_found(tmp_path):
    for name, fp in (("a", "f1"), ("b", "f2"), ("c", "f1")):
        (tmp_path / "runs" / name).mkdir(parents=True)
        write_job(tmp_path / "runs" / name, fingerprint=fp, status="running")
        time.sleep(0.01)
    found = find_previous_job("f1", tmp_path)
    assert found is not None and found[0] == tmp_path / "runs" / "c"
    assert find_previous_job("f1", tmp_path, exclude=tmp_path / "runs" / "c")[0] == tmp_path / "runs" / "a"
    assert find_previous_job("f3", tmp_path) is None and find_previous_job("f1", tmp_path / "missing") is None


def test_a_job_running_in_a_live_process_is_recognised(tmp_path):
    host = socket.gethostname()
    assert not running_elsewhere({"status": "running", "pid": os.getpid(), "host": host})  # ourselves
    assert running_elsewhere({"status": "running", "pid": os.getppid(), "host": host})
    assert not running_elsewhere({"status": "finished", "pid": os.getppid(), "host": host})
    assert not running_elsewhere({"status": "running", "pid": 2**22 + 12345, "host": host})  # no such process


def test_jobs_whose_process_died_are_reaped(tmp_path):
    host = socket.gethostname()
    for name, pid, status in (("dead", 2**22 + 12345, "running"), ("alive", os.getppid(), "running"),
                              ("done", 2**22 + 12345, "finished"), ("other_host", 2**22 + 1, "running")):
        (tmp_path / name).mkdir()
        write_job(tmp_path / name, status=status, pid=pid, host=host if name != "other_host" else "elsewhere")
    assert reap_dead_jobs(tmp_path) == [tmp_path / "dead"]
    assert json.loads((tmp_path / "dead" / "job.json").read_text())["status"] == "killed"
    assert json.loads((tmp_path / "alive" / "job.json").read_text())["status"] == "running"


def _compiled_model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    return model


def test_training_state_restores_weights_optimizer_and_epoch(tmp_path):
    model = _compiled_model()
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[TrainingState(tmp_path, checkpoint=tmp_path / "ck" / "last.keras")])
    assert saved_epoch(tmp_path) == 3
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["epoch-0003.weights.h5", "latest.json"]
    assert (tmp_path / "ck" / "last.keras").exists()
    fresh = _compiled_model()
    assert restore_state(fresh, tmp_path) == 3
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 3
    assert restore_state(_compiled_model(), tmp_path / "nothing") == 0
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])  # another architecture
    other.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    with pytest.raises(CheckpointError, match="another architecture"):
        restore_state(other, tmp_path)


def test_a_reused_folder_with_another_config_starts_afresh(tmp_path, tiny_job):
    first = compose_config([*tiny_job, "train.epochs=1"], output_dir=tmp_path)
    train(first)
    write_job(tmp_path, status="running")  # as if killed after its epoch
    other = compose_config([*tiny_job, "train.epochs=2", "seed=7"], output_dir=tmp_path)
    train(other)
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert len(history) == 3, history  # two epochs of its own, nothing carried over
    assert json.loads((tmp_path / "job.json").read_text())["resumes"] == 0


def test_an_unknown_resume_mode_is_refused(tmp_path, tiny_job):
    with pytest.raises(ConfigError, match="resume=auto"):
        train(compose_config([*tiny_job, "resume=sometimes"], output_dir=tmp_path))


def test_the_watchdog_marks_a_silently_dead_job_killed_and_leaves_an_ended_one(tmp_path):
    from src.train.watchdog import watch

    dead_pid = 2**22 + 12345
    (tmp_path / "dead").mkdir()
    write_job(tmp_path / "dead", status="running", pid=dead_pid)
    assert watch(dead_pid, tmp_path / "dead") == "killed"
    assert json.loads((tmp_path / "dead" / "job.json").read_text())["status"] == "killed"
    (tmp_path / "done").mkdir()
    write_job(tmp_path / "done", status="finished", pid=dead_pid)
    assert watch(dead_pid, tmp_path / "done") == "ended"
    assert json.loads((tmp_path / "done" / "job.json").read_text())["status"] == "finished"
