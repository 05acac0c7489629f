"""Every command the README, docs/*.md and experiments/README.md document is run by a test through the
real command line (issue 46: "a fresh clone's README commands, every one, run as written").

Each command line of a fenced shell block is looked up in `COVERAGE`, which says how it is tested:

* `Run`: run here, as written, in a scratch folder that looks like the repository (`src`, `conf`,
  `scripts`, `.venv` linked, `experiments/` copied, so nothing is written into the checkout), in smoke
  form: `extra` arguments are appended (smoke size, fewer points) and `replace` swaps a placeholder
  such as `outputs/<experiment>/<job>` for a fixture made through the same command line. The run must
  exit 0 without a traceback and write the files `writes` names. A run of minutes whose code and
  arguments a default-run test already covers is marked slow (`slow_beside` names that test).
* `CoveredBy`: too long or needing infrastructure (a PostgreSQL server, a SLURM launcher, a headless
  browser, whole sweeps) to run twice; the named tests run it through the command line, and
  `test_the_tests_named_for_commands_exist` collects them by node id, so the table cannot rot.
* `Exempt`: installs software; the reason is printed.

A command in the docs that is not in `COVERAGE`, or an entry of `COVERAGE` no page documents any more,
fails `test_every_documented_command_is_covered`.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "experiments" / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELL = ("bash", "sh", "shell", "console")


def documented_commands(pages: list[Path] = PAGES) -> dict[str, list[str]]:
    """Command line (continuations joined, comment and extra spaces dropped) -> the pages that show it."""
    found: dict[str, list[str]] = {}
    for page in pages:
        for block in FENCE.finditer(page.read_text()):
            if block.group(1) not in SHELL:
                continue
            for line in block.group(2).replace("\\\n", " ").splitlines():
                command = " ".join(re.sub(r"(^|\s)#.*$", "", line).split())
                if command:
                    found.setdefault(command, []).append(str(page.relative_to(ROOT) if page.is_relative_to(ROOT) else page))
    return found


@dataclass(frozen=True)
class Run:
    """Run as written in the scratch folder, `extra` appended, each `replace` pair swapped."""

    writes: tuple[str, ...]  # glob patterns (relative to the scratch folder) of files the run must write
    extra: str = ""
    replace: tuple[tuple[str, str], ...] = ()
    needs: tuple[str, ...] = ()  # fixtures made through the command line first: "job", "sweep"
    #: marks the run slow (minutes on a loaded 2-core machine), naming the default-run test that already
    #: covers the same code with the same arguments, so the default run loses nothing
    slow_beside: str = ""


@dataclass(frozen=True)
class CoveredBy:
    """Run through the command line by these tests (node ids), for the reason given."""

    tests: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Exempt:
    reason: str


SMOKE = "debug=smoke"
JOB = "outputs/fixture/job"  # the "job" fixture: a finished LeNet-300-100 smoke job
JOB_SLOT = (("outputs/<experiment>/<job>", JOB),)
SWEEP = "multirun/shufflenet_groups/first"  # the "sweep" fixture, and its re-run beside it
RERUN = "multirun/shufflenet_groups/rerun"
EXPERIMENT_SMOKE = "tests/test_experiments_smoke.py::test_experiment_smoke_run[{}]"
RESULTS = ("outputs/**/results.json",)
SWEEP_RESULTS = ("multirun/**/results.json",)

COVERAGE: dict[str, Run | CoveredBy | Exempt] = {
    # README.md
    "bash scripts/main.sh": CoveredBy(
        (EXPERIMENT_SMOKE.format("resnet20_fashion_mnist"),),
        "install.sh (apt, pip) then `python -m src.run experiment=resnet20_fashion_mnist`, whose smoke run is this test"),
    "bash scripts/test.sh": Exempt("installs, then runs the whole test suite: it is the command CI (.ci/run) runs"),
    ".venv/bin/python -m src.run model=resnet20 train.epochs=3": Run(RESULTS, extra=SMOKE),
    ".venv/bin/python -m src.run data=image_folder data.root=/path/to/folder model=resnet50": CoveredBy(
        ("tests/data/test_paper_scale_cli.py::test_small_image_folder_command_through_the_cli",),
        "needs a generated class-folder tree; that test makes one and runs this command in smoke size"),
    ".venv/bin/python -m src.run debug=smoke": Run(RESULTS),
    # docs/training.md
    ".venv/bin/python -m src.run model=resnet18 model.stem=small data.image_size=32 data.channels=3": Run(RESULTS, extra=SMOKE),
    ".venv/bin/python -m src.run experiment=resnet_depths": CoveredBy((EXPERIMENT_SMOKE.format("resnet_depths"),), "a sweep"),
    ".venv/bin/python -m src.run -m model=resnet20,resnet32 seed=0,1,2": Run(
        SWEEP_RESULTS, extra=f"{SMOKE} data.train_subset=64 data.eval_subset=64 export=none", slow_beside="tests/test_cli.py::test_sweep_gets_a_parent_run_with_one_nested_run_per_point"),
    ".venv/bin/python -m src.run -m seed=0,1,2,3 hydra/launcher=joblib hydra.launcher.n_jobs=2": Run(
        SWEEP_RESULTS, extra=f"{SMOKE} data.train_subset=64 data.eval_subset=64 export=none",
        slow_beside="tests/scaleout/test_tracking_server.py::test_a_parallel_sweep_logs_every_point_once_to_the_server_and_its_database"),
    ".venv/bin/python -m src.run train.precision=mixed_float16 train.deterministic=false": Run(
        RESULTS, extra=f"{SMOKE} data.train_subset=64 data.eval_subset=64",  # float16 on a CPU is emulated: slow
        slow_beside="tests/train/test_engines.py::test_mixed_precision_trains_and_saves_a_float32_model"),
    ".venv/bin/python -m src.run train.distribution=mirrored data.batch_size=512": Run(
        RESULTS, extra=f"{SMOKE} data.train_subset=1024",
        slow_beside="tests/scaleout/test_scale_out_cli.py::test_the_mirrored_command_trains_on_this_machines_devices"),
    # debug=smoke turns XLA off, which data_parallel refuses (un-jitted JAX steps deadlock in the CPU all-reduce)
    "KERAS_BACKEND=jax .venv/bin/python -m src.run train.distribution=data_parallel": Run(
        RESULTS, extra=f"{SMOKE} train.jit_compile=true"),
    "KERAS_BACKEND=jax .venv/bin/python -m src.run train.distribution=data_parallel data.batch_size=512": Run(
        RESULTS, extra=f"{SMOKE} train.jit_compile=true data.train_subset=1024",
        slow_beside="tests/train/test_engines.py::test_keras_data_parallel_on_jax_over_two_devices_equals_one_device_training"),
    ".venv/bin/python -m src.run --rerun outputs/<experiment>/<date_time>": CoveredBy(
        ("tests/test_cli.py::test_rerun_by_job_folder_or_mlflow_run_id_warns_on_changed_data_or_commit",),
        "re-runs a job by its folder and by its MLflow run id through the CLI, and checks the warnings"),
    ".venv/bin/python -m src.run --rerun <run_id> train.epochs=30": CoveredBy(
        ("tests/test_cli.py::test_rerun_by_job_folder_or_mlflow_run_id_warns_on_changed_data_or_commit",),
        "as above, by run id with field overrides on top"),
    "python -m src.train.carry pack multirun/<experiment>/<sweep>/<point> job.tar.gz": CoveredBy(
        ("tests/scaleout/test_tracking_server.py::test_carry_moves_a_job_from_sqlite_to_the_server_and_back_and_it_resumes_on_the_server",),
        "needs a killed job; that test kills one after its first epoch and packs it through the CLI"),
    "python -m src.train.carry unpack job.tar.gz": CoveredBy(
        ("tests/scaleout/test_tracking_server.py::test_carry_moves_a_job_from_sqlite_to_the_server_and_back_and_it_resumes_on_the_server",
         "tests/reliability/test_carry.py::test_the_command_line_reports_errors_plainly"),
        "unpacks through the CLI and resumes the job"),
    # docs/tracking.md
    "export MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db": CoveredBy(
        ("tests/tracking/test_store_rule.py::test_every_mlflow_command_in_the_docs_names_the_suites_store",),
        "the exported URI is the suite's own store"),
    '.venv/bin/mlflow ui --backend-store-uri "$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port 5000': CoveredBy(
        ("tests/tracking/test_store_rule.py::test_the_documented_mlflow_ui_command_serves_the_suites_store",),
        "a server that runs until stopped: that test serves the store with this line and queries it"),
    (".venv/bin/python -m src.run -m model=resnet20 data.train_subset=2000 data.eval_subset=1000 train.epochs=2 "
     "seed=1,2,3 export=none experiment_name=resnet20_quick_look"): Run(
        SWEEP_RESULTS, replace=(("data.train_subset=2000", "data.train_subset=128"),
                                ("data.eval_subset=1000", "data.eval_subset=64")), slow_beside="tests/test_cli.py::test_sweep_gets_a_parent_run_with_one_nested_run_per_point"),
    ".venv/bin/python -m src.report.mlflow_screenshot --experiment resnet20_quick_look --out docs/img/mlflow_compare.png": CoveredBy(
        ("tests/tracking/test_mlflow_ui.py::test_compare_view_shows_every_point_and_metric",
         "tests/tracking/test_mlflow_ui.py::test_compare_view_of_a_single_jobs_experiment_and_across_experiments"),
        "drives headless Chromium for about two minutes"),
    # docs/ablations.md
    **{f".venv/bin/python -m src.run experiment={name}": CoveredBy((EXPERIMENT_SMOKE.format(name),), "a sweep (3 to 21 jobs), run with debug=smoke by that slow test")
       for name in ("shufflenet_groups", "mobilenet_alpha_rho", "se_placement", "se_reduction", "igc_partitions",
                    "deep_compression", "dsd", "data_distillation")},
    ".venv/bin/python -m src.report experiment=shufflenet_groups": Run(
        ("experiments/shufflenet_groups/README.md",), needs=("sweep",)),
    ".venv/bin/python -m src.report.ablation multirun/<experiment>/<t1> multirun/<experiment>/<t2> --out <dir>": Run(
        ("report_of_two/README.md",), replace=(("multirun/<experiment>/<t1>", SWEEP), ("multirun/<experiment>/<t2>", RERUN), ("<dir>", "report_of_two")),
        needs=("sweep",)),
    ".venv/bin/python -m src.report.sweep_table multirun/<experiment>/<time> --out experiments/<experiment>": Run(
        ("experiments/shufflenet_groups/results.csv",), replace=(("multirun/<experiment>/<time>", SWEEP), ("<experiment>", "shufflenet_groups")),
        needs=("sweep",)),
    (".venv/bin/python -m src.report.sweep_table --earlier experiments/<experiment>/results.csv "
     "--out experiments/<experiment>"): Run(
        ("experiments/zoo_efficient_fashion_mnist/README.md",), replace=(("<experiment>", "zoo_efficient_fashion_mnist"),)),
    # docs/statistics.md
    "python -m src.report.ablation --from-results experiments/se_placement/results.csv": Run(("experiments/se_placement/README.md",)),
    "python -m src.report.dsd --from-results experiments/dsd/results.csv": Run(("experiments/dsd/README.md",)),
    "python -m src.report.power se_placement": Run(()),
    "python -m src.report.power all --out experiments/ablation_power": Run(("experiments/ablation_power/README.md",)),
    "python -m src.report.power se_placement --accuracy 0.90 --sd 0.25 --minutes 4": Run(()),
    ('python -m src.report.calibrate se_placement --claim 2 --budget "train.epochs=6 data.train_subset=14000" '
     '--budget "train.epochs=12 data.train_subset=28000"'): Run((), extra="--dry-run"),
    "python -m src.report.calibrate se_placement --claim 2 --judge <sweep at budget 1> <sweep at budget 2>": CoveredBy(
        ("tests/report/test_calibrate.py::test_the_sign_holds_or_flips_between_budgets",),
        "needs two sweeps of a claim's arms; that test writes them and judges them through the CLI"),
    # docs/compression.md
    ".venv/bin/python -m src.compress.run outputs/<experiment>/<job> --settings conf/compress/lenet_300_100.yaml": Run(
        (f"{JOB}/compressed/report.json",), extra="--prune-epochs 3 --share-epochs 1 --batch-size 32", replace=JOB_SLOT, needs=("job",)),
    ".venv/bin/python -m src.report.deep_compression multirun/deep_compression/<time> --out experiments/deep_compression": CoveredBy(
        ("tests/report/test_deep_compression_report.py::test_report_sets_each_network_beside_the_paper",
         "tests/report/test_deep_compression_report.py::test_rerender_of_the_committed_report_through_the_cli"),
        "needs a deep_compression sweep (training + compression per seed); the report is run on generated job folders through the CLI"),
    ".venv/bin/python -m src.report.paper_storage": Run(("experiments/deep_compression/imagenet_storage.md",)),
    ".venv/bin/python -m src.report.dsd multirun/dsd/<time> --out experiments/dsd": CoveredBy(
        ("tests/report/test_dsd_report.py::test_report_states_the_gain_and_its_test",
         "tests/report/test_dsd_report.py::test_rerender_of_the_committed_report_through_the_cli"),
        "needs a dsd sweep; the report is run on generated job folders through the CLI"),
    ".venv/bin/python -m src.report.distillation multirun/data_distillation/<time> --out experiments/data_distillation": CoveredBy(
        ("tests/report/test_distillation_report.py::test_report_from_job_folders",
         "tests/report/test_distillation_report.py::test_rerender_of_the_committed_report_through_the_cli"),
        "needs a data_distillation sweep; the report is run on generated job folders through the CLI"),
    # docs/mobile.md
    ".venv/bin/python -m src.report.mobile_export outputs/<experiment>/<job> --formats int8 --out <dir>": Run(
        ("mobile_table/README.md",), replace=(*JOB_SLOT, ("<dir>", "mobile_table")), needs=("job",)),
    ".venv/bin/python -m src.compress.qat outputs/<experiment>/<job>": Run(
        (f"{JOB}/mobile_export/qat.json",), extra="--train-subset 64 --batch-size 32", replace=JOB_SLOT, needs=("job",)),
    ".venv/bin/python -m src.export.android outputs/<experiment>/<job> --formats int8": Run(
        (f"{JOB}/android/int8/model.tflite", f"{JOB}/android/int8/model.json"), replace=JOB_SLOT, needs=("job",)),
    # docs/benchmarks.md
    ".venv/bin/python -m src.bench": Run(
        ("bench/results.csv", "bench/summary.md"),
        extra="models=[mobilenet_v2] batch=4 steps=1 warmup=1 matmul_n=128 pipeline_batches=2 torch=false "
              "litert_threads=[1] out_dir=bench",
        slow_beside="tests/bench/test_suite.py::test_suite_measures_ours_beside_keras_applications_and_writes_csv_and_summary"),
    ".venv/bin/python -m src.bench.onednn": Run(
        ("onednn/results.csv",), extra="--models lenet5 --batch 8 --steps 2 --warmup 1 --out onednn",
        slow_beside="tests/bench/test_onednn_bench.py::test_both_settings_are_measured_in_workers_that_ran_them"),
    ".venv/bin/python -m src.bench.cpu_precision": Run(
        ("cpu_precision/results.csv",), extra="--models resnet20 --size 8 --batch 2 --steps 1 --warmup 1 --out cpu_precision",
        slow_beside="tests/bench/test_cpu_precision.py::test_times_every_variant_and_writes_the_summary"),
    ".venv/bin/python -m src.bench.accelerator": Run(
        ("accelerator/results.csv",),
        extra="--models squeezenet1_1 --precisions float32 --size 32 --batch 2 --steps 1 --warmup 0 --jit 0 --no-torch "
              "--matmul-n 64 --out accelerator",
        slow_beside="tests/bench/test_accelerator.py::test_tiny_run_writes_one_row_per_precision"),
    ".venv/bin/python -m src.bench.roi_pooling": CoveredBy(
        ("tests/bench/test_roi_pooling_bench.py::test_cli_times_every_operator_forward_and_backward",),
        "minutes at the detector-head shape; that test runs it through the CLI at the small shape, every operator"),
    ".venv/bin/python -m src.bench.input_pipeline": CoveredBy(
        ("tests/data/test_paper_scale_cli.py::test_input_pipeline_benchmark_through_the_cli",),
        "generates a JPEG tree with bad files; that test runs it through the CLI at 10 files"),
    # docs/paper_scale.md
    ".venv/bin/python -m src.run experiment=shufflenet_groups scale=full data.root=/data/imagenet": CoveredBy(
        ("tests/data/test_paper_scale_cli.py::test_ablation_point_at_scale_full_runs_through_the_cli",
         "tests/data/test_paper_scale_cli.py::test_ablation_point_at_scale_full_224px_through_mlflow_and_tflite"),
        "needs an ImageNet-format tree; those tests generate one and run a point (64 px, and 224 px marked slow)"),
    ".venv/bin/python -m src.data.tfrecord /data/imagenet /data/imagenet-tfrecord": CoveredBy(
        ("tests/data/test_paper_scale_cli.py::test_converter_and_tfrecord_job_through_the_cli",),
        "converts a generated ImageNet-format tree through the CLI"),
    (".venv/bin/python -m src.run experiment=shufflenet_groups scale=full data=tfrecord "
     "data.root=/data/imagenet-tfrecord"): CoveredBy(
        ("tests/data/test_paper_scale_cli.py::test_converter_and_tfrecord_job_through_the_cli",),
        "trains on the converted shards through the CLI"),
    # docs/scaling_out.md
    (".venv/bin/python -m src.run -m experiment=shufflenet_groups hydra/launcher=submitit_slurm hydra.launcher.partition=gpu "
     "hydra.launcher.gpus_per_node=1 hydra.launcher.timeout_min=240 hydra.launcher.max_num_timeout=3"): CoveredBy(
        ("tests/scaleout/test_scale_out_cli.py::test_the_slurm_sweep_command_composes_submitits_slurm_launcher_with_requeue_on_time_outs",
         "tests/scaleout/test_submitit_sweep.py"),
        "no SLURM cluster: Hydra composes these settings through the CLI, and submitit_local runs the same path"),
    **{(f"TF_CONFIG='{{\"cluster\": {{\"worker\": [\"host1:23456\", \"host2:23456\"]}}, \"task\": {{\"type\": \"worker\", "
        f"\"index\": {index}}}}}' .venv/bin/python -m src.run train.distribution=multi_worker data.batch_size=256"): CoveredBy(
        ("tests/scaleout/test_multi_worker.py::test_two_workers_killed_after_epoch_1_resume_and_end_with_the_one_process_weights",),
        "two real worker processes: the test reads this command from the page, swaps the hosts for free 127.0.0.1 ports "
        "and runs both (killed, resumed, weights equal to one process)") for index in (0, 1)},
    ("srun --nodes=2 --ntasks-per-node=4 --gpus-per-node=4 .venv/bin/python -m src.run train.distribution=multi_worker "
     "data.batch_size=1024"): CoveredBy(
        ("tests/scaleout/test_multi_worker.py::test_two_tasks_of_an_srun_step_train_one_job",),
        "no SLURM cluster: the test runs the command's two tasks on 127.0.0.1 with SLURM's environment variables"),
    "pip install psycopg2-binary": Exempt("installs a package on the tracking server's machine (the test extra installs it here)"),
    ("mlflow server --host 0.0.0.0 --port 5000 --workers 4 --backend-store-uri "
     "postgresql+psycopg2://mlflow:<password>@dbhost:5432/mlflow --artifacts-destination /shared/mlflow-artifacts"): CoveredBy(
        ("tests/scaleout/test_tracking_server.py::test_a_parallel_sweep_logs_every_point_once_to_the_server_and_its_database",),
        "needs PostgreSQL; the test starts a throw-away cluster and this server on 127.0.0.1"),
    ("MLFLOW_TRACKING_URI=http://trackinghost:5000 .venv/bin/python -m src.run -m experiment=se_reduction "
     "hydra/launcher=joblib hydra.launcher.n_jobs=2"): CoveredBy(
        ("tests/scaleout/test_tracking_server.py::test_a_parallel_sweep_logs_every_point_once_to_the_server_and_its_database",),
        "a parallel joblib sweep logging to that server through the CLI"),
    ".venv/bin/python -m src.train.carry pack outputs/<experiment>/<job> job.tar.gz": CoveredBy(
        ("tests/scaleout/test_tracking_server.py::test_carry_moves_a_job_from_sqlite_to_the_server_and_back_and_it_resumes_on_the_server",),
        "packs a killed job through the CLI"),
    ("MLFLOW_TRACKING_URI=http://trackinghost:5000 .venv/bin/python -m src.train.carry unpack job.tar.gz "
     "--root outputs/<experiment>"): CoveredBy(
        ("tests/scaleout/test_tracking_server.py::test_carry_moves_a_job_from_sqlite_to_the_server_and_back_and_it_resumes_on_the_server",),
        "unpacks into the server's store through the CLI and resumes there"),
}

RUNS = [pytest.param(c, marks=[pytest.mark.slow] if how.slow_beside else [], id=c.replace('"', "'"))
        for c, how in sorted(COVERAGE.items()) if isinstance(how, Run)]


def test_every_documented_command_is_covered():
    documented = documented_commands()
    missing = {c: pages for c, pages in documented.items() if c not in COVERAGE}
    assert not missing, f"documented commands no test covers (add them to COVERAGE): {missing}"
    stale = sorted(set(COVERAGE) - set(documented))
    assert not stale, f"COVERAGE entries no page documents any more: {stale}"
    for command, how in COVERAGE.items():
        if isinstance(how, Exempt):
            assert how.reason
            print(f"exempt: {command}  ({how.reason})")
    counts = {kind.__name__: sum(isinstance(h, kind) for h in COVERAGE.values()) for kind in (Run, CoveredBy, Exempt)}
    print(f"{len(COVERAGE)} documented commands: {counts}")


def test_the_extractor_joins_continuations_and_drops_comments(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\npython -m a x=1 \\\n    y=2   # why\n# only a comment\nexport A=b#c\n```\n\n"
                    "```python\nnot_a_command()\n```\n")
    assert documented_commands([page]) == {"python -m a x=1 y=2": [str(page)], "export A=b#c": [str(page)]}


def test_the_tests_named_for_commands_exist():
    """Collects every node id the `CoveredBy` entries name, so a renamed or deleted test fails here."""
    ids = sorted({t for how in COVERAGE.values() if isinstance(how, CoveredBy) for t in how.tests} |
                 {how.slow_beside for how in COVERAGE.values() if isinstance(how, Run) and how.slow_beside})
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *ids],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    for node in ids:
        assert any(line == node or line.startswith(node + "[") or (("::" not in node) and line.startswith(node + "::"))
                   for line in collected), f"{node} names no collected test"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder that looks like the repository to a command: code and configs linked, experiments copied."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("src", "conf", "scripts", ".venv", "pyproject.toml"):
        (root / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "experiments", root / "experiments")
    (root / "docs" / "img").mkdir(parents=True)
    return root


def shell(command: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "KERAS_BACKEND")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PATH"] = f"{cwd / '.venv' / 'bin'}:{env.get('PATH', '')}"  # as after `source .venv/bin/activate`
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def job(scratch) -> Path:
    """A finished smoke job made by the CLI (LeNet-300-100, whose Deep Compression settings the docs name)."""
    proc = shell(f".venv/bin/python -m src.run model=lenet_300_100 {SMOKE} hydra.run.dir={JOB}", scratch)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return scratch / JOB


@pytest.fixture(scope="module")
def sweep(scratch) -> Path:
    """A two-point ablation sweep and its re-run (which skips the finished points), made by the CLI."""
    command = (".venv/bin/python -m src.run -m experiment=shufflenet_groups point/shufflenet_groups=g3,g3_noshuffle "
               f"seed=1,2 {SMOKE} data.train_subset=64 data.eval_subset=64")
    for folder in (SWEEP, RERUN):
        proc = shell(f"{command} hydra.sweep.dir={folder}", scratch)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return scratch / SWEEP


def written_since(root: Path, start: float) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*")
            if not p.is_symlink() and p.is_file() and p.stat().st_mtime >= start and ".venv" not in p.parts]


@pytest.mark.parametrize("command", RUNS)
def test_documented_command_runs(command, scratch, request):
    how = COVERAGE[command]
    for fixture in how.needs:
        request.getfixturevalue(fixture)
    line = command
    for placeholder, value in how.replace:
        assert placeholder in line, f"{placeholder!r} is not in {command!r}"
        line = line.replace(placeholder, value)
    if how.extra:
        line = f"{line} {how.extra}"
    assert "<" not in line.replace("<(", ""), f"a placeholder is left in {line!r}"
    start = time.time() - 1
    proc = shell(line, scratch)
    assert proc.returncode == 0, f"{line}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    written = written_since(scratch, start)
    for pattern in how.writes:
        assert any(fnmatch.fnmatch(path, pattern) for path in written), f"{line} wrote no {pattern}"
    if not how.writes:  # a command that only prints
        assert proc.stdout.strip(), f"{line} printed nothing"


def python_blocks(pages: list[Path] = PAGES) -> list[str]:
    return [block.group(2) for page in pages for block in FENCE.finditer(page.read_text()) if block.group(1) == "python"]


def test_the_readmes_python_example_runs_and_prints_what_its_comments_say():
    """The README's Python block as written, its last expression printed: 25,557,032 and 3.86 G multiply-adds."""
    (code,) = python_blocks([ROOT / "README.md"])
    last = code.strip().splitlines()[-1].split("#")[0].strip()
    proc = subprocess.run([sys.executable, "-c", f"{code}\nprint(repr(({last})))"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    params, macs = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert params == 25_557_032 and round(macs / 1e9, 2) == 3.86, (params, macs)
    assert python_blocks([p for p in PAGES if p.name != "README.md" or p.parent != ROOT]) == [], \
        "a new Python block in the docs needs a test here"
