"""Budget calibration of one ablation claim: its two arms trained at two budgets, and whether the sign of
A − B holds between them. A CPU-scale verdict is trusted only where it does (issue 41: IGC's ranking
flipped three times across budgets).

    python -m src.report.calibrate se_placement --claim 2 \
        --budget "train.epochs=6 data.train_subset=14000" --budget "train.epochs=12 data.train_subset=28000"
    python -m src.report.calibrate se_placement --claim 2 --judge <sweep at budget 1> <sweep at budget 2>

The first form runs one sweep per budget (the claim's two arms × ``--seeds``, through ``python -m
src.run``, into ``multirun/calibrate/<experiment>/claim<N>/budget<i>``; ``--dry-run`` prints the
commands), then judges them as the second form does: per budget, Δ with its 95 % interval and p (the
claim's own test, src/report/ablation.py ``judge``), then whether the sign holds and whether both
budgets settle it (both intervals on the same side of 0).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from src.report.ablation import group_points, judge, read_points
from src.report.ablation_specs import SPECS, Claim
from src.report.verdict import interval_text, p_text


def sweep_override(experiment: str, claim: Claim) -> str:
    """The one Hydra sweep override that trains both arms, e.g. ``point/shufflenet_groups=g3,g3_noshuffle``."""
    if set(claim.better) != set(claim.worse) or len(claim.better) != 1:
        raise SystemExit(f"error: the claim's arms {dict(claim.better)} and {dict(claim.worse)} differ in more than "
                         "one key; calibrate runs arms that one override tells apart")
    (key,) = claim.better
    name = f"point/{experiment}" if key == "ablation_point" else key
    return f"{name}={claim.better[key]},{claim.worse[key]}"


def commands(experiment: str, claim_no: int, budgets: list[str], seeds: str, root: Path) -> list[list[str]]:
    claim = SPECS[experiment].claims[claim_no - 1]
    return [[sys.executable, "-m", "src.run", f"experiment={experiment}", sweep_override(experiment, claim),
             f"seed={seeds}", *budget.split(), f"hydra.sweep.dir={root / f'budget{i}'}"]
            for i, budget in enumerate(budgets, start=1)]


def report(experiment: str, claim_no: int, sweeps: list[Path], budgets: list[str] | None = None) -> str:
    """Per budget the claim's Δ and p, then whether its sign holds across the budgets."""
    spec = SPECS[experiment]
    claim = spec.claims[claim_no - 1]
    lines = [f"# Budget calibration: {experiment}, claim {claim_no}", "", f"Claim: {claim.text}.", "",
             "| budget | A | B | accuracy A / B | A − B [95 % interval] | test | seeds | p |",
             "|---|---|---|---|---|---|---|---|"]
    diffs = []
    for i, sweep in enumerate(sweeps):
        groups = group_points(spec, read_points([sweep]))
        a, b, e, why = judge(claim, groups, {"pool": False})
        budget = budgets[i] if budgets else str(sweep)
        if e is None:
            lines.append(f"| {budget} | – | – | – | – | – | – | {why} |")
            continue
        means = [sum(groups[x]["acc"].values()) / len(groups[x]["acc"]) for x in (a, b)]
        lines.append(f"| {budget} | {a} | {b} | {means[0]:.4f} / {means[1]:.4f} | {interval_text(e.c)} | {e.c.test} | "
                     f"{e.c.n_a} | {p_text(e.c.p)} |")
        diffs.append(e.c)
    lines.append("")
    if len(diffs) < 2:
        lines.append("Not judged: a budget has no finished pair of arms.")
    elif len({c.mean_diff > 0 for c in diffs}) > 1:
        lines.append("**The sign flips between the budgets**: a verdict at either budget is not to be trusted.")
    else:
        sides = [(lo > 0) - (hi < 0) for lo, hi in (c.interval() for c in diffs)]
        settled = len(set(sides)) == 1 and sides[0] != 0
        lines.append("**The sign holds** at both budgets" + (", and both intervals exclude 0 on the same side."
                                                             if settled else ", though not every interval excludes 0."))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=sorted(SPECS))
    parser.add_argument("--claim", type=int, required=True, help="the claim's number in its report (1 = first)")
    parser.add_argument("--budget", action="append", default=[], help="Hydra overrides of one budget (give two)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--judge", nargs=2, type=Path, metavar="SWEEP", help="judge two finished sweeps, run nothing")
    parser.add_argument("--dry-run", action="store_true", help="print the training commands, run nothing")
    args = parser.parse_args(argv)
    if not 1 <= args.claim <= len(SPECS[args.experiment].claims):
        parser.error(f"--claim: {args.experiment} has claims 1..{len(SPECS[args.experiment].claims)}")
    if args.judge:
        print(report(args.experiment, args.claim, args.judge, args.budget or None))
        return
    if len(args.budget) != 2:
        parser.error("give two --budget, or --judge with two sweep folders")
    root = Path("multirun") / "calibrate" / args.experiment / f"claim{args.claim}"
    runs = commands(args.experiment, args.claim, args.budget, args.seeds, root)
    if args.dry_run:
        print("\n".join(" ".join(["python", *cmd[1:]]) for cmd in runs))
        return
    for cmd in runs:
        subprocess.run(cmd, check=True)
    print(report(args.experiment, args.claim, [root / "budget1", root / "budget2"], args.budget))


if __name__ == "__main__":
    main()
