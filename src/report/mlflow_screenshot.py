"""Open an experiment's runs in the MLflow UI's compare view in headless Chromium, and save a screenshot.

    python -m src.report.mlflow_screenshot --experiment shufflenet_groups --out experiments/shufflenet_groups/mlflow_compare.png

Starts ``mlflow server`` on 127.0.0.1 (a free port) against the store (``--tracking-uri``, default the
suite's local store), opens the compare-runs view of the experiment's newest sweep (its point runs, the
parent excluded), of its newest finished runs when it has no sweep (a single job's experiment), or, with
``--sweep-dir``, of the finished points of those sweep folders (a point that skipped or resumed an
earlier job shows that job's run, as the ablation report counts it); ``--experiment`` repeated puts the
runs of several experiments in one view. It waits until
every run and the requested metrics are on the page, and writes the PNG.
Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (scripts/install.sh
installs them with INSTALL_BROWSER=1). Written by hand because MLflow has no screenshot or UI-check API.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = ("chromedriver", "/usr/lib/chromium/chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlflow_server(tracking_uri: str, timeout: float = 90.0):
    """``mlflow server`` on 127.0.0.1 for the store; yields its base URL and stops it afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start on {url}: {(proc.stderr.read() if proc.poll() is not None else '')[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    driver = next((shutil.which(d) or (d if Path(d).exists() else None) for d in CHROMEDRIVER
                   if shutil.which(d) or Path(d).exists()), None)
    if not binary or not driver:
        raise RuntimeError("headless Chromium needs Debian's chromium and chromium-driver: "
                           "apt-get install -y chromium chromium-driver (or INSTALL_BROWSER=1 bash scripts/install.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,3200"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


_SCROLLABLE = """return [...document.querySelectorAll('*')].filter(el => el.scrollHeight > el.clientHeight + 5
    && /(auto|scroll)/.test(getComputedStyle(el).overflowY));"""

#: Every element still scrolled (overflow hidden ones included: the compare view's row-name column
#: follows its value pane by script and otherwise stays where the text scan left it) back to the top.
_TO_TOP = """[...document.querySelectorAll('*')].filter(el => el.scrollTop > 0).forEach(el => {
    el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });"""


def _rendered_text(browser) -> str:
    """The page's text, including rows that the UI's scrollable tables render only when scrolled to."""
    from selenium.webdriver.common.by import By

    browser.execute_script("window.scrollTo(0, document.body.scrollHeight);")
    parts = [browser.find_element(By.TAG_NAME, "body").text]
    for element in browser.execute_script(_SCROLLABLE):
        height = browser.execute_script("return arguments[0].scrollHeight;", element)
        step = max(50, browser.execute_script("return arguments[0].clientHeight;", element) // 2)
        for top in range(0, height + step, step):
            browser.execute_script("arguments[0].scrollTop = arguments[1];", element, top)
            time.sleep(0.05)
            parts.append(element.text)
    return "\n".join(parts)


#: At most this many runs of an experiment without a sweep (newest first): the compare view of hundreds of
#: runs never finishes rendering its columns.
MAX_RUNS = 8


def sweep_runs(tracking_uri: str, experiment: str, sweep_dirs: list[Path] | None = None,
               metric: str = "test_accuracy", max_runs: int = MAX_RUNS) -> tuple[str, list]:
    """(experiment id, the point runs of its newest sweep, or, without a sweep, its newest ``max_runs``
    finished runs that logged ``metric``, debug runs left out); with ``sweep_dirs``, the runs of those folders'
    finished points (src.report.ablation.read_points)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"error: no MLflow experiment {experiment!r} in {tracking_uri}")
    if sweep_dirs:
        from src.report.ablation import read_points

        ids = [p["job"]["mlflow_run_id"] for p in read_points(sweep_dirs) if p["results"] and p["job"].get("mlflow_run_id")]
        return found.experiment_id, [client.get_run(run_id) for run_id in ids]
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"], max_results=500)
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    if parents:
        return found.experiment_id, [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    finished = [r for r in runs if r.info.status == "FINISHED" and metric in r.data.metrics
                and "debug" not in r.data.tags and r.data.tags.get("sweep") != "parent"]
    return found.experiment_id, finished[:max_runs]


def experiments_runs(tracking_uri: str, experiments: list[str], sweep_dirs: list[Path] | None = None,
                     metric: str = "test_accuracy") -> tuple[list[str], list]:
    """(experiment ids, runs) of `sweep_runs` over several experiments, for one compare view across them."""
    ids, runs = [], []
    for experiment in experiments:
        experiment_id, found = sweep_runs(tracking_uri, experiment, sweep_dirs if len(experiments) == 1 else None, metric)
        ids.append(experiment_id)
        runs += found
    return ids, runs


def compare_view(tracking_uri: str, experiment: str | list[str], out: Path, metrics: tuple[str, ...] = ("test_accuracy",),
                 timeout: float = 60.0, sweep_dirs: list[Path] | None = None) -> str:
    """Open the compare view of the experiment's (or experiments') runs (`experiments_runs`), wait for every
    run name and metric key, save a screenshot to ``out``; returns the page's visible text."""
    experiments = [experiment] if isinstance(experiment, str) else list(experiment)
    experiment_ids, runs = experiments_runs(tracking_uri, experiments, sweep_dirs, metrics[0])
    if not runs:
        raise SystemExit(f"error: {', '.join(experiments)} has no finished runs with {metrics[0]} to compare")
    wanted = [r.info.run_name for r in runs] + list(metrics)
    with mlflow_server(tracking_uri) as url:
        query = urllib.parse.urlencode({"runs": json.dumps([r.info.run_id for r in runs]),
                                        "experiments": json.dumps(experiment_ids)})
        browser = _browser()
        try:
            browser.get(f"{url}/#/compare-runs?{query}")
            deadline = time.monotonic() + timeout
            while True:
                text = _rendered_text(browser)
                missing = [w for w in wanted if w not in text]
                if not missing:
                    break
                if time.monotonic() > deadline:
                    browser.save_screenshot(str(out.with_suffix(".failed.png")))
                    raise RuntimeError(f"the compare view never showed {missing[:5]} (screenshot: {out.with_suffix('.failed.png')})")
                time.sleep(1.0)
            out.parent.mkdir(parents=True, exist_ok=True)
            browser.execute_script("window.scrollTo(0, 0);")
            for element in browser.execute_script(_SCROLLABLE):  # back to the top of every pane
                browser.execute_script("arguments[0].scrollTop = 0;", element)
            browser.execute_script(_TO_TOP)  # and of the panes the UI scrolls along (e.g. the metric names)
            time.sleep(1.0)
            browser.save_screenshot(str(out))
            return text
        finally:
            browser.quit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", required=True, action="append",
                        help="the MLflow experiment (= experiment_name); repeat it to compare runs across experiments")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--tracking-uri", default=None, help="default: the suite's store (MLFLOW_TRACKING_URI or mlruns/)")
    parser.add_argument("--metric", action="append", default=None, help="metric keys that must appear (repeatable)")
    parser.add_argument("--sweep-dir", action="append", type=Path, default=None,
                        help="compare the finished points of this sweep folder (repeatable) instead of the newest sweep")
    args = parser.parse_args(argv)
    from src.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(args.tracking_uri)
    compare_view(uri, args.experiment, args.out, tuple(args.metric or ("test_accuracy",)), sweep_dirs=args.sweep_dir)
    print(f"compare view of {', '.join(args.experiment)} -> {args.out}")


if __name__ == "__main__":
    main()
