"""Summarise a finished (or interrupted) sweep: one row per point, held against the public table.

    python -m src.report.sweep_table multirun/<experiment>/<timestamp> [more sweeps] --out experiments/<experiment>
        [--earlier experiments/<experiment>/results.csv]

Reads each point's job folder (``results.json``, ``config.yaml``, ``history.csv``, written by
``src.train.loop``), so a sweep that was killed still reports the points that finished and lists the
others as unfinished. Writes ``README.md`` (a Markdown table and a plot of test accuracy against
multiply-adds, ``accuracy_vs_macs.png``, plus the command and the sweep folder,
then the hand-written ``NOTES.md`` of ``--out`` when there is one) and ``results.csv`` into ``--out``.
The public Fashion-MNIST figures are the upstream benchmark table's (zalandoresearch/fashion-mnist
README; submitted, not re-verified).

Job folders live in ``multirun/``, which is not committed, so a new checkout lacks the earlier sweeps'
folders; ``--earlier`` takes their rows from the committed ``results.csv`` instead and numbers the new
sweeps' points after them (an earlier unfinished row whose network and seed finished since is left out;
an earlier row of a job folder listed again is read afresh, so rerunning the recorded command, whose
``--earlier`` is its own output, does not repeat rows).

With ``--earlier`` and no sweep folder, the report is re-rendered from that ``results.csv`` alone: after
editing ``NOTES.md`` in a checkout without the job folders, this brings README.md up to date without
copying the notes by hand (``python -m src.report.sweep_table --earlier <out>/results.csv --out <out>``).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from src.job_folder import (
    has_results,
    point_folders,
    point_overrides,
    read_config,
    read_history,
    read_job,
    read_results,
    resolved_job_dir,
)
from src.report.markdown import write_readme

#: Public Fashion-MNIST test accuracies (zalandoresearch/fashion-mnist README, as recorded in
#: zalandoresearch/fashion-mnist README) of the row each of our networks is held against.
PUBLIC_ROWS: dict[str, tuple[str, float]] = {
    "lenet_300_100": ("MLP 256-128-100", 0.883),
    "lenet5": ("2 conv + pooling (TensorFlow tutorial)", 0.916),
    "alexnet": ("AlexNet (triplet loss)", 0.899),
    "vgg16": ("VGG-16, 26 M params", 0.935),
    "vgg16_bn": ("VGG-16, 26 M params", 0.935),
    "googlenet": ("GoogLeNet (cross-entropy)", 0.937),
    "densenet_bc_100_12": ("DenseNet-BC, 768 K params", 0.954),
    "squeezenet1_0": ("SqueezeNet, cyclical LR, 200 epochs", 0.900),
    "squeezenet1_1": ("SqueezeNet, cyclical LR, 200 epochs", 0.900),
    "resnet18": ("ResNet-18", 0.949),
    "resnet20": ("ResNet-18", 0.949),
    "se_resnet50": ("ResNet-18", 0.949),
    "mobilenet_v1": ("MobileNet", 0.950),
    "mobilenet_v2": ("MobileNet", 0.950),
    "mobilenet_v3_small": ("MobileNet", 0.950),
    "mobilenet_v3_large": ("MobileNet", 0.950),
    # no entry of their own in the table: held against its efficient-network row, as issue 4 asks
    "shufflenet_v1": ("MobileNet", 0.950),
    "shufflenet_v2": ("MobileNet", 0.950),
    "igc": ("MobileNet", 0.950),
}

COLUMNS = [
    "point", "model", "seed", "status", "params", "macs", "epochs", "test_accuracy", "public_row",
    "public_accuracy", "delta_vs_public", "tflite_top1_agreement", "tflite_max_abs_logit_diff",
    "images_per_s_median", "train_seconds", "wall_seconds", "job",
]


def read_point(job_dir: Path) -> dict:
    """One row from a sweep point's job folder (status ``unfinished`` without ``results.json``)."""
    cfg = read_config(job_dir)
    model = (cfg.get("model") or {}).get("name", "?")
    row: dict = {"point": job_dir.name, "model": model_label(job_dir, model), "seed": cfg.get("seed"),
                 "status": "unfinished", "job": os.path.normpath(job_dir)}
    columns = read_history(job_dir)
    if columns is not None:
        row["epochs"] = len(columns.get("epoch", []))
        per_epoch = columns.get("images_per_s", [])
        speeds = [v for v in per_epoch[1:] or per_epoch if not math.isnan(v)]  # epoch 1 holds the tracing
        row["images_per_s_median"] = statistics.median(speeds) if speeds else None
        # history.csv survives a resume; results.json's wall_seconds counts only the last invocation
        epoch_seconds = [v for v in columns.get("epoch_seconds", []) if not math.isnan(v)]
        row["train_seconds"] = sum(epoch_seconds) if epoch_seconds else None
    results = read_results(job_dir)
    if results is not None:
        row.update(
            status="finished",
            params=results.get("params_trainable"),
            macs=results.get("macs"),
            test_accuracy=results.get("test_accuracy"),
            tflite_top1_agreement=results.get("tflite_top1_agreement"),
            tflite_max_abs_logit_diff=results.get("tflite_max_abs_logit_diff"),
            wall_seconds=results.get("wall_seconds"),
        )
    if model in PUBLIC_ROWS:
        row["public_row"], row["public_accuracy"] = PUBLIC_ROWS[model]
        if row.get("test_accuracy") is not None:
            row["delta_vs_public"] = row["test_accuracy"] - row["public_accuracy"]
    return row


#: Command-line override prefixes that change what a row measures: the network's knobs (shown without
#: the ``model.`` prefix) and the recipe's (shown in full, e.g. ``train.learning_rate=0.0625``).
LABELLED_OVERRIDES = ("model.", "train.", "data.")
#: Overrides that change how a job reports, not what it measures (cf. src/train/resume.py VOLATILE_FIELDS).
UNLABELLED_OVERRIDES = ("train.progress_every_s=", "train.verbose=")


def model_label(job_dir: Path, model: str) -> str:
    """The model's name plus the job's own command-line overrides of the network and the recipe (Hydra's
    ``.hydra/overrides.yaml``), e.g. ``resnet20 (se_position=standard)``: a knob set on the command line
    changes what the row measures, so the row must say so."""
    knobs = [o.removeprefix("model.") for o in point_overrides(job_dir)
             if o.startswith(LABELLED_OVERRIDES) and not o.startswith(UNLABELLED_OVERRIDES)]
    return f"{model} ({', '.join(knobs)})" if knobs else model


def point_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's point folders (Hydra's numeric subdirs), in point order."""
    if not sweep_dir.is_dir():
        raise SystemExit(f"error: {sweep_dir} is not a folder; give a sweep folder such as multirun/<experiment>/<time>")
    dirs = point_folders(sweep_dir)
    if not dirs:
        raise SystemExit(f"error: {sweep_dir} holds no point folders (0/, 1/, ...): is it a Hydra sweep folder?")
    return dirs


Job = tuple[int, Path, Path]  # (sweep index, point folder, job folder)


def unique_jobs(sweep_dirs: list[Path]) -> list[Job]:
    """(sweep index, point folder, job folder) of every point of the sweeps, in order. A point that
    continued an earlier job (its ``resumed_in.txt`` points there) is read from that job's folder, and a
    job reached twice (a re-run sweep skipping or resuming it) is listed once, at its first point."""
    jobs, seen = [], set()
    for k, sweep in enumerate(sweep_dirs):
        for folder in point_dirs(sweep):
            job_dir = resolved_job_dir(folder)
            if job_dir.resolve() in seen:
                continue
            seen.add(job_dir.resolve())
            jobs.append((k, folder, job_dir))
    return jobs


def drop_superseded(jobs: list[Job]) -> tuple[list[Job], list[Job]]:
    """``jobs`` without the unfinished attempts whose config (``job.json`` fingerprint) finished in another
    job folder of the list (a job killed before its first saved epoch restarts in a new folder), and
    the jobs so left out."""
    done = [has_results(job_dir) for _, _, job_dir in jobs]
    prints = [(read_job(job_dir) or {}).get("fingerprint") for _, _, job_dir in jobs]
    finished = {p for p, d in zip(prints, done) if d} - {None}
    kept, dropped = [], []
    for job, d, p in zip(jobs, done, prints):
        (dropped if not d and p in finished else kept).append(job)
    return kept, dropped


def read_earlier_rows(path: Path) -> list[dict]:
    """The rows of an earlier report's ``results.csv``, numbers typed as `read_point` gives them."""
    if not path.is_file():
        raise SystemExit(f"error: --earlier {path}: no such file; give the results.csv of an earlier report")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in ("point", "model", "status") if rows and c not in rows[0]]
    if missing:
        raise SystemExit(f"error: --earlier {path} lacks the column(s) {', '.join(missing)}: not a sweep_table results.csv")
    return [{k: _typed(v) if k not in ("point", "model", "status", "public_row", "job") else v or None
             for k, v in r.items()} for r in rows]


def _typed(text: str | None) -> int | float | None:
    if text in (None, ""):
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def sweeps_before(rows: list[dict]) -> int:
    """How many sweeps the earlier rows came from (their points are ``k/i``; a plain ``i``: one)."""
    return max((int(r["point"].split("/")[0]) + 1 if "/" in r["point"] else 1 for r in rows), default=0)


def drop_finished_since(earlier: list[dict], rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Earlier rows without the unfinished ones whose (network, seed) finished in any row, and the
    points so left out (the folders are gone, so the job fingerprint `drop_superseded` uses is not known)."""
    finished = {(r["model"], r.get("seed")) for r in earlier + rows if r["status"] == "finished"}
    kept, left_out = [], []
    for r in earlier:
        if r["status"] != "finished" and (r["model"], r.get("seed")) in finished:
            left_out.append(r["point"])
        else:
            kept.append(r)
    return kept, left_out


def _fmt(value, spec: str) -> str:
    if value is None or value == "":
        return "–"
    return format(value, spec)


def write_markdown(rows: list[dict], path: Path, title: str, arguments: str, plot: Path | None = None,
                   superseded: Sequence[str] = (), finished_since: Sequence[str] = (),
                   from_csv_only: bool = False) -> None:
    source = ("from the committed results.csv alone (the sweeps' job folders, named in its job column, are "
              "not committed)" if from_csv_only else "from the sweep's job folders")
    lines = [
        f"# {title}",
        "",
        f"Generated by `python -m src.report.sweep_table {arguments}` {source}.",
        "Public row: the upstream Fashion-MNIST benchmark entry the network is held against "
        "(zalandoresearch/fashion-mnist README's benchmark table; submitted results, recipes differ).",
        "Training s: the epochs' times summed over every invocation of a resumed job (history.csv); wall s: "
        "the last invocation only, test and export included.",
        "",
        "| point | model | seed | epochs | params | MACs | test acc | public row | public acc | Δ | TFLite agreement "
        "| max \\|Δlogit\\| | images/s (median) | training s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        params = f"{r['params'] / 1e6:.2f} M" if r.get("params") else "–"
        macs = f"{r['macs'] / 1e6:.1f} M" if r.get("macs") else "–"
        acc = _fmt(r.get("test_accuracy"), ".4f") if r["status"] == "finished" else "unfinished"
        lines.append(
            f"| {r['point']} | {r['model']} | {_fmt(r.get('seed'), '')} | {_fmt(r.get('epochs'), '')} | {params} | "
            f"{macs} | {acc} | {r.get('public_row') or '–'} | {_fmt(r.get('public_accuracy'), '.3f')} | "
            f"{_fmt(r.get('delta_vs_public'), '+.3f')} | {_fmt(r.get('tflite_top1_agreement'), '.4f')} | "
            f"{_fmt(r.get('tflite_max_abs_logit_diff'), '.1e')} | {_fmt(r.get('images_per_s_median'), '.0f')} | "
            f"{_fmt(r.get('train_seconds'), '.0f')} | {_fmt(r.get('wall_seconds'), '.0f')} |"
        )
    if superseded:
        lines += ["", f"Left out: {', '.join(superseded)}, unfinished attempt(s) of a config that finished in a "
                      "later job folder (stopped before its first saved epoch, so the config trained afresh)."]
    if finished_since:
        lines += ["", f"Left out from the earlier rows: {', '.join(finished_since)}, unfinished there; the same network "
                      "and seed finished in a later sweep."]
    if plot is not None:
        lines += ["", f"![test accuracy against multiply-adds]({plot.name})"]
    write_readme(path.parent, lines)


def point_label(row: dict, rows: list[dict], max_chars: int = 32) -> str:
    """A plotted point's label: the row's model label (network and overrides) if it is short and its
    network appears once; otherwise the network's name and the point id (the README table's first column)."""
    base = row["model"].split(" (")[0]
    repeated = sum(r["model"].split(" (")[0] == base for r in rows) > 1
    return row["model"] if len(row["model"]) <= max_chars and not repeated else f"{base} [{row['point']}]"


def plot_accuracy_vs_macs(rows: list[dict], path: Path, title: str) -> Path | None:
    """Test accuracy against multiply-adds per image (log scale), one labelled point per finished point,
    and the public accuracy each network is held against as a hollow marker; None if nothing finished."""
    done = [r for r in rows if r["status"] == "finished" and r.get("macs") and r.get("test_accuracy") is not None]
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from src.report.plot_labels import label_points, plain_log_x_axis

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for r in done:
        ax.scatter(r["macs"] / 1e6, r["test_accuracy"], color="C0", zorder=3)
        if r.get("public_accuracy") is not None:
            ax.scatter(r["macs"] / 1e6, r["public_accuracy"], facecolors="none", edgecolors="C3", zorder=2)
    ax.scatter([], [], color="C0", label="ours (test accuracy)")
    ax.scatter([], [], facecolors="none", edgecolors="C3", label="public table row")
    plain_log_x_axis(ax)
    ax.set_xlabel("multiply-adds per image (M)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.margins(x=0.15, y=0.08)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)
    fig.tight_layout()
    label_points(ax, [(r["macs"] / 1e6, r["test_accuracy"], point_label(r, done)) for r in done])
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dirs", type=Path, nargs="*",
                        help="Hydra sweep folder(s), e.g. multirun/<experiment>/<time> (several: one table; "
                             "none: re-render from --earlier alone)")
    parser.add_argument("--out", type=Path, required=True, help="folder for README.md and results.csv")
    parser.add_argument("--title", default=None, help="heading of README.md (default: the experiment's name)")
    parser.add_argument("--earlier", type=Path, default=None,
                        help="results.csv of an earlier report whose sweep folders are gone: its rows come first")
    args = parser.parse_args(argv)
    if not args.sweep_dirs and args.earlier is None:
        parser.error("give a sweep folder (multirun/<experiment>/<time>), or --earlier <out>/results.csv "
                     "to re-render a report from its committed rows")
    jobs, superseded = drop_superseded(unique_jobs(args.sweep_dirs))
    earlier = read_earlier_rows(args.earlier) if args.earlier else []
    # Rerunning the recorded command reads --earlier after it was written: a job listed there is read afresh.
    listed = {os.path.normpath(job_dir) for _, _, job_dir in jobs}
    earlier = [r for r in earlier if r.get("job") not in listed]
    offset = sweeps_before(earlier)

    def point_name(k: int, folder: Path) -> str:
        return folder.name if len(args.sweep_dirs) == 1 and not earlier else f"{k + offset}/{folder.name}"

    rows = []
    for k, folder, job_dir in jobs:
        row = read_point(job_dir)
        row["point"] = point_name(k, folder)
        rows.append(row)
    earlier, earlier_left_out = drop_finished_since(earlier, rows)
    rows = earlier + rows
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in COLUMNS} for r in rows)
    title = args.title or (args.sweep_dirs[0].parent.name if args.sweep_dirs else args.out.name)
    plot = plot_accuracy_vs_macs(rows, args.out / "accuracy_vs_macs.png", title)
    # The arguments to record, --out included, so that the header's command reruns as printed.
    command = " ".join([*map(str, args.sweep_dirs), *(["--earlier", str(args.earlier)] if args.earlier else []),
                        "--out", str(args.out)])
    write_markdown(rows, args.out / "README.md", title, command, plot,
                   [point_name(k, folder) for k, folder, _ in superseded], earlier_left_out,
                   from_csv_only=not args.sweep_dirs)
    finished = sum(r["status"] == "finished" for r in rows)
    print(f"{finished}/{len(rows)} points finished -> {args.out / 'README.md'}")
    return rows


if __name__ == "__main__":
    main()
