"""Report of a data-distillation sweep: accuracy per labelled fraction and method (mean ± std over seeds),
paired tests of the claims, pseudo-label quality, and two plots.

    python -m src.report.distillation multirun/data_distillation/<time> [more folders] --out experiments/data_distillation

Reads every job folder's ``results.json`` and ``threshold_curve.csv`` (src/distill/job.py), so an
interrupted sweep reports what finished. Seeds pair the methods (one labelled part and one teacher per
seed), so claims are judged by a paired t-test over seeds, Holm-corrected over all claims of the report,
with the verdicts and evidence of src/report/verdict.py. ``--from-results experiments/data_distillation/
results.csv`` re-renders the claims of the committed report.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from src.report.job_results import read_jobs, report_main
from src.report.markdown import splice_section, write_readme
from src.report.stats import mean_std, paired
from src.report.verdict import EVIDENCE_HEADER, Evidence, holm_of

BASELINE = "baseline"

#: (claim, method A, method B): "A beats B" is tested per labelled fraction, when both ran.
CLAIMS = [
    ("multi-transform inference beats single-transform inference (students, heuristic threshold)",
     "multi_heuristic", "single_heuristic"),
    ("the student beats the supervised baseline (multi-transform, heuristic)", "multi_heuristic", BASELINE),
    ("the student beats the supervised baseline (single-transform, heuristic)", "single_heuristic", BASELINE),
    ("the class-proportional heuristic beats the fixed threshold (multi-transform)", "multi_heuristic", "multi_fixed"),
    ("the paper's rescaling transforms beat the training-time ones (flip + shifts)", "multi_scale_heuristic",
     "multi_heuristic"),
]


#: No classification effect to expect: the paper reports keypoint and detection AP on COCO only.
NO_EXPECTATION = ("No effect is declared for these claims: Data Distillation (Radosavovic et al. 2018) reports "
                  "keypoint and box AP gains on COCO only, which do not scale to a classification accuracy, so a "
                  "verdict here is reproduced, opposite or inconclusive.")


def claims_section(table: dict[float, dict[str, dict[int, float]]], note: str = "") -> list[str]:
    """Every claim at every labelled fraction where both methods ran: paired, Holm over them all."""
    rows = [(claim, fraction, Evidence(paired(table[fraction][a], table[fraction][b])))
            for claim, a, b in CLAIMS for fraction in sorted(table) if a in table[fraction] and b in table[fraction]]
    adjusted = holm_of([e for _, _, e in rows])
    lines = ["## The claims, per labelled fraction (paired over seeds, Holm over the report)", "",
             *([note, ""] if note else []),
             f"Paired t-tests over seeds (one labelled part and one teacher per seed), two-sided, α = 0.05, Holm-"
             f"corrected over the {len(rows)} tests. MDD80: the smallest difference this design detects with 80 % "
             "power. " + NO_EXPECTATION, "",
             f"| claim | labelled | {EVIDENCE_HEADER} |", "|---|---|" + "---|" * (EVIDENCE_HEADER.count("|") + 1)]
    lines += [f"| {claim} | {100 * fraction:g} % | {e.cells(q)} |" for (claim, fraction, e), q in zip(rows, adjusted)]
    return lines


def table_from_results(results: Path) -> dict[float, dict[str, dict[int, float]]]:
    """fraction -> method -> seed -> test accuracy, from a committed report's results.csv."""
    table: dict[float, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    with results.open() as f:
        for row in csv.DictReader(f):
            if row["test_accuracy"] not in ("", "None"):
                table[float(row["labelled_fraction"])][row["method"]][int(row["seed"])] = float(row["test_accuracy"])
    return table


def rerender(results: Path) -> str:
    note = ("Re-rendered from this folder's `results.csv` by `python -m src.report.distillation --from-results "
            "experiments/data_distillation/results.csv` with the rules of src/report/verdict.py; the notes below "
            "keep the earlier t-tests' wording.")
    return splice_section(results.parent, "## The claims, per labelled fraction", claims_section(
        table_from_results(results), note))


def accuracy_table(jobs: list[dict[str, Any]]) -> dict[float, dict[str, dict[int, float]]]:
    """fraction -> method -> seed -> test accuracy (methods: baseline and every student that trained)."""
    table: dict[float, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for job in jobs:
        row = table[job["labelled_fraction"]]
        row[BASELINE][job["seed"]] = job["baseline"]["test_accuracy"]
        for name, student in job["students"].items():
            if student["test_accuracy"] is not None:
                row[name][job["seed"]] = student["test_accuracy"]
    return table


def pseudo_summary(jobs: list[dict[str, Any]]) -> dict[tuple[float, str], dict[str, float]]:
    """(fraction, student) -> mean pseudo-label count, coverage and precision over seeds."""
    values: dict[tuple[float, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for job in jobs:
        for name, student in job["students"].items():
            for key in ("pseudo_count", "pseudo_coverage", "pseudo_precision"):
                if student.get(key) is not None:
                    values[(job["labelled_fraction"], name)][key].append(float(student[key]))
    return {k: {q: statistics.fmean(v) for q, v in d.items()} for k, d in values.items()}


def write_results_csv(jobs: list[dict[str, Any]], path: Path) -> None:
    fields = ["labelled_fraction", "seed", "method", "test_accuracy", "gain_vs_baseline", "pseudo_count",
              "pseudo_coverage", "pseudo_precision", "transforms", "threshold", "folder"]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for job in sorted(jobs, key=lambda j: (j["labelled_fraction"], j["seed"])):
            base = {"labelled_fraction": job["labelled_fraction"], "seed": job["seed"], "folder": job["folder"]}
            writer.writerow({**base, "method": BASELINE, "test_accuracy": job["baseline"]["test_accuracy"]})
            for name, student in job["students"].items():
                writer.writerow({**base, "method": name, **{k: student.get(k) for k in fields if k in student}})


def plot_accuracy(table, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = sorted(table)
    methods = sorted({m for row in table.values() for m in row}, key=lambda m: (m != BASELINE, m))
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, method in enumerate(methods):
        xs, ys, es = [], [], []
        for f in fractions:
            accs = list(table[f].get(method, {}).values())
            if accs:
                xs.append(100 * f * (1 + 0.015 * (k - len(methods) / 2)))  # small offsets keep error bars apart
                ys.append(statistics.fmean(accs))
                es.append(statistics.stdev(accs) if len(accs) > 1 else 0.0)
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=method, linestyle="--" if method == BASELINE else "-")
    ax.set_xlabel("labelled part of the training split (%)")
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    ax.set_xticks([100 * f for f in fractions])
    ax.set_title("Data distillation on Fashion-MNIST")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def read_curves(jobs: list[dict[str, Any]]) -> dict[tuple[float, str], dict[float, tuple[list[float], list[float]]]]:
    """(fraction, transform set) -> threshold -> (coverages, precisions) over seeds."""
    curves: dict = defaultdict(lambda: defaultdict(lambda: ([], [])))
    for job in jobs:
        path = Path(job["folder"]) / "threshold_curve.csv"
        if not path.exists():
            continue
        with path.open() as f:
            for row in csv.DictReader(f):
                if row["precision"] not in ("", "nan"):
                    cov, prec = curves[(job["labelled_fraction"], row["transforms"])][float(row["threshold"])]
                    cov.append(float(row["coverage"]))
                    prec.append(float(row["precision"]))
    return curves


def plot_threshold_curves(curves, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_p, ax_c) = plt.subplots(1, 2, figsize=(10, 4))
    for (fraction, transforms), points in sorted(curves.items()):
        ts = sorted(points)
        label = f"{100 * fraction:g} % labelled, {transforms}"
        ax_p.plot(ts, [statistics.fmean(points[t][1]) for t in ts], marker=".", label=label)
        ax_c.plot(ts, [statistics.fmean(points[t][0]) for t in ts], marker=".", label=label)
    ax_p.set(xlabel="score threshold", ylabel="pseudo-label precision (hidden labels)", title="precision vs threshold")
    ax_c.set(xlabel="score threshold", ylabel="coverage of the unlabelled part", title="coverage vs threshold")
    for ax in (ax_p, ax_c):
        ax.grid(alpha=0.3)
    ax_p.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(folders: list[Path], out: Path, command: str | None = None) -> str:
    jobs = read_jobs(folders, "students")
    if not jobs:
        raise SystemExit(f"no finished distillation job (results.json with students) under {', '.join(map(str, folders))}")
    out.mkdir(parents=True, exist_ok=True)
    table = accuracy_table(jobs)
    write_results_csv(jobs, out / "results.csv")
    plot_accuracy(table, out / "accuracy_vs_labelled_fraction.png")
    plot_threshold_curves(read_curves(jobs), out / "precision_vs_threshold.png")
    pseudo = pseudo_summary(jobs)

    commits = sorted({j.get("git_commit", "unknown")[:10] for j in jobs})
    seeds = sorted({j["seed"] for j in jobs})
    lines = [
        "# Data distillation on Fashion-MNIST (experiment data_distillation)", "",
        f"Command: `{command or 'python -m src.run experiment=data_distillation'}`  ",
        f"Report: `python -m src.report.distillation {' '.join(map(str, folders))} --out {out}`  ",
        f"Commit(s) of the runs: {', '.join(commits)}; jobs: {len(jobs)} (seeds {seeds}); "
        f"summed job wall time {sum(j.get('wall_seconds', 0.0) for j in jobs) / 60:.1f} min.", "",
        "Each job: a teacher (the supervised baseline) trained on a stratified labelled part, pseudo-labels for the "
        "rest of the training split, and students retrained from scratch on labelled + pseudo-labelled images "
        "(6:4 per batch), each for as many SGD steps as its teacher. Test accuracy on the 10,000 test images.", "",
        "## Test accuracy (mean ± std over seeds)", "",
        "| labelled | method | test accuracy | Δ vs baseline (paired, mean ± std) | paired p | pseudo-labels | coverage | precision |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fraction in sorted(table):
        row = table[fraction]
        for method in sorted(row, key=lambda m: (m != BASELINE, m)):
            accs = [row[method][s] for s in sorted(row[method])]
            if method == BASELINE:
                delta = p_text = "–"
            else:
                c = paired(row[method], row[BASELINE])
                mean, std, p = c.mean_diff, c.sd, c.p
                delta = f"{100 * mean:+.2f} ± {100 * std:.2f} pp" if math.isfinite(std) else f"{100 * mean:+.2f} pp"
                p_text = f"{p:.3f}" if math.isfinite(p) else "–"
            stats = pseudo.get((fraction, method), {})
            lines.append(
                f"| {100 * fraction:g} % | {method} | {mean_std(accs)} | {delta} | {p_text} | "
                + (f"{stats['pseudo_count']:,.0f} | {stats['pseudo_coverage']:.3f} | {stats.get('pseudo_precision', math.nan):.4f} |"
                   if stats else "– | – | – |")
            )
    lines += ["", *claims_section(table)]
    lines += ["", "![test accuracy against the labelled fraction](accuracy_vs_labelled_fraction.png)", "",
              "![pseudo-label precision and coverage against the score threshold](precision_vs_threshold.png)", "",
              "Per-point rows: `results.csv`; per-class pseudo-label counts, precision and recall: each job's "
              "`pseudo_labels.csv` (and its MLflow run)."]
    text = write_readme(out, lines)
    return text


def main(argv: list[str] | None = None) -> None:
    report_main(__doc__, "data_distillation", write_report, argv, rerender)


if __name__ == "__main__":
    main()
