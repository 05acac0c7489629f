"""Report of a DSD sweep (Han et al., ICLR 2017): test accuracy after each phase (mean ± std over seeds),
DSD against the equally long dense baseline (paired t-test: one dense model per seed feeds both; the
verdict with its evidence, src/report/verdict.py), and a plot of every seed through the phases.

    python -m src.report.dsd multirun/dsd/<time> [more folders] --out experiments/dsd
    python -m src.report.dsd --from-results experiments/dsd/results.csv

Reads every job folder's ``results.json`` (src/compress/dsd.py), so an interrupted sweep reports what
finished.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from src.atomic_files import write_rows
from src.report.job_results import read_jobs, report_main
from src.report.markdown import splice_section, write_readme
from src.report.stats import mean_std, paired
from src.report.verdict import EVIDENCE_HEADER, Evidence, Expectation, holm_of

#: The phases in the order the plot draws them: the shared dense start, then each branch.
DSD_PATH = ("dense", "sparse", "redense")
BASELINE_PATH = ("dense", "continued", "continued_low")
CLAIM = "DSD (dense → sparse → re-dense) beats equally long dense training"
#: The smallest relative gain the DSD model zoo lists, so "ruled out" is said against the mildest claim.
EXPECTED = Expectation(30.02, 31.14, "DSD model zoo (the authors' repository README), GoogLeNet: 31.14 → 30.02 % "
                                     "top-1 error, the smallest relative gain it lists")
PAPERS = ("The papers, on ImageNet: the DSD model zoo gives SqueezeNet 42.56 → 38.24 % top-1 error (+4.3 pp "
          "accuracy); the DSD paper's abstract GoogLeNet +1.1, VGG-16 +4.3, ResNet-18 +1.2, ResNet-50 +1.1 pp.")


def claim_section(dsd: dict[int, float], baseline: dict[int, float], note: str = "") -> list[str]:
    """The claim's row with its evidence (a family of one: Holm p = p)."""
    evidence = Evidence(paired(dsd, baseline), expected=EXPECTED.at(sum(baseline.values()) / len(baseline)))
    return ["## The claim (paired over seeds: one dense model per seed feeds both arms)", "",
            *([note, ""] if note else []),
            f"| claim | {EVIDENCE_HEADER} |", "|---|" + "---|" * (EVIDENCE_HEADER.count("|") + 1),
            f"| {CLAIM} | {evidence.cells(holm_of([evidence])[0])} |", "",
            f"Expected at this scale: {100 * EXPECTED.relative:.1f} % of the baseline's error; {EXPECTED.source}. "
            "MDD80: the smallest difference this design detects with 80 % power.", "", PAPERS]


def rerender(results: Path) -> str:
    """Re-render the claim of ``results``' README from its per-seed rows."""
    with results.open() as f:
        rows = list(csv.DictReader(f))
    dsd = {int(r["seed"]): float(r["redense_test_accuracy"]) for r in rows}
    baseline = {int(r["seed"]): float(r["continued_low_test_accuracy"]) for r in rows}
    note = ("Re-rendered from this folder's `results.csv` by `python -m src.report.dsd --from-results "
            "experiments/dsd/results.csv` with the rules of src/report/verdict.py; the notes below keep the "
            "earlier t-test's wording.")
    return splice_section(results.parent, "## The claim", claim_section(dsd, baseline, note))


def plot_phases(jobs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for job in jobs:
        for stages, colour, label in ((DSD_PATH, "tab:red", "DSD"), (BASELINE_PATH, "tab:blue", "dense baseline")):
            ys = [100 * job["stages"][s]["test_accuracy"] for s in stages]
            ax.plot(range(3), ys, "o-", color=colour, alpha=0.7, label=label if job is jobs[0] else None)
    ax.set_xticks(range(3), ["dense", "sparse / continued", "re-dense / continued (low lr)"])
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"DSD vs dense training, {len(jobs)} seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(folders: list[Path], out: Path, command: str | None = None) -> str:
    jobs = read_jobs(folders, "dsd_gain")
    if not jobs:
        raise SystemExit(f"no finished DSD job (results.json with dsd_gain) under {', '.join(map(str, folders))}")
    out.mkdir(parents=True, exist_ok=True)
    write_rows([{"seed": j["seed"], "model": j["model"], "sparsity": j["sparsity"],
                 **{f"{s}_test_accuracy": j["stages"][s]["test_accuracy"] for s in j["stages"]},
                 **{f"{s}_kernel_sparsity": j["stages"][s]["kernel_sparsity"] for s in j["stages"]},
                 "dsd_gain": j["dsd_gain"], "folder": j["folder"]} for j in jobs], out / "results.csv")
    plot_phases(jobs, out / "phases.png")
    first = jobs[0]
    commits = sorted({j.get("git_commit", "unknown")[:10] for j in jobs})
    lines = [
        "# DSD: Dense-Sparse-Dense training (experiment dsd)", "",
        f"Command: `{command or 'python -m src.run experiment=dsd'}`  ",
        f"Report: `python -m src.report.dsd {' '.join(map(str, folders))} --out {out}`  ",
        f"Commit(s) of the runs: {', '.join(commits)}; jobs: {len(jobs)} (seeds {sorted(j['seed'] for j in jobs)}); "
        f"summed job wall time {sum(j.get('wall_seconds', 0.0) for j in jobs) / 60:.1f} min.", "",
        f"Model `{first['model']}`; epochs dense {first['epochs']['dense']}, sparse {first['epochs']['sparse']} "
        f"(every conv/dense kernel pruned by magnitude to {first['sparsity']:.0%}, mask fixed), re-dense "
        f"{first['epochs']['redense']} (mask removed, lower learning rate). The baseline continues the same dense "
        "model through the same phases without a mask. Test accuracy on the 10,000 test images.", "",
        "| phase | test accuracy (mean ± std) | zero weights in the kernels |", "|---|---|---|",
    ]
    for stage in ("dense", "sparse", "redense", "continued", "continued_low"):
        accs = [j["stages"][stage]["test_accuracy"] for j in jobs]
        zeros = [j["stages"][stage]["kernel_sparsity"] for j in jobs]
        lines.append(f"| {stage} | {mean_std(accs)} | {sum(zeros) / len(zeros):.1%} |")
    lines += ["", *claim_section({j["seed"]: j["dsd_test_accuracy"] for j in jobs},
                                 {j["seed"]: j["baseline_test_accuracy"] for j in jobs}), "",
              "![every seed through the phases](phases.png)", "", "Per-seed rows: `results.csv`."]
    return write_readme(out, lines)


def main(argv: list[str] | None = None) -> None:
    report_main(__doc__, "dsd", write_report, argv, rerender)


if __name__ == "__main__":
    main()
