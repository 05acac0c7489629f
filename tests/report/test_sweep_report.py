"""The ablation report at the end of a sweep (attached to the parent run) and `python -m src.report`."""

from __future__ import annotations

import mlflow
import pytest
from omegaconf import OmegaConf

from src.report import __main__ as report_cli
from src.report import sweep_end
from src.tracking import setup_experiment
from src.tracking.sweep import parent_run_file


def _config(sweep_dir, uri, name="shufflenet_groups"):
    return OmegaConf.create({"experiment_name": name, "logger": {"enabled": True, "tracking_uri": uri},
                             "hydra": {"sweep": {"dir": str(sweep_dir)}}})


def test_the_report_lands_in_the_sweep_and_on_its_parent_run(sweep, tmp_path, monkeypatch):  # noqa: F811
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(uri)
    run_id = client.create_run(setup_experiment("shufflenet_groups", uri)).info.run_id
    parent_run_file(sweep).write_text(run_id)

    sweep_end.SweepReportCallback().on_multirun_end(_config(sweep, uri))

    assert "| g3 | 3 | 0.8540 ± 0.0020 |" in (sweep / "report" / "README.md").read_text()
    logged = {a.path for a in client.list_artifacts(run_id, "report")}
    assert {"report/README.md", "report/results.csv", "report/accuracy_vs_macs.png",
            "report/accuracy_vs_params.png", "report/training_curves.png"} <= logged


def test_a_sweep_without_an_ablation_spec_gets_no_report(sweep, tmp_path):  # noqa: F811
    assert sweep_end.report_sweep(_config(sweep, "unused", name="sweep_test"), sweep) is None
    assert not (sweep / "report").exists()


def test_a_failing_report_is_a_warning_not_a_failed_sweep(sweep, monkeypatch, capsys):  # noqa: F811
    def broken(config, sweep_dir):
        raise OSError("disk full")

    monkeypatch.setattr(sweep_end, "report_sweep", broken)
    sweep_end.SweepReportCallback().on_multirun_end(_config(sweep, "unused"))
    err = capsys.readouterr().err
    assert "sweep report failed (OSError: disk full)" in err and "python -m src.report experiment=shufflenet_groups" in err


def test_report_command_reads_the_newest_sweep_or_the_ones_given(sweep, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)  # the fixture's sweep is tmp_path/multirun/shufflenet_groups/t0
    text = report_cli.main(["experiment=shufflenet_groups"])
    assert "| g3 | 3 | 0.8540 ± 0.0020 |" in text and (tmp_path / "experiments/shufflenet_groups/README.md").exists()
    report_cli.main(["experiment=shufflenet_groups", f"sweeps={sweep}", f"out={tmp_path / 'elsewhere'}"])
    assert (tmp_path / "elsewhere" / "training_curves.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["experiment=nope"], "no ablation report for 'nope'"),
    (["shufflenet_groups"], "is not understood"),
    ([], "name the experiment"),
    (["experiment=igc_partitions", "sweeps=/no/such/dir"], "not found: /no/such/dir"),
])
def test_report_command_errors_say_what_to_do(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=message):
        report_cli.main(argv)
