"""Generate the zoo table: every registered network against its published figures.

    python -m src.report.zoo_table [--pattern 'mobilenet*'] [--out experiments/zoo] [--no-tflite]
    python -m src.report.zoo_table --refresh-references   # new published figures into the existing table
    python -m src.report.zoo_table --merge --pattern 'resnext*' --note '...'   # new networks' rows only

For each network at its default (paper) input: parameters, multiply-adds, the paper's figures and the
ratios, float32 TFLite size (builtins only) and Keras CPU latency at batch 1 (median of ``--repeats``
calls after warm-up, ``predict_on_batch``). Writes ``README.md`` (Markdown table) and ``zoo.csv``;
rows are written as they finish, so an interrupted run keeps what it measured. ``--refresh-references``
re-reads only the published figures (src/models/reference_figures.py) into an existing ``zoo.csv`` and
rewrites the table, keeping its measurements. ``--merge`` measures only the ``--pattern`` networks and
puts their rows into the existing table (replacing theirs, keeping the others and the header, to which
``--note`` is appended): new networks join the table without re-measuring the whole zoo.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.models import build_model, get_spec, list_models  # noqa: E402
from src.models.reference_figures import reference_for  # noqa: E402
from src.profiling import count_macs, count_params  # noqa: E402

COLUMNS = [
    "name", "family", "input", "params", "macs", "paper_params", "paper_macs", "params_ratio", "macs_ratio",
    "tflite_bytes", "latency_ms", "source",
]


def measure(name: str, repeats: int, tflite: bool) -> dict:
    """One table row for ``name`` at its default input."""
    spec = get_spec(name)
    keras.backend.clear_session()
    model = build_model(name)
    shape = tuple(model.input_shape[1:])
    params, macs = count_params(model).trainable, count_macs(model).total
    ref = reference_for(name)
    x = np.random.default_rng(0).normal(size=(1, *shape)).astype("float32")
    for _ in range(2):
        model.predict_on_batch(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    size = None
    if tflite:
        from src.export.tflite import convert_to_tflite

        with tempfile.TemporaryDirectory() as tmp:
            size = convert_to_tflite(model, Path(tmp) / "m.tflite").stat().st_size
    return {
        "name": name,
        "family": spec.family,
        "input": "×".join(str(d) for d in shape),
        "params": params,
        "macs": macs,
        "paper_params": ref.params if ref else None,
        "paper_macs": ref.macs if ref else None,
        "params_ratio": params / ref.params if ref and ref.params else None,
        "macs_ratio": macs / ref.macs if ref and ref.macs else None,
        "tflite_bytes": size,
        "latency_ms": statistics.median(times) * 1e3,
        "source": (ref.source if ref else "") + ("" if not spec.paper else f"; {spec.paper}"),
    }


def _fmt(value, kind: str) -> str:
    if value is None or value == "":
        return "–"
    if kind == "count":
        value = float(value)  # a number, or its text when read back from zoo.csv
        return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.1f} K"
    if kind == "macs":
        value = float(value)
        return f"{value / 1e9:.3f} G" if value >= 1e9 else f"{value / 1e6:.1f} M"
    if kind == "ratio":
        return f"{float(value):.3f}"
    if kind == "bytes":
        return f"{float(value) / 2**20:.1f} MiB"
    if kind == "ms":
        return f"{float(value):.1f}"
    return str(value)


def with_reference(row: dict) -> dict:
    """``row`` (measured) with its published figures, ratios and source read afresh."""
    ref, spec = reference_for(row["name"]), get_spec(row["name"])
    params, macs = float(row["params"]), float(row["macs"])
    return {**row, "paper_params": ref.params if ref else None, "paper_macs": ref.macs if ref else None,
            "params_ratio": params / ref.params if ref and ref.params else None,
            "macs_ratio": macs / ref.macs if ref and ref.macs else None,
            "source": (ref.source if ref else "") + ("" if not spec.paper else f"; {spec.paper}")}


def refresh_references(out: Path) -> list[dict]:
    """Rewrite ``out``'s zoo.csv and README.md with current published figures, measurements kept."""
    readme = (out / "README.md").read_text().splitlines()
    header = readme[2]  # the generated header line: library versions and measuring conditions
    with open(out / "zoo.csv", newline="") as f:
        rows = [with_reference(row) for row in csv.DictReader(f)]
    with open(out / "zoo.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_markdown(rows, out / "README.md", header)
    return rows


def write_markdown(rows: list[dict], path: Path, header: str) -> None:
    lines = [
        "# The zoo: every registered network against its published figures",
        "",
        header,
        "",
        "| network | input | params | MACs | paper params | paper MACs | params ratio | MACs ratio | TFLite fp32 | Keras CPU ms (batch 1) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['input']} | {_fmt(r['params'], 'count')} | {_fmt(r['macs'], 'macs')} | "
            f"{_fmt(r['paper_params'], 'count')} | {_fmt(r['paper_macs'], 'macs')} | {_fmt(r['params_ratio'], 'ratio')} | "
            f"{_fmt(r['macs_ratio'], 'ratio')} | {_fmt(r['tflite_bytes'], 'bytes')} | {_fmt(r['latency_ms'], 'ms')} |"
        )
    lines += ["", "Sources per row: `zoo.csv` (column `source`) and `src/models/reference_figures.py`.", ""]
    path.write_text("\n".join(lines))


def _read_rows(out: Path) -> list[dict]:
    if not (out / "zoo.csv").is_file():
        return []
    with open(out / "zoo.csv", newline="") as f:
        return list(csv.DictReader(f))


def _write_rows(rows: list[dict], out: Path, header: str) -> None:
    with open(out / "zoo.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_markdown(rows, out / "README.md", header)


def merge_rows(names: list[str], out: Path, header: str, note: str, repeats: int, tflite: bool) -> list[dict]:
    """Measure ``names`` and merge their rows into ``out``'s table (rows sorted by name; the existing
    header kept, ``header`` where there is none, and ``note`` appended); written after every row."""
    readme = out / "README.md"
    lines = readme.read_text().splitlines() if readme.is_file() else []
    header = (lines[2] if len(lines) > 2 else header) + (f" {note}" if note else "")
    rows = {row["name"]: row for row in _read_rows(out)}
    for i, name in enumerate(names, 1):
        start = time.perf_counter()
        rows[name] = measure(name, repeats, tflite=tflite)
        _write_rows([rows[n] for n in sorted(rows)], out, header)
        print(f"[{i}/{len(names)}] {name}: {rows[name]['params']:,} params, {rows[name]['macs'] / 1e6:.1f} M MACs "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return [rows[n] for n in sorted(rows)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pattern", default="*", help="glob over registered names")
    parser.add_argument("--out", type=Path, default=Path("experiments/zoo"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-tflite", action="store_true", help="skip the TFLite conversion (faster)")
    parser.add_argument("--skip", default="resnet1202", help="comma-separated names to leave out")
    parser.add_argument("--note", default="", help="a line on the measuring conditions, added to the header")
    parser.add_argument("--refresh-references", action="store_true",
                        help="only re-read the published figures into the existing table (no measuring)")
    parser.add_argument("--merge", action="store_true",
                        help="measure only the --pattern networks and merge their rows into the existing table")
    args = parser.parse_args(argv)
    if args.refresh_references:
        refresh_references(args.out)
        return
    skip = set(filter(None, args.skip.split(",")))
    names = [n for n in list_models(args.pattern) if n not in skip]
    args.out.mkdir(parents=True, exist_ok=True)
    header = (
        f"Generated by `python -m src.report.zoo_table` (keras {keras.__version__}, backend "
        f"{keras.backend.backend()}, {platform.machine()} CPU with {os.cpu_count()} cores). Params are trainable "
        "parameters; MACs are multiply-adds of one image at the network's default input; latency is the median "
        f"of {args.repeats} `predict_on_batch` calls after 2 warm-up calls."
    )
    if args.merge:
        merge_rows(names, args.out, header, args.note, args.repeats, tflite=not args.no_tflite)
        return
    header += f" {args.note}" if args.note else ""
    rows: list[dict] = []
    with open(args.out / "zoo.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for i, name in enumerate(names, 1):
            start = time.perf_counter()
            row = measure(name, args.repeats, tflite=not args.no_tflite)
            rows.append(row)
            writer.writerow(row)
            f.flush()
            write_markdown(rows, args.out / "README.md", header)
            print(f"[{i}/{len(names)}] {name}: {row['params']:,} params, {row['macs'] / 1e6:.1f} M MACs, "
                  f"{row['latency_ms']:.1f} ms ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
