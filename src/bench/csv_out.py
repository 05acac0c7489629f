"""Writing a benchmark's rows (one dict per measurement) as CSV."""

from __future__ import annotations

import csv
from pathlib import Path


def write_rows(rows: list[dict], path: Path) -> None:
    """``rows`` to ``path`` (folders created), the first row's keys as the header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")
