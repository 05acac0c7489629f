"""Report of an ablation sweep, to sit beside the paper's table: per point, test accuracy over seeds, the
point's parameters and multiply-adds at CPU scale and at the paper's settings, the paper's printed
figures, and a verdict per paper claim and trend with its evidence (src/report/verdict.py).

    python -m src.report.ablation multirun/shufflenet_groups/<time> --out experiments/shufflenet_groups
    python -m src.report.ablation --from-results experiments/shufflenet_groups/results.csv

The experiment is the sweep folder's parent name (or ``--experiment``); what it compares is in
src/report/ablation_specs.py. Unfinished and failed points are listed, not hidden. ``--from-results``
re-renders the claims section of a committed report from its ``results.csv`` (the job folders are not
committed); rows written before the ``seed_list`` column hold seeds 1..n in order.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from src.job_folder import read_config, read_history, read_job, read_results
from src.report.ablation_specs import SPECS, AblationSpec, Claim, TrendClaim, ablation_name, is_quick, value
from src.report.markdown import splice_section, write_readme
from src.report.stats import ALPHA, homogeneity_p, mean_std, paired, pooled, pooled_sd, trend, welch
from src.report.sweep_table import unique_jobs
from src.report.verdict import EVIDENCE_HEADER, Evidence, holm_of, p_text, pp


def read_points(sweep_dirs: list[Path]) -> list[dict[str, Any]]:
    """Every point of the sweeps: its config, results (None if unfinished), job record and folder; a
    point that continued an earlier job (resumed_in.txt) is read from that job's folder, once."""
    points = []
    for _, folder, job_dir in unique_jobs(sweep_dirs):
        cfg = read_config(job_dir, hydra_folder=folder)  # Hydra's record for a point that never started
        results = read_results(job_dir)
        job = read_job(job_dir) or {}
        points.append({"folder": str(folder), "job_dir": str(job_dir), "cfg": cfg, "results": results, "job": job})
    return points


def label(spec: AblationSpec, cfg: dict[str, Any]) -> str:
    """The point's name: its ablation_point, or key=value of the swept knobs."""
    return " ".join(str(value(cfg, key)) if key == "ablation_point" else f"{key.split('.')[-1]}={value(cfg, key)}"
                    for key in spec.label_keys)


def group_points(spec: AblationSpec, points: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """label -> {"cfg": a representative config, "acc": {seed: test accuracy}, "results": [...],
    "histories": [per-epoch columns of each finished seed's history.csv], "unfinished": [...]}."""
    groups: dict[str, dict[str, Any]] = {}
    for point in points:
        name = label(spec, point["cfg"])
        group = groups.setdefault(name, {"cfg": point["cfg"], "acc": {}, "results": [], "histories": [], "unfinished": []})
        if point["results"] is not None:
            group["acc"][point["cfg"].get("seed")] = point["results"]["test_accuracy"]
            group["results"].append(point["results"])
            history = read_history(Path(point.get("job_dir", point["folder"])))
            if history is not None:
                group["histories"].append(history)
        else:
            group["unfinished"].append(f"{point['folder']} ({point['job'].get('status', 'not started')})")
    return groups


def matches(cfg: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(value(cfg, key) == want for key, want in wanted.items())


def arm(groups: dict[str, dict[str, Any]], wanted: Mapping[str, Any]) -> str | None:
    """The one finished point matching ``wanted`` (None if none or several)."""
    found = [name for name, g in groups.items() if matches(g["cfg"], wanted) and g["acc"]]
    return found[0] if len(found) == 1 else None


def residual_variance(groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Levene's test over the points; when it does not reject one variance, the pooled residual SD."""
    accs = [list(g["acc"].values()) for g in groups.values() if len(g["acc"]) >= 2]
    p = homogeneity_p(accs)
    sd, df = pooled_sd(accs)
    return {"levene_p": p, "sd": sd, "df": df, "pool": math.isfinite(p) and p >= ALPHA and df > 0}


def judge(claim: Claim, groups: dict[str, dict[str, Any]], variance: dict[str, Any] | None = None
          ) -> tuple[str, str, Evidence | None, str]:
    """(A, B, evidence, why not judged) of a claim: paired over seeds when its arms share initial weights
    and data order; Welch when another report tests it with the same runs (so both reports give one
    result, whatever their other points); else with the pooled residual SD when Levene allows, else Welch."""
    a, b = (arm(groups, claim.better), arm(groups, claim.worse))
    if a is None or b is None:
        missing = claim.better if a is None else claim.worse
        return "–", "–", None, f"not judged: no single finished point matches {dict(missing)}"
    acc_a, acc_b = groups[a]["acc"], groups[b]["acc"]
    variance = variance or residual_variance(groups)
    if claim.paired:
        c = paired(acc_a, acc_b)
    elif variance["pool"] and not claim.shared:
        c = pooled(list(acc_a.values()), list(acc_b.values()), variance["sd"], variance["df"])
    else:
        c = welch(list(acc_a.values()), list(acc_b.values()))
    reference = statistics.fmean(acc_b.values())
    return a, b, Evidence(c, claim.kind, claim.expected.at(reference) if claim.expected else None,
                          claim.margin.at(reference) if claim.margin else None), ""


def judge_trend(t: TrendClaim, groups: dict[str, dict[str, Any]]) -> Evidence | None:
    """OLS slope of accuracy on x over every run of the trend's points (None if a point is missing)."""
    if any(not groups.get(name, {}).get("acc") for name in t.x):
        return None
    xs = [t.x[name] for name in t.x for _ in groups[name]["acc"]]
    ys = [acc for name in t.x for acc in groups[name]["acc"].values()]
    expected = t.expected.at(statistics.fmean(groups[t.reference]["acc"].values())) if t.expected else None
    fit = trend(xs, ys)
    return Evidence(fit.as_comparison(), "better", expected, unit=f"pp per unit {t.x_name}",
                    trend_x=tuple(t.x.values()), trend_sd=fit.sd)


def claims_section(spec: AblationSpec, groups: dict[str, dict[str, Any]], note: str = "") -> list[str]:
    """The claims and trends table (Holm over all of them), then each expectation's source, the pairing
    and the claims another report tests with the same runs."""
    variance = residual_variance(groups)
    rows = [(claim.text, *judge(claim, groups, variance)) for claim in spec.claims]
    rows += [(t.text, f"{t.x_name} over {', '.join(t.x)}", "", judge_trend(t, groups), "missing points")
             for t in spec.trends]
    judged = [i for i, r in enumerate(rows) if r[3] is not None]
    adjusted = dict(zip(judged, holm_of([rows[i][3] for i in judged])))
    pooled_text = (f"pooled over the points ({variance['df']} df, residual SD {pp(variance['sd'], False)} pp)"
                   if variance["pool"] else "not pooled (Welch)")
    lines = ["## The paper's claims at this scale", "",
             *([note, ""] if note else []),
             f"Two-sided tests, α = 0.05, Holm-corrected over the {len(judged)} tests of this report (raw and Holm p "
             f"side by side). Arms that share initial weights and data order per seed are compared seed by seed "
             "(paired); a claim another report shares by Welch's t-test; others by a t-test whose variance is "
             f"{pooled_text}: Levene's test of one variance over the "
             f"points gives p = {p_text(variance['levene_p'])}. MDD80: the smallest difference this design detects "
             "with 80 % power. An \"alike\" claim is tested by two one-sided tests (TOST) against its declared margin.",
             "", f"| claim | A | B | {EVIDENCE_HEADER} |", "|---|---|---|" + "---|" * (EVIDENCE_HEADER.count("|") + 1)]
    for i, (text, a, b, evidence, why) in enumerate(rows):
        if evidence is None:
            lines.append(f"| {text} | – | – |" + " – |" * (EVIDENCE_HEADER.count("|")) + f" {why} |")
        else:
            lines.append(f"| {text} | {a} | {b} | {evidence.cells(adjusted[i])} |")
    lines += ["", "Expected effects and margins (the paper's relative error reduction × this run's error of B, or of "
              "the trend's reference point):", ""]
    for claim in spec.claims:
        declared = claim.expected or claim.margin
        lines.append(f"- {claim.text}: " + (f"{'margin' if claim.margin else 'expected'} "
                                            f"{100 * declared.relative:.1f} % of the error; {declared.source}."
                                            if declared else "none declared (no paper figure read for it)."))
    for t in spec.trends:
        lines.append(f"- {t.text}: " + (f"{100 * t.expected.relative:.1f} % of {t.reference}'s error over "
                                        f"{t.expected.per:.2f} units of {t.x_name}; {t.expected.source}."
                                        if t.expected else "none declared."))
    reasons: dict[str, list[str]] = {}
    for c in spec.claims:
        if c.paired:
            reasons.setdefault(c.paired, []).append(c.text.split(":")[0].split(" (")[0])
    for reason, names in reasons.items():
        lines += ["", f"Paired ({reason}): {'; '.join(names)}."]
    for claim in spec.claims:
        if claim.shared:
            lines += ["", f"**One result, two reports.** \"{claim.text}\" is tested by the same runs in {claim.shared}; "
                      "both reports show this one result, not two independent ones."]
    return lines


def paper_counts(spec: AblationSpec, cfg: dict[str, Any]) -> tuple[int, int]:
    """(trainable parameters, multiply-adds) of the network the point stands for at the paper's settings."""
    from src.models import build_model
    from src.profiling import count_macs, count_params

    net = spec.paper_network(cfg)
    model = build_model(net.model, input_shape=net.input_shape, classes=net.classes, **net.knobs)
    return count_params(model).trainable, count_macs(model).total


#: result key -> (x-axis label, scale) of the accuracy plots.
PLOT_AXES = {"macs": ("multiply-adds per image at the run's input (M)", 1e6),
             "params_trainable": ("trainable parameters at the run's input (M)", 1e6)}


def plot(groups: dict[str, dict[str, Any]], path: Path, title: str, x_key: str = "macs") -> Path | None:
    """Test accuracy (mean ± std over seeds) of every finished point against ``x_key`` (`PLOT_AXES`)."""
    done = {k: g for k, g in groups.items() if g["acc"] and g["results"]}
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from src.report.plot_labels import label_points

    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    labels = []
    for name, g in done.items():
        accs = list(g["acc"].values())
        x = g["results"][0][x_key] / PLOT_AXES[x_key][1]
        ax.errorbar(x, statistics.fmean(accs), yerr=statistics.stdev(accs) if len(accs) > 1 else 0, marker="o",
                    capsize=3, color="C0")
        labels.append((x, statistics.fmean(accs), name))
    ax.set_xlabel(PLOT_AXES[x_key][0])
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    ax.set_title(title, fontsize=10)
    ax.ticklabel_format(axis="x", useOffset=False)  # points a few MACs apart: plain values, not "+3.08e1"
    ax.margins(x=0.12)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    label_points(ax, labels, fontsize=7)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_curves(groups: dict[str, dict[str, Any]], path: Path, title: str) -> Path | None:
    """Per point, validation accuracy and training loss per epoch: the mean over seeds, shaded from the
    lowest to the highest seed."""
    done = {k: g for k, g in groups.items() if g["histories"]}
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = plt.get_cmap("tab10" if len(done) <= 10 else "tab20")
    for i, (name, g) in enumerate(done.items()):
        for ax, key in zip(axes, ("val_accuracy", "loss")):
            runs = [h[key] for h in g["histories"] if h.get(key)]
            epochs = min((len(r) for r in runs), default=0)
            if not epochs:
                continue
            columns = [[r[e] for r in runs] for e in range(epochs)]
            xs = list(range(1, epochs + 1))
            ax.plot(xs, [statistics.fmean(c) for c in columns], "-o", ms=3, color=colours(i), label=name)
            ax.fill_between(xs, [min(c) for c in columns], [max(c) for c in columns], color=colours(i), alpha=0.15)
    from matplotlib.ticker import MaxNLocator

    for ax, text in zip(axes, ("validation accuracy", "training loss (cross-entropy)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(text)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{title}\nmean over seeds, shaded from the lowest to the highest seed", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(experiment: str, sweep_dirs: list[Path], out: Path, command: str | None = None) -> str:
    if ablation_name(experiment) not in SPECS:
        raise SystemExit(f"error: no ablation spec for {experiment!r}; known: {', '.join(SPECS)} (src/report/ablation_specs.py)")
    spec = SPECS[ablation_name(experiment)]
    points = read_points(sweep_dirs)
    groups = group_points(spec, points)
    out.mkdir(parents=True, exist_ok=True)
    figure_keys = sorted({k for g in groups.values() for k in spec.paper_figures(g["cfg"])})
    commits = sorted({p["job"].get("git_commit", "unknown")[:10] for p in points if p["results"]})
    finished = [p for p in points if p["results"]]
    lines = [
        f"# {spec.title} (experiment {experiment})", "",
        f"Paper: {spec.source}.  ",
        f"Command: `{command or f'python -m src.run experiment={experiment}'}`  ",
        f"Report: `python -m src.report.ablation {' '.join(map(str, sweep_dirs))} --out {out}`  ",
        f"Runs: {len(finished)} of {len(points)} points finished, commit(s) {', '.join(commits) or '–'}; summed job wall "
        f"time {sum(p['results'].get('wall_seconds', 0) for p in finished) / 60:.1f} min.", "",
        *([f"**Quick look**: `experiment={experiment}` is the short-budget variant of `{ablation_name(experiment)}`, "
           "for a first look in about 45 minutes. Its networks are still in early learning and its seeds are too few "
           "for the claims' effects, so it cannot decide them: read the verdicts below as what this look shows, and run "
           f"`python -m src.run experiment={ablation_name(experiment)}` to decide.", ""] if is_quick(experiment) else []),
        "Accuracy is Fashion-MNIST test accuracy at CPU scale (the experiment file states the recipe); parameters "
        "and multiply-adds are given for the run's network and for the network the point stands for at the "
        "paper's settings, beside the paper's printed figures.", "",
        "| point | seeds | test accuracy | params (run) | MACs (run) | params (paper setting) | MACs (paper setting) |"
        + "".join(f" {key} |" for key in figure_keys),
        "|---|---|---|---|---|---|---|" + "---|" * len(figure_keys),
    ]
    rows = []
    for name, g in groups.items():
        params, macs = paper_counts(spec, g["cfg"])
        run = g["results"][0] if g["results"] else {}
        figures = spec.paper_figures(g["cfg"])
        accs = [g["acc"][s] for s in sorted(g["acc"], key=str)]
        run_params = f"{run['params_trainable'] / 1e6:.3f} M" if run else "–"
        run_macs = f"{run['macs'] / 1e6:.2f} M" if run else "–"
        lines.append(
            f"| {name} | {len(accs)} | {mean_std(accs)} | {run_params} | {run_macs} | {params / 1e6:.3f} M | {macs / 1e6:.1f} M |"
            + "".join(f" {figures.get(k, '–')} |" for k in figure_keys)
        )
        rows.append({"point": name, "seeds": len(accs), "accuracies": json.dumps(accs),
                     "seed_list": json.dumps(sorted(g["acc"], key=str)),
                     "mean": statistics.fmean(accs) if accs else None,
                     "std": statistics.stdev(accs) if len(accs) > 1 else None,
                     "params_run": run.get("params_trainable"), "macs_run": run.get("macs"),
                     "params_paper_setting": params, "macs_paper_setting": macs, **figures})
    lines += ["", *claims_section(spec, groups)]
    unfinished = [u for g in groups.values() for u in g["unfinished"]]
    if unfinished:
        lines += ["", "## Unfinished points", ""] + [f"- {u}" for u in unfinished]
    for figure, alt in ((plot(groups, out / "accuracy_vs_macs.png", spec.title), "test accuracy against multiply-adds"),
                        (plot(groups, out / "accuracy_vs_params.png", spec.title, "params_trainable"),
                         "test accuracy against parameters"),
                        (plot_curves(groups, out / "training_curves.png", spec.title), "training curves per point")):
        if figure:
            lines += ["", f"![{alt}]({figure.name})"]
    text = write_readme(out, lines)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return text


def groups_from_results(spec: AblationSpec, path: Path) -> dict[str, dict[str, Any]]:
    """The points of a committed report's ``results.csv``: label -> {"cfg": the label's config values,
    "acc": {seed: test accuracy}} (seeds 1..n where the file predates its ``seed_list`` column)."""
    if not path.exists():
        raise SystemExit(f"error: --from-results {path}: no such file; give a report's results.csv")
    groups = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            accs = json.loads(row["accuracies"])
            seeds = json.loads(row["seed_list"]) if row.get("seed_list") else list(range(1, len(accs) + 1))
            cfg: dict[str, Any] = {}
            for key, part in zip(spec.label_keys, row["point"].split(" ")):
                node = cfg
                *parents, leaf = key.split(".")
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[leaf] = part.split("=", 1)[1] if key != "ablation_point" else part
            groups[row["point"]] = {"cfg": cfg, "acc": dict(zip(seeds, accs))}
    return groups


def rerender(experiment: str, results: Path) -> str:
    """Re-render the claims section of ``results``' README from ``results`` (no job folder needed)."""
    spec = SPECS[experiment]
    note = (f"Re-rendered from this folder's `results.csv` by `python -m src.report.ablation --from-results "
            f"experiments/{experiment}/results.csv`: the runs above, judged by the rules of src/report/verdict.py. "
            "The notes below keep the verdict wording of the earlier per-claim t-tests.")
    return splice_section(results.parent, "## The paper's claims at this scale", claims_section(
        spec, groups_from_results(spec, results), note))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dirs", nargs="*", type=Path, help="sweep folders, e.g. multirun/shufflenet_groups/<time>")
    parser.add_argument("--out", type=Path, help="report folder (with sweep folders)")
    parser.add_argument("--experiment", help="the ablation's name (default: the first sweep folder's parent name, "
                                             "or the --from-results file's folder name)")
    parser.add_argument("--command", help="the command that ran the sweep, if not the experiment's default")
    parser.add_argument("--from-results", type=Path, help="re-render the claims of a report from its results.csv")
    args = parser.parse_args(argv)
    if args.from_results:
        experiment = ablation_name(args.experiment or args.from_results.resolve().parent.name)
        if experiment not in SPECS:
            raise SystemExit(f"error: no ablation spec for {experiment!r}; known: {', '.join(SPECS)}")
        print(rerender(experiment, args.from_results))
        return
    if not args.sweep_dirs or args.out is None:
        parser.error("give sweep folders and --out, or --from-results <report>/results.csv")
    print(write_report(args.experiment or args.sweep_dirs[0].resolve().parent.name, args.sweep_dirs, args.out,
                       args.command))


if __name__ == "__main__":
    main()
