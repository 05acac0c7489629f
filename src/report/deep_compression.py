"""Report of a Deep Compression sweep (Han et al., ICLR 2016): per network, accuracy after each stage and
compression ratios (mean ± std over seeds) beside the paper's Table 1 figures, and a plot. A network
compressed with settings other than its own ``conf/compress/<model>.yaml`` gets rows of its own, named
``<model> (<settings file's stem>)``.

    python -m src.report.deep_compression multirun/deep_compression/<time> [more folders] --out experiments/deep_compression

    python -m src.report.deep_compression --from-results experiments/deep_compression/results.csv

Reads every job folder's ``results.json`` (src/compress/job.py); ``--from-results`` re-renders the claim
of the committed report from its per-seed rows. The claim, "compression keeps the accuracy", is tested
per network by two one-sided tests against a declared margin, paired per seed (each seed compresses its
own dense network), Holm over the networks (src/report/verdict.py).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from src.atomic_files import write_rows
from src.compress.storage import LayerStorage, table
from src.report.job_results import read_jobs, report_main
from src.report.markdown import splice_section, write_readme
from src.report.stats import mean_std, paired
from src.report.verdict import EVIDENCE_HEADER, Evidence, holm_of

#: The paper's Table 1 / Tables 2-3: (P+Q ratio, P+Q+H ratio, error before → after, on MNIST).
PAPER = {"lenet_300_100": (32, 40, "1.64 % → 1.58 %"), "lenet5": (33, 39, "0.80 % → 0.74 %"),
         "squeezenet1_1": (None, None, "SqueezeNet paper: 33 % kept, 8-bit 0.66 MB (363×), 6-bit 0.47 MB (510×) vs AlexNet")}


CLAIM = "pruning + quantisation (+ Huffman) keeps the dense network's accuracy"
#: The equivalence margin (accuracy, as a fraction): declared here, as the paper states no tolerance.
MARGIN = 0.005
MARGIN_SOURCE = ("declared here: a loss under half a point counts as none. The paper states no tolerance; its "
                 "Table 1 changes are all gains of 0.00–0.33 pp (LeNet-300-100 1.64 → 1.58 %, VGG-16 31.50 → 31.17 %)")


def claim_section(pairs: dict[str, tuple[dict[int, float], dict[int, float]]], note: str = "") -> list[str]:
    """Per network (variant): compressed − dense, paired per seed, TOST against ±MARGIN, Holm over them."""
    evidence = [(name, Evidence(paired(compressed, dense), "similar", margin=MARGIN))
                for name, (compressed, dense) in sorted(pairs.items())]
    adjusted = holm_of([e for _, e in evidence])
    return ["## The claim: compression keeps the accuracy (paired per seed, TOST, Holm over the networks)", "",
            *([note, ""] if note else []),
            f"A = compressed (pruned, quantised; Huffman is lossless), B = its own dense network, per seed. Margin "
            f"±{100 * MARGIN:.1f} pp, {MARGIN_SOURCE}. MDD80: the smallest difference this design detects with 80 % "
            "power.", "",
            f"| claim | network | {EVIDENCE_HEADER} |", "|---|---|" + "---|" * (EVIDENCE_HEADER.count("|") + 1),
            *[f"| {CLAIM} | {name} | {e.cells(q)} |" for (name, e), q in zip(evidence, adjusted)]]


def _pairs(rows: list[dict[str, Any]]) -> dict[str, tuple[dict[int, float], dict[int, float]]]:
    pairs: dict[str, tuple[dict[int, float], dict[int, float]]] = defaultdict(lambda: ({}, {}))
    for row in rows:
        compressed, dense = pairs[variant(row)]
        compressed[int(row["seed"])] = float(row["quantised_accuracy"])
        dense[int(row["seed"])] = float(row["dense_accuracy"])
    return pairs


def rerender(results: Path) -> str:
    with results.open() as f:
        rows = list(csv.DictReader(f))
    note = ("Re-rendered from this folder's `results.csv` by `python -m src.report.deep_compression --from-results "
            "experiments/deep_compression/results.csv` (the runs of the tables above).")
    return splice_section(results.parent, "## The claim", claim_section(_pairs(rows), note))


def variant(job: dict[str, Any]) -> str:
    """The row a job belongs to: its network, plus its settings file's stem where that is not the network's
    own (``lenet_300_100 (lenet_300_100_ip1_10pct)``)."""
    stem = Path(str(job.get("settings", job["model"]))).stem
    return job["model"] if stem == job["model"] else f"{job['model']} ({stem})"


def plot(by_model: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for model, jobs in sorted(by_model.items()):
        dense = [100 * j["dense_accuracy"] for j in jobs]
        ax.scatter([1] * len(jobs), dense, marker="o", label=f"{model} dense")
        ax.scatter([j["ratio_pq"] for j in jobs], [100 * j["quantised_accuracy"] for j in jobs], marker="s",
                   label=f"{model} pruned + quantised")
        ax.scatter([j["ratio_pqh"] for j in jobs], [100 * j["quantised_accuracy"] for j in jobs], marker="^",
                   label=f"{model} + Huffman")
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (dense fp32 weights / stored bits)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(folders: list[Path], out: Path, command: str | None = None) -> str:
    jobs = read_jobs(folders, "ratio_pqh")
    if not jobs:
        raise SystemExit(f"no finished Deep Compression job (results.json with ratio_pqh) under {', '.join(map(str, folders))}")
    out.mkdir(parents=True, exist_ok=True)
    write_rows([{k: v for k, v in j.items() if not isinstance(v, (dict, list))} for j in jobs], out / "results.csv")
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs:
        by_model[variant(job)].append(job)
    plot(by_model, out / "accuracy_vs_ratio.png")
    commits = sorted({j.get("git_commit", "unknown")[:10] for j in jobs})
    lines = [
        "# Deep Compression on Fashion-MNIST (experiment deep_compression)", "",
        f"Command: `{command or 'python -m src.run experiment=deep_compression'}`  ",
        f"Report: `python -m src.report.deep_compression {' '.join(map(str, folders))} --out {out}`  ",
        f"Commit(s) of the runs: {', '.join(commits)}; jobs: {len(jobs)}; summed job wall time "
        f"{sum(j.get('wall_seconds', 0.0) for j in jobs) / 60:.1f} min.", "",
        "Each seed trains its own base network and compresses it (prune → retrain → weight sharing with linear "
        "centroid initialisation → centroid retraining → Huffman coding of weight indices and gaps). Storage "
        "counts the weight layers' kernels (biases stay fp32). Test accuracy on the 10,000 test images.", "",
        "| network | seeds | dense | pruned + retrained | + quantised (+ Huffman: lossless) | Δ (pp) | kept | ratio P+Q | ratio P+Q+H | paper P+Q / P+Q+H (MNIST) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, group in sorted(by_model.items()):
        pq, pqh, _ = PAPER.get(group[0]["model"], (None, None, ""))
        paper = f"{pq}× / {pqh}×" if pq else "–"
        drops = [-100 * j["accuracy_drop"] for j in group]
        lines.append(
            f"| {model} | {len(group)} | {mean_std([j['dense_accuracy'] for j in group])} | "
            f"{mean_std([j['pruned_accuracy'] for j in group])} | {mean_std([j['quantised_accuracy'] for j in group])} | "
            f"{mean_std(drops, 2)} | {statistics.fmean(j['kept_fraction'] for j in group):.1%} | "
            f"{mean_std([j['ratio_pq'] for j in group], 1)}× | {mean_std([j['ratio_pqh'] for j in group], 1)}× | {paper} |")
    lines += ["", "Per seed:", "", "| network | seed | dense | compressed | Δ (pp) | P+Q | P+Q+H |", "|---|---|---|---|---|---|---|"]
    for job in sorted(jobs, key=lambda j: (variant(j), j["seed"])):
        lines.append(f"| {variant(job)} | {job['seed']} | {job['dense_accuracy']:.4f} | {job['quantised_accuracy']:.4f} | "
                     f"{-100 * job['accuracy_drop']:+.2f} | {job['ratio_pq']:.1f}× | {job['ratio_pqh']:.1f}× |")
    lines += ["", "The paper (Table 1, on MNIST): " + "; ".join(f"{m}: {e}" for m, (_, _, e) in PAPER.items() if m in {j["model"] for j in jobs}),
              "", *claim_section(_pairs(jobs)), "", "![accuracy against compression ratio](accuracy_vs_ratio.png)", ""]
    for model, group in sorted(by_model.items()):
        first = min(group, key=lambda j: j["seed"])
        table = per_layer_table(Path(first["folder"]))
        if table:
            lines += [f"### {model}, seed {first['seed']}: storage per layer (Table 4 layout)", "", *table, ""]
    lines += ["Every job's own table: its `compressed/README.md`."]
    return write_readme(out, lines)


def per_layer_table(job: Path) -> list[str]:
    """The per-layer storage table (Table 4 layout) of a job's ``compressed/report.json``
    (src/compress/run.py), rendered with src.compress.storage.table; [] if absent."""
    path = job / "compressed" / "report.json"
    if not path.exists():
        return []
    layers = json.loads(path.read_text())["storage"]["layers"]
    try:
        rows = [LayerStorage(name=name, **fields) for name, fields in layers.items()]
    except TypeError as exc:  # a report.json written before every field was stored
        raise ValueError(f"{path}: per-layer storage lacks fields ({exc}); re-run the compression job "
                         f"(python -m src.compress.run) to rewrite it") from exc
    return table(rows).splitlines()


def main(argv: list[str] | None = None) -> None:
    report_main(__doc__, "deep_compression", write_report, argv, rerender)


if __name__ == "__main__":
    main()
