"""``train.distribution=multi_worker`` with real worker processes on 127.0.0.1, started with the command
docs/scaling_out.md documents (src/train/multi_worker.py, src/train/cluster.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, compose_config
from tests.reliability.test_resume import kill_after_epoch
from tests.scaleout.conftest import free_port

#: The documented command (docs/scaling_out.md), with its two placeholder hosts.
DOCUMENTED = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:23456", "host2:23456"]}, "task": {"type": "worker", '
              '"index": INDEX}}\' \\\n    .venv/bin/python -m src.run train.distribution=multi_worker data.batch_size=256')
#: LeNet-5 (no BN, no dropout: one process and two must agree) on 481 examples at a global batch of 32,
#: in the regime where float32 rounding is not amplified (see TOLERANCE):
#: each epoch ends with a one-example step, where worker 1 takes the zero-weight stand-in step.
SMOKE = ["model=lenet5", "data=synthetic", "data.num_train=481", "data.num_val=40", "data.num_test=40",
         "data.image_size=28", "data.batch_size=32", "train.epochs=3", "train.warmup_epochs=0",
         "train.learning_rate=0.002", "logger=none", "export=none"]
#: Largest |weight difference| allowed between two workers and one process. Measured here: 9.3e-7 (largest
#: weight 0.11), from float32 sums in another order (two half-batch gradients all-reduced; 5e-8 after
#: one epoch). At train.learning_rate=0.05 the first epoch drops the loss from 2.3 to 0.005 and amplifies
#: the same rounding to 7e-4, in an uninterrupted run as in a resumed one, so the test trains gently.
TOLERANCE = 1e-5


def documented_argv(index: int, ports: tuple[int, int]) -> tuple[dict, list[str]]:
    """TF_CONFIG and argv of worker ``index`` from the documented command, on 127.0.0.1:``ports``."""
    doc = (ROOT / "docs" / "scaling_out.md").read_text()
    for i in (0, 1):
        assert DOCUMENTED.replace("INDEX", str(i)) in doc, "docs/scaling_out.md no longer shows the tested command"
    command = DOCUMENTED.replace("INDEX", str(index)).replace("\\\n    ", "")
    tf_config, argv = re.fullmatch(r"TF_CONFIG='(.*)' \.venv/bin/python (.*)", command).groups()
    tf_config = tf_config.replace("host1:23456", f"127.0.0.1:{ports[0]}").replace("host2:23456", f"127.0.0.1:{ports[1]}")
    return {"TF_CONFIG": tf_config}, argv.split()


def start_workers(tmp_path: Path, ports: tuple[int, int], overrides: list[str]) -> list[subprocess.Popen]:
    procs = []
    for index in (0, 1):
        env, argv = documented_argv(index, ports)
        args = [*argv, *overrides, f"hydra.run.dir={tmp_path}/worker{index}"]  # later data.batch_size wins
        procs.append(subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                      **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


def finish(procs: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str]]:
    out = []
    for proc in procs:
        try:
            text, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("a worker hung")
        out.append((proc.returncode, text))
    return out


def weights(path: Path) -> list[np.ndarray]:
    from src.models.saving import load_model

    return [np.asarray(w) for w in load_model(path, compile=False).get_weights()]


def test_two_workers_killed_after_epoch_1_resume_and_end_with_the_one_process_weights(tmp_path):
    ports = (free_port(), free_port())
    chief_dir = tmp_path / "worker0"
    procs = start_workers(tmp_path, ports, SMOKE)
    try:
        kill_after_epoch(procs[1], "worker0/state/latest.json", tmp_path, epoch=1)  # worker 1, the non-chief
        killed = time.monotonic()
        (code, chief_log), = finish(procs[:1], timeout=120)
        noticed = time.monotonic() - killed
    finally:
        for proc in procs:
            proc.kill()
    print(f"the chief stopped {noticed:.1f} s after worker 1 was killed")
    assert code == 2, chief_log[-3000:]
    error = [line for line in chief_log.splitlines() if line.startswith("error: ")]
    assert error == [error[0]] and f"worker 1 (127.0.0.1:{ports[1]}) stopped answering during training" in error[0], chief_log[-3000:]
    assert "stops too" in error[0] and "start every worker's command again" in error[0]
    assert "Traceback" not in chief_log and "PerReplica" not in chief_log
    record = json.loads((chief_dir / "job.json").read_text())
    assert record["status"] == "failed" and "worker 1" in record["error"]
    assert json.loads((chief_dir / "state" / "latest.json").read_text())["epoch"] >= 1
    assert not (tmp_path / "worker1" / "state").exists() and not (tmp_path / "worker1" / "model.keras").exists()

    baseline: dict = {}  # one process, the same global batch, while the workers run again
    thread = threading.Thread(target=lambda: baseline.update(_one_process(tmp_path / "single")))
    thread.start()
    results = finish(start_workers(tmp_path, ports, SMOKE))
    thread.join()
    for index, (code, text) in enumerate(results):
        assert code == 0, f"worker {index}:\n{text[-3000:]}"
    assert "resuming the unfinished job" in results[0][1] and "after epoch" in results[0][1]
    history = (chief_dir / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]
    assert json.loads((chief_dir / "job.json").read_text())["status"] == "finished"
    assert not (tmp_path / "worker1" / "model.keras").exists()  # only the chief writes

    two, one = weights(chief_dir / "model.keras"), weights(tmp_path / "single" / "model.keras")
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(two, one))
    scale = max(float(np.max(np.abs(b))) for b in one)
    print(f"largest weight difference, two workers vs one process: {diff:.2e} (largest weight {scale:.3f})")
    assert [a.shape for a in two] == [b.shape for b in one]
    assert diff <= TOLERANCE, diff
    results_two = json.loads((chief_dir / "results.json").read_text())
    assert results_two["test_accuracy"] == pytest.approx(baseline["test_accuracy"], abs=1 / 40)


def _one_process(out: Path) -> dict:
    from src.train import train

    return train(compose_config([*SMOKE, "train.distribution=none"], output_dir=out))


def test_a_worker_without_a_cluster_or_with_a_bad_tf_config_is_told_what_to_set(monkeypatch):
    """Without TF_CONFIG or SLURM the command says what to set; a malformed TF_CONFIG names its problem."""
    from src.errors import ConfigError
    from src.train.cluster import resolve_cluster

    for key in ("TF_CONFIG", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError, match="set TF_CONFIG in each worker's environment"):
        resolve_cluster()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        resolve_cluster()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}))
    with pytest.raises(ConfigError, match="is not one of its cluster's tasks"):
        resolve_cluster()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}))
    cluster = resolve_cluster()
    assert (cluster.rank, cluster.size, cluster.is_chief, cluster.source) == (1, 2, False, "TF_CONFIG")


def test_an_srun_step_of_two_tasks_resolves_to_two_workers_on_the_job_s_ports(monkeypatch):
    """What srun sets for `srun --nodes=2 --ntasks-per-node=1` (no SLURM cluster here to run it)."""
    from src.train.cluster import resolve_cluster

    monkeypatch.delenv("TF_CONFIG", raising=False)
    for key, value in {"SLURM_JOB_ID": "4242", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2",
                       "SLURM_STEP_NODELIST": "node[07-08]", "SLURM_STEP_TASKS_PER_NODE": "1(x2)"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SLURM_STEP_GPUS", raising=False)
    monkeypatch.delenv("SLURM_JOB_GPUS", raising=False)
    cluster = resolve_cluster()
    assert cluster.addresses == ("node07:19242", "node08:19242") and cluster.rank == 1 and cluster.source == "SLURM"


@pytest.mark.slow
def test_a_killed_chief_stops_worker_1_and_both_resume_from_its_state(tmp_path):
    """The other way round: SIGKILL the chief after epoch 1; worker 1 names it and stops, the chief's
    watchdog marks its job killed, and both commands started again finish the job from epoch 1."""
    from tests.reliability.test_resume import wait_for_the_watchdog

    ports = (free_port(), free_port())
    chief_dir = tmp_path / "worker0"
    procs = start_workers(tmp_path, ports, SMOKE)
    try:
        kill_after_epoch(procs[0], "worker0/state/latest.json", tmp_path, epoch=1)
        killed = time.monotonic()
        (code, log), = finish(procs[1:], timeout=120)
        print(f"worker 1 stopped {time.monotonic() - killed:.1f} s after the chief was killed")
    finally:
        for proc in procs:
            proc.kill()
    assert code == 2, log[-3000:]
    assert f"error: the chief, worker 0 (127.0.0.1:{ports[0]}) stopped answering" in log and "Traceback" not in log
    assert wait_for_the_watchdog(chief_dir, time.monotonic() + 60)["status"] == "killed"
    results = finish(start_workers(tmp_path, ports, SMOKE))
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:] + results[1][1][-3000:]
    assert "resuming the unfinished job" in results[0][1]
    assert len((chief_dir / "history.csv").read_text().splitlines()) == 1 + 3


def _free_port_pair_job_id() -> str:
    """A SLURM job id whose two ports (src.train.cluster.slurm_port_base and the next) are free here."""
    import socket

    from src.train.cluster import slurm_port_base

    for job in range(1000, 21000, 7):
        os.environ["SLURM_JOB_ID"] = str(job)  # read by slurm_port_base; restored by the caller's monkeypatch
        base = slurm_port_base()
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", base))
                b.bind(("127.0.0.1", base + 1))
            return str(job)
        except OSError:
            continue
    pytest.fail("no free pair of ports")


@pytest.mark.slow
def test_two_tasks_of_an_srun_step_train_one_job(tmp_path, monkeypatch):
    """The README's srun command as its two tasks on one node (127.0.0.1), with the environment srun sets
    (no SLURM here): the cluster comes from SLURM's variables, and both tasks exit 0."""
    monkeypatch.setenv("SLURM_JOB_ID", "0")
    job = _free_port_pair_job_id()
    monkeypatch.delenv("TF_CONFIG", raising=False)
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SLURM_JOB_ID": job, "SLURM_PROCID": str(rank),
               "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "127.0.0.1", "SLURM_STEP_TASKS_PER_NODE": "2"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "src.run", "train.distribution=multi_worker", *SMOKE, "train.epochs=1",
             f"hydra.run.dir={tmp_path}/task{rank}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    results = finish(procs)
    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:] + results[1][1][-3000:]
    assert "(from SLURM)" in results[0][1] and (tmp_path / "task0" / "model.keras").exists()
    assert not (tmp_path / "task1" / "model.keras").exists()


@pytest.mark.parametrize("override, fragment", [
    ("train.clip_norm=5.0", "train.clip_norm is not supported"),
    ("train.init_weights=model.keras", "train.init_weights is not supported"),
])
def test_settings_multi_worker_cannot_honour_are_refused_before_any_worker_starts(tmp_path, monkeypatch, override, fragment):
    from src.errors import ConfigError
    from src.train import train

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ConfigError, match=fragment):
        train(compose_config([*SMOKE, "train.distribution=multi_worker", override], output_dir=tmp_path))
    assert not (tmp_path / "job.json").exists()
