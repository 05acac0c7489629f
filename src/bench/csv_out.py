"""Writing a benchmark's rows (one dict per measurement) as CSV."""

from __future__ import annotations

import csv
from pathlib import Path


def write_rows(rows: list[dict], path: Path) -> None:
    """``rows`` to ``path`` (folders created); the header is every key in first-seen order (a row
    lacking a key leaves its cell empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")
