"""A job carried to another machine (src/train/carry.py): packed where it was killed, unpacked under
another output root and MLflow store, it resumes there and ends as if it had never moved."""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import time

import mlflow
import numpy as np
import pytest

from src.errors import CheckpointError, ConfigError
from src.job_folder import write_job
from src.train.carry import DROPPED_TAGS, main, pack, read_manifest, unpack
from tests.helpers.jobs import (
    JOB,
    final_weights,
    fresh_store,
    kill_after_epoch,
    run,
    start,
    stopped_job,
    wait_for_the_watchdog,
)


@pytest.mark.slow  # three training processes (~4 min on 2 cores); test_resume covers resuming in CI
def test_a_carried_job_resumes_in_the_new_store_and_ends_as_if_never_moved(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old_uri, old_env = fresh_store(tmp_path / "old")
    job = [*JOB, "train.epochs=3"]
    proc = start([*job, f"hydra.run.dir={tmp_path}/old/outputs/first"], old_env)
    killed = kill_after_epoch(proc, "*/state/latest.json", tmp_path / "old" / "outputs")
    deadline = time.monotonic() + 60  # the watchdog marks job.json, then the run (pack exports it either way)
    old_run_id = wait_for_the_watchdog(killed, deadline)["mlflow_run_id"]
    old_client = mlflow.MlflowClient(old_uri)
    old_run = old_client.get_run(old_run_id)

    bundle = tmp_path / "carried.tar.gz"
    manifest = pack(killed, bundle, tracking_uri=old_uri)
    assert manifest["epoch"] >= 1 and manifest["relative_path"] == "first" and manifest["mlflow"]["run_id"] == old_run_id
    assert not any(name.startswith("job/checkpoints") for name in tarfile.open(bundle).getnames())

    new_uri, new_env = fresh_store(tmp_path / "new")
    new_root = tmp_path / "new" / "outputs"
    carried = unpack(bundle, root=new_root, tracking_uri=new_uri)
    assert carried == new_root / "first"
    record = json.loads((carried / "job.json").read_text())
    assert record["status"] == "carried" and record["carried_from"]["mlflow_run_id"] == old_run_id
    client = mlflow.MlflowClient(new_uri)
    imported = client.get_run(record["mlflow_run_id"])
    assert imported.info.status == "KILLED" and imported.data.tags["carried_from_run_id"] == old_run_id
    assert imported.data.params == old_run.data.params
    kept = {k: v for k, v in old_run.data.tags.items() if k not in DROPPED_TAGS}
    assert kept.items() <= imported.data.tags.items(), "provenance tags (git commit, versions) travel with the run"
    assert [(m.step, m.value) for m in client.get_metric_history(imported.info.run_id, "loss")] == \
        [(m.step, m.value) for m in old_client.get_metric_history(old_run_id, "loss")]
    assert {a.path for a in client.list_artifacts(imported.info.run_id)} >= {"config.yaml", "macs.txt"}
    with pytest.raises(ConfigError, match="exists already"):
        unpack(bundle, root=new_root, tracking_uri=new_uri)

    log = run([*job, f"hydra.run.dir={new_root}/second"], new_env)  # the same command, on the "new machine"
    assert f"resuming the unfinished job in {carried} after epoch {manifest['epoch']}" in log
    record = json.loads((carried / "job.json").read_text())
    assert record["status"] == "finished" and record["resumes"] == 1
    runs = client.search_runs([client.get_experiment_by_name("resume_test").experiment_id])
    assert [r.info.run_id for r in runs] == [record["mlflow_run_id"]], "the imported run continued, not a new one"
    assert runs[0].info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(record["mlflow_run_id"], "loss")] == [1, 2, 3]

    run([*job, f"hydra.run.dir={tmp_path}/reference/run", "logger=none"], {})
    for a, b in zip(final_weights(carried), final_weights(tmp_path / "reference" / "run"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_pack_and_unpack_without_mlflow_keep_every_file_and_leave_temporaries_behind(tmp_path):
    job = stopped_job(tmp_path / "old")
    bundle = tmp_path / "b.tar.gz"
    manifest = pack(job, bundle, with_mlflow=False)
    assert manifest["relative_path"] == "sweep/0" and manifest["epoch"] == 2 and manifest["mlflow"] is None
    assert sorted(manifest["files"]) == [".hydra/overrides.yaml", "config.yaml", "history.csv", "job.json",
                                         "state/epoch-0002.weights.h5", "state/latest.json"]
    dest = unpack(bundle, root=tmp_path / "new")
    assert dest == tmp_path / "new" / "sweep" / "0"
    for rel in manifest["files"]:
        if rel != "job.json":
            assert (dest / rel).read_bytes() == (job / rel).read_bytes(), rel
    record = json.loads((dest / "job.json").read_text())
    assert record["status"] == "carried" and record["fingerprint"] == "f" * 64
    assert "pid" not in record and "host" not in record, "the carried job names no process and no machine"
    assert not list((tmp_path / "new" / "sweep").glob(".*")), "no staging folder left"


def test_pack_refuses_jobs_with_nothing_to_carry(tmp_path):
    with pytest.raises(ConfigError, match="no readable job.json"):
        pack(tmp_path, tmp_path / "b.tar.gz")
    finished = stopped_job(tmp_path / "a", status="finished")
    with pytest.raises(ConfigError, match="is finished"):
        pack(finished, tmp_path / "b.tar.gz")
    running = stopped_job(tmp_path / "b")
    write_job(running, status="running", pid=os.getpid(), host=socket.gethostname())
    with pytest.raises(ConfigError, match=f"is running \\(pid {os.getpid()}\\); stop it first"):
        pack(running, tmp_path / "b.tar.gz")
    fresh = stopped_job(tmp_path / "c")
    (fresh / "state" / "latest.json").unlink()
    with pytest.raises(ConfigError, match="has not finished an epoch"):
        pack(fresh, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


def test_unpack_refuses_a_damaged_or_foreign_bundle_and_writes_nothing(tmp_path):
    job = stopped_job(tmp_path / "old")
    bundle = tmp_path / "b.tar.gz"
    pack(job, bundle, with_mlflow=False)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(bundle) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "job/history.csv":
                data = b"epoch,loss\n0,9.9\n"
                member.size = len(data)
            dst.addfile(member, None if data is None else io.BytesIO(data))
    with pytest.raises(CheckpointError, match="history.csv is missing or damaged"):
        unpack(damaged, root=tmp_path / "new")
    assert not (tmp_path / "new" / "sweep" / "0").exists() and not list((tmp_path / "new" / "sweep").glob(".*"))

    with pytest.raises(ConfigError, match="no bundle at"):
        read_manifest(tmp_path / "missing.tar.gz")
    (tmp_path / "not.tar.gz").write_bytes(b"plain text")
    with pytest.raises(CheckpointError, match="is not a job bundle"):
        read_manifest(tmp_path / "not.tar.gz")


def test_the_command_line_reports_errors_plainly(tmp_path, capsys):
    assert main(["unpack", str(tmp_path / "missing.tar.gz")]) == 2
    assert "error: no bundle at" in capsys.readouterr().err
    job = stopped_job(tmp_path / "old")
    assert main(["pack", str(job), str(tmp_path / "b.tar.gz"), "--no-mlflow"]) == 0
    assert "packed resnet20 after epoch 2 of 5 (6 files)" in capsys.readouterr().out
    assert main(["unpack", str(tmp_path / "b.tar.gz")]) == 2  # resume_root lies outside the working folder
    assert "pass --root" in capsys.readouterr().err
    assert main(["unpack", str(tmp_path / "b.tar.gz"), "--root", str(tmp_path / "new")]) == 0
    assert "re-run the job's command to resume it" in capsys.readouterr().out
