"""Seeds for 80 % power: per claim and trend of an ablation, the seed SD its committed runs show, the
smallest difference its present design detects (MDD80), the effect it expects at this scale (or its
margin) and the seeds per point that 80 % power at that effect needs; then the experiment's seed count
(the largest over its claims) and what that costs at the runs' measured job time.

    python -m src.report.power shufflenet_groups            # its committed experiments/<name>/results.csv
    python -m src.report.power multirun/se_placement/<time> # a finished sweep
    python -m src.report.power all --out experiments/ablation_power   # the five ablations, as a report
    python -m src.report.power se_placement --accuracy 0.91 --sd 0.25 --minutes 3.7   # plan a new design

The last form plans a design that has not run: each claim's expected effect at the reference arm's
``--accuracy``, the seeds 80 % power needs at an assumed seed SD of ``--sd`` pp (for a paired claim the
SD of the differences, taken as √2·SD: no credit for the arms' correlation), the points the sized
claims need and, at ``--minutes`` per job, their cost.

The design follows the report's (src/report/ablation.py ``judge``): paired where the arms share initial
weights, else independent arms. The SD comes from runs at the present budget; a longer budget changes
it, so re-run this on a pilot sweep of a new design. α = 0.05 two-sided, before Holm's correction.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from src.report.ablation import group_points, groups_from_results, judge, judge_trend, read_points
from src.report.ablation_specs import SPECS, ablation_name
from src.report.verdict import pp, with_unit

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
#: The CPU time all five re-runs may take together (issue 41), and one ablation's even share of it.
CPU_BUDGET_HOURS = 12.0
CPU_SHARE_HOURS = CPU_BUDGET_HOURS / len(SPECS)
#: The data a paper-setting run reads where it is not ImageNet (conf/experiment/<name>.yaml says so).
PAPER_DATA = {"igc_partitions": "/path/to/cifar-folders"}


def _minutes_per_run(readme: Path) -> float | None:
    """Summed job wall time per finished run, from a report header ("Runs: 15 of 15 points finished, ...;
    summed job wall time 29.2 min")."""
    match = re.search(r"Runs: (\d+) of \d+ points finished.*?summed job wall time ([\d.]+) min",
                      readme.read_text() if readme.exists() else "")
    return float(match[2]) / int(match[1]) if match and int(match[1]) else None


def plan(target: str, totals: list[float] | None = None) -> list[str]:
    """The power table of one ablation: ``target`` is its name or a sweep folder; the CPU-hours its sized
    design costs at the present budget are appended to ``totals``."""
    path = Path(target)
    if path.is_dir() and (ablation_name(path.parent.name) in SPECS):
        experiment, spec = path.parent.name, SPECS[ablation_name(path.parent.name)]
        groups, readme = group_points(spec, read_points([path])), None
    elif target in SPECS:
        experiment, spec = target, SPECS[target]
        groups, readme = groups_from_results(spec, EXPERIMENTS / target / "results.csv"), EXPERIMENTS / target / "README.md"
    else:
        raise SystemExit(f"error: {target!r} is neither an ablation ({', '.join(SPECS)}) nor a sweep folder "
                         "multirun/<ablation>/<time>")
    rows = [(claim.text, judge(claim, groups)[2]) for claim in spec.claims]
    rows += [(t.text, judge_trend(t, groups)) for t in spec.trends]
    seeds_now = max((len(g["acc"]) for g in groups.values()), default=0)
    lines = [f"## {experiment}: {spec.title}", "",
             "| claim | test | seeds now | SD per seed | MDD80 now | expected (or margin) | seeds for 80 % power |",
             "|---|---|---|---|---|---|---|"]
    needed = []
    for text, e in rows:
        if e is None:
            lines.append(f"| {text} | – | – | – | – | – | not judged: a point is missing |")
            continue
        target_effect = (f"±{pp(e.margin, False)} pp (margin)" if e.kind == "similar"
                         else "not declared" if e.expected is None else f"{pp(e.expected)} {e.unit}")
        sd = e.trend_sd if e.trend_x else e.c.sd
        seeds = e.seeds_for_power()
        if seeds != "–":
            needed.append(int(seeds))
        test = f"{e.c.test} + TOST" if e.kind == "similar" else e.c.test
        lines.append(f"| {text} | {test} | {seeds_now} | {with_unit(pp(sd, False), 'pp')} | "
                     f"{with_unit(pp(e.c.mdd80, False), e.unit)} | {target_effect} | {seeds} |")
    lines.append("")
    if needed:
        most = max(needed)
        minutes = _minutes_per_run(readme) if readme else None
        if minutes and totals is not None:
            totals.append(len(groups) * most * minutes / 60)
        cost = (f"; at the present budget ({minutes:.1f} min per job) {len(groups)} points × {most} seeds ≈ "
                f"{len(groups) * most * minutes / 60:.1f} CPU-hours" if minutes else "")
        lines.append(f"Seeds per point for every sized claim: **{most}** (now {seeds_now}){cost}. Config change: "
                     f"`hydra.sweeper.params.seed` in conf/experiment/{experiment}.yaml → 1..{most}.")
        if minutes and len(groups) * most * minutes / 60 > CPU_SHARE_HOURS:
            lines.append(f"That is more than this ablation's share of the CPU budget ({CPU_SHARE_HOURS:.1f} of "
                         f"{CPU_BUDGET_HOURS:g} CPU-hours) even at the present short budget: a CPU design must drop "
                         f"points or claims, or leave them to the paper's setting on an accelerator "
                         f"(`python -m src.run experiment={experiment} scale=full "
                         f"data.root={PAPER_DATA.get(experiment, '/path/to/imagenet')}`).")
    else:
        lines.append("No claim declares an expected effect or margin: nothing to size.")
    return lines


def _claim_points(claim) -> set[str]:
    return {f"{k}={v}" for side in (claim.better, claim.worse) for k, v in side.items()}


def design(experiment: str, accuracy: float, sd_pp: float, minutes: float | None) -> list[str]:
    """The planning table of a design not yet run: seeds per claim at ``accuracy`` and a seed SD of ``sd_pp``."""
    from src.report.stats import seeds_needed, seeds_needed_equivalence, seeds_needed_trend

    if experiment not in SPECS:
        raise SystemExit(f"error: planning needs an ablation's name ({', '.join(SPECS)}), got {experiment!r}")
    if not 0 < accuracy < 1 or not sd_pp > 0:
        raise SystemExit(f"error: --accuracy must lie in (0, 1) and --sd (pp) be positive; got {accuracy}, {sd_pp}")
    spec, sd = SPECS[experiment], sd_pp / 100
    lines = [f"## {experiment}: planned at accuracy {accuracy:.3f}, seed SD {sd_pp:g} pp", "",
             "| claim | design | expected (or margin) at this accuracy | seeds for 80 % power | points |",
             "|---|---|---|---|---|"]
    points: dict[str, int] = {}
    for claim in spec.claims:
        paired = bool(claim.paired)
        sd_test = sd * 2 ** 0.5 if paired else sd
        if claim.kind == "similar" and claim.margin is not None:
            effect, n = claim.margin.at(accuracy), seeds_needed_equivalence(claim.margin.at(accuracy), sd_test, paired)
            target = f"±{pp(effect, False)} pp (margin)"
        elif claim.expected is not None:
            effect, n = claim.expected.at(accuracy), seeds_needed(claim.expected.at(accuracy), sd_test, paired)
            target = f"{pp(effect)} pp"
        else:
            lines.append(f"| {claim.text} | – | not declared | – | – |")
            continue
        arms = sorted(_claim_points(claim))
        for arm in arms:
            points[arm] = max(points.get(arm, 0), n)
        lines.append(f"| {claim.text} | {'paired' if paired else 'two arms'} | {target} | {n} | {', '.join(arms)} |")
    for trend in spec.trends:
        if trend.expected is None:
            continue
        slope = trend.expected.at(accuracy)
        n = seeds_needed_trend(slope, sd, list(trend.x.values()))
        lines.append(f"| {trend.text} | OLS over {len(trend.x)} points | {pp(slope)} pp per unit {trend.x_name} | {n} | "
                     f"all {len(trend.x)} |")
    jobs = sum(points.values())
    cost = f", ≈ {jobs * minutes / 60:.1f} CPU-hours at {minutes:g} min per job" if minutes else ""
    lines += ["", f"Two-arm claims alone: {len(points)} points, {jobs} jobs{cost} (trends need every point at "
              "their seed count)."]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="an ablation's name (its committed results.csv), a sweep folder, or 'all'")
    parser.add_argument("--out", type=Path, help="also write the tables to OUT/README.md")
    parser.add_argument("--accuracy", type=float, help="plan a design: the reference arm's expected accuracy")
    parser.add_argument("--sd", type=float, help="plan a design: the assumed seed SD, in pp")
    parser.add_argument("--minutes", type=float, help="plan a design: minutes per job")
    args = parser.parse_args(argv)
    if (args.accuracy is None) != (args.sd is None):
        raise SystemExit("error: give --accuracy and --sd together (planning), or neither")
    if args.accuracy is not None:
        targets = list(SPECS) if args.target == "all" else [args.target]
        print("\n".join(line for t in targets for line in [*design(t, args.accuracy, args.sd, args.minutes), ""]).rstrip())
        return
    targets = list(SPECS) if args.target == "all" else [args.target]
    totals: list[float] = []
    lines = [line for t in targets for line in [*plan(t, totals), ""]]
    if len(targets) > 1 and totals:
        lines.append(f"All sized designs together, at the present budgets: ≈ {sum(totals):.1f} CPU-hours (jobs of "
                     "se_placement's none/standard and se_reduction's none/r16 are the same runs, counted twice here).")
    text = "\n".join(lines).rstrip()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        header = ["# Seeds for 80 % power in the ablations", "",
                  f"`python -m src.report.power {args.target} --out {args.out}` (src/report/power.py): per claim, the "
                  "seed SD of the committed runs, the design's MDD80 now, the effect the claim expects at this scale "
                  "(or its equivalence margin; the sources are in each ablation's report) and the seeds per point "
                  "for 80 % power at α = 0.05 (two-sided, before Holm; a two-arm design, so pooling over more points "
                  "can only need fewer). The SDs are those of the present short budgets: a design past early "
                  "learning has other SDs, so size it again from a pilot sweep.", ""]
        (args.out / "README.md").write_text("\n".join(header) + "\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
