"""The job folder module (src/job_folder.py) on its own: config, history, results, pointers and the data
as trained. The record's locking is exercised by tests/reliability (watchdog, resume, carry)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from src import job_folder as jf
from src.errors import ConfigError
from tests.conftest import compose_config


def test_the_config_is_written_resolved_and_redacted_and_read_back_both_ways(tmp_path: Path):
    cfg = OmegaConf.create({"seed": 3, "lr": 1e-3, "copy": "${seed}",
                            "logger": {"tracking_uri": "http://alice:s3cret@host:5000"}})
    jf.write_config(tmp_path, cfg)
    text = (tmp_path / "config.yaml").read_text()
    assert "s3cret" not in text and "copy: 3" in text
    assert jf.load_config(tmp_path).lr == 1e-3
    assert jf.read_config(tmp_path) == {"seed": 3, "lr": 1e-3, "copy": 3,
                                        "logger": {"tracking_uri": "http://***@host:5000"}}
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temporary left beside it


def test_a_folder_without_a_config_says_so(tmp_path: Path):
    with pytest.raises(ConfigError, match="has no config.yaml"):
        jf.load_config(tmp_path)
    assert jf.read_config(tmp_path) == {}
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 7\nrun: ${now:%H}\n")  # a point that never started
    assert jf.read_config(tmp_path / "job", hydra_folder=tmp_path) == {"seed": 7, "run": "${now:%H}"}


def test_results_are_none_until_the_job_finished_and_a_broken_file_is_an_error(tmp_path: Path):
    assert jf.read_results(tmp_path) is None and not jf.has_results(tmp_path)
    jf.write_results(tmp_path, {"test_accuracy": 0.5})
    assert jf.read_results(tmp_path) == {"test_accuracy": 0.5} and jf.has_results(tmp_path)
    (tmp_path / "results.json").write_text("{half")
    with pytest.raises(ValueError):
        jf.read_results(tmp_path)


def test_history_is_read_as_columns_and_truncated_to_the_saved_epochs(tmp_path: Path):
    assert jf.read_history(tmp_path) is None
    (tmp_path / "history.csv").write_text("epoch,loss,lr\n1,2.0,0.1\n2,1.5,x\n3,1.2,0.1\n")
    history = jf.read_history(tmp_path)
    assert history["epoch"] == [1.0, 2.0, 3.0] and np.isnan(history["lr"][1])
    jf.truncate_history(tmp_path, 2)
    assert jf.read_history(tmp_path)["loss"] == [2.0, 1.5]


def test_a_pointer_leads_to_the_folder_the_job_ran_in(tmp_path: Path):
    point, job = tmp_path / "sweep" / "0", tmp_path / "earlier"
    assert jf.resolved_job_dir(point) == point
    jf.point_to_job(point, job)
    assert jf.resolved_job_dir(point) == job
    jf.point_to_job(job, job)  # a job in its own folder gets no pointer
    assert not (job / jf.POINTER_FILE).exists()


def test_sweep_points_come_in_numeric_order_with_their_overrides(tmp_path: Path):
    for name in ("10", "2", "report", "0"):
        (tmp_path / name / ".hydra").mkdir(parents=True)
    (tmp_path / "2" / ".hydra" / "overrides.yaml").write_text("- seed=2\n- model=lenet5\n")
    (tmp_path / "10" / ".hydra" / "overrides.yaml").write_text("- [not: valid\n")
    assert [p.name for p in jf.point_folders(tmp_path)] == ["0", "2", "10"]
    assert jf.point_overrides(tmp_path / "2") == ["seed=2", "model=lenet5"]
    assert jf.point_overrides(tmp_path / "10") == jf.point_overrides(tmp_path / "0") == []


def test_the_record_is_merged_redacted_and_compare_and_swapped(tmp_path: Path):
    jf.write_job(tmp_path, status="running", pid=11, error="at http://bob:pw@host/")
    assert jf.read_job(tmp_path) == {"status": "running", "pid": 11, "error": "at http://***@host/"}
    assert jf.update_job_if(tmp_path, {"pid": 12}, status="killed") is None
    assert jf.update_job_if(tmp_path, {"status": "running", "pid": 11}, status="killed", pid=None) == {
        "status": "killed", "error": "at http://***@host/"}
    assert stat.S_IMODE((tmp_path / "job.json").stat().st_mode) & 0o044  # readable like the folder's other files
    assert json.loads((tmp_path / "job.json").read_text())["status"] == "killed"


def test_the_data_as_trained_verifies_a_streamed_set_on_a_bounded_part_and_an_in_memory_one_as_asked():
    cfg = compose_config(["data=synthetic", "data.num_train=64", "data.num_val=16", "data.num_test=40",
                          "data.image_size=16", "data.normalize.mean=[0.5]", "data.normalize.std=[0.25]"])
    source, norm = jf.job_data(cfg.data)
    assert not source.streaming and norm.mean == (0.5,) and norm.std == (0.25,)
    x, y, calibration = jf.verification_set(source, norm, None)
    raw, labels = source.take("test", None)
    assert x.shape == (40, 16, 16, 1) and np.array_equal(y, labels)
    assert np.allclose(x, (raw / 255.0 - 0.5) / 0.25, atol=1e-6)
    assert len(calibration) == min(jf.CALIBRATION_IMAGES, 64)
    assert len(jf.verification_set(source, norm, 8)[0]) == 8
