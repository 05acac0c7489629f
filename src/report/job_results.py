"""What the staged-job reports share: finding the finished jobs' results.json under sweep folders, and
the command line ``python -m src.report.<name> <sweep folders> --out DIR [--command CMD]`` or
``python -m src.report.<name> --from-results <report>/results.csv`` (re-render the claims of a committed
report: its job folders are not committed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from src.job_folder import RESULTS_FILE, read_results, results_path


def read_jobs(folders: list[Path], required_key: str) -> list[dict[str, Any]]:
    """results.json (with ``required_key``) of every finished job under the folders (one level down, or
    the folder itself), each with its ``folder`` added; an interrupted sweep reports what finished. A
    folder that does not exist is an error (a mistyped or another machine's sweep), not an empty sweep."""
    missing = [str(folder) for folder in folders if not Path(folder).is_dir()]
    if missing:
        raise SystemExit(f"no such sweep or job folder: {', '.join(missing)} (sweeps are under multirun/<experiment>/<time>, "
                         f"on the machine that ran them)")
    jobs = []
    for folder in folders:
        for path in sorted([results_path(folder), *folder.glob(f"*/{RESULTS_FILE}")]):
            result = read_results(path.parent)
            if result is not None and required_key in result:
                result["folder"] = str(path.parent)
                jobs.append(result)
    return jobs


def report_main(doc: str, experiment: str, write_report: Callable[[list[Path], Path, str | None], str],
                argv: list[str] | None = None, rerender: Callable[[Path], str] | None = None) -> None:
    """Parse ``<folders> --out DIR [--command CMD]`` and print the report ``write_report`` writes, or
    ``--from-results CSV`` and print what ``rerender`` makes of it."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help=f"sweep folders (multirun/{experiment}/<time>) or job folders")
    parser.add_argument("--out", type=Path, help=f"report folder, e.g. experiments/{experiment}")
    parser.add_argument("--command", help="the command that ran the sweep (recorded in the header)")
    if rerender:
        parser.add_argument("--from-results", type=Path, help="re-render the claims of a report from its results.csv")
    args = parser.parse_args(argv)
    if getattr(args, "from_results", None):
        if not args.from_results.exists():
            raise SystemExit(f"error: --from-results {args.from_results}: no such file; give a report's results.csv")
        print(rerender(args.from_results))
        return
    if not args.folders or args.out is None:
        parser.error("give sweep or job folders and --out" + (", or --from-results <report>/results.csv" if rerender else ""))
    print(write_report(args.folders, args.out, args.command))
