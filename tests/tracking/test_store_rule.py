"""One tracking-URI rule for every entry point: the suite's default store is the one docs/tracking.md
hands to the `mlflow` command line, so no command writes a stray store."""

from __future__ import annotations

import re

from src.tracking.store import resolve_tracking_uri
from tests.helpers.config import ROOT


def test_every_mlflow_command_in_the_docs_names_the_suites_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    readme = (ROOT / "docs" / "tracking.md").read_text()
    exported = re.findall(r"export MLFLOW_TRACKING_URI=(sqlite:///\S+)", readme)
    assert exported, "docs/tracking.md must say how the mlflow CLI finds the store"
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


def test_the_documented_mlflow_ui_command_serves_the_suites_store(tmp_path):
    """docs/tracking.md's `mlflow ui` line, run as written (its port swapped for a free one) with its
    export: the UI answers on 127.0.0.1 and lists the store's experiments, and no stray mlflow.db appears."""
    import json
    import os
    import shlex
    import socket
    import subprocess
    import time
    import urllib.request

    import mlflow

    readme = (ROOT / "docs" / "tracking.md").read_text()
    line = next(li for li in readme.splitlines() if re.match(r"\s*\.venv/bin/mlflow ui ", li)).split("#")[0]
    (tmp_path / "mlruns").mkdir()
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    mlflow.MlflowClient(uri).create_experiment("readme_ui_check")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [a.replace("$MLFLOW_TRACKING_URI", uri) for a in shlex.split(line.replace("--port 5000", f"--port {port}"))]
    args[0] = str(ROOT / args[0])
    proc = subprocess.Popen(args, cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": uri},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, body = time.monotonic() + 120, None
        while time.monotonic() < deadline and body is None:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search",
                                             data=json.dumps({"max_results": 10}).encode(),
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as resp:
                    body = json.loads(resp.read())
            except OSError:
                assert proc.poll() is None, "mlflow ui exited"
                time.sleep(1)
        assert body is not None, "the UI did not answer within 120 s"
        assert "readme_ui_check" in {e["name"] for e in body["experiments"]}
        assert not (tmp_path / "mlflow.db").exists()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
