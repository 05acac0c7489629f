"""One tracking-URI rule for every entry point: the suite's default store is the one the README hands
to the `mlflow` command line, so no command writes a stray store."""

from __future__ import annotations

import re

from src.tracking.store import resolve_tracking_uri
from tests.conftest import ROOT


def test_every_mlflow_command_in_the_readme_names_the_suites_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "README.md").read_text()
    exported = re.findall(r"export MLFLOW_TRACKING_URI=(sqlite:///\S+)", readme)
    assert exported, "the README must say how the mlflow CLI finds the store"
    assert {f"sqlite:///{(tmp_path / u[len('sqlite:///'):]).resolve()}" for u in exported} == {resolve_tracking_uri()}
    local = [line for line in readme.splitlines() if re.match(r"\s*(\.venv/bin/)?mlflow (?!server)", line)]
    assert local and all("$MLFLOW_TRACKING_URI" in line for line in local), local


def test_experiments_open_on_their_runs_and_keep_a_description(tmp_path):
    import mlflow

    from src.tracking.store import setup_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    new = client.get_experiment(setup_experiment("fresh", uri, "what it holds"))
    assert new.tags["mlflow.experimentKind"] == "custom_model_development"
    assert new.tags["mlflow.note.content"] == "what it holds"
    old_id = client.create_experiment("old", artifact_location=(tmp_path / "a").as_uri())  # made before the rule
    assert setup_experiment("old", uri, "added later") == old_id
    assert client.get_experiment(old_id).tags["mlflow.note.content"] == "added later"
    setup_experiment("old", uri, "not replaced")
    assert client.get_experiment(old_id).tags["mlflow.note.content"] == "added later"
