"""``python -m src.report experiment=<name> [sweeps=<dir>[,<dir>...]] [out=<dir>]``: an ablation's report.

Reads the newest sweep folder under ``multirun/<name>/`` (or the ``sweeps`` given, e.g. a sweep and
its re-run) and writes ``experiments/<name>/`` (or ``out``) with `src.report.ablation.write_report`.
The points' numbers come from their job folders, which hold what each point logged to its MLflow run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from src.report.ablation import write_report
from src.report.ablation_specs import SPECS, ablation_name


def parse(argv: list[str]) -> dict[str, str]:
    args = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in ("experiment", "sweeps", "out"):
            raise SystemExit(f"error: {arg!r} is not understood; usage: {__doc__.splitlines()[0]}")
        args[key] = value
    if "experiment" not in args:
        raise SystemExit(f"error: name the experiment; usage: {__doc__.splitlines()[0]}")
    if ablation_name(args["experiment"]) not in SPECS:
        raise SystemExit(f"error: no ablation report for {args['experiment']!r}; known: {', '.join(SPECS)}")
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse(sys.argv[1:] if argv is None else argv)
    name = args["experiment"]
    if "sweeps" in args:
        sweeps = [Path(s) for s in args["sweeps"].split(",")]
    else:
        found = sorted(p for p in (Path("multirun") / name).glob("*") if p.is_dir())
        if not found:
            raise SystemExit(f"error: no sweep folder under multirun/{name}/; run python -m src.run experiment={name} "
                             "first, or pass sweeps=<dir>")
        sweeps = [found[-1]]
    missing = [str(s) for s in sweeps if not s.is_dir()]
    if missing:
        raise SystemExit(f"error: sweep folder(s) not found: {', '.join(missing)}")
    text = write_report(name, sweeps, Path(args.get("out", f"experiments/{name}")))
    print(text)
    return text


if __name__ == "__main__":
    main()
