"""The common end of every generated report: the hand-written NOTES.md of the report folder (if any)
is appended to the generated lines, and README.md is written."""

from __future__ import annotations

from pathlib import Path


def write_readme(out: Path, lines: list[str]) -> str:
    """Write ``out/README.md`` from ``lines`` plus ``out/NOTES.md``; returns the text."""
    notes = Path(out) / "NOTES.md"
    if notes.exists():
        lines = [*lines, "", notes.read_text().rstrip()]
    text = "\n".join(lines) + "\n"
    (Path(out) / "README.md").write_text(text)
    return text
