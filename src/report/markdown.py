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


def splice_section(out: Path, heading: str, section: list[str], before: str = "![") -> str:
    """Replace, in ``out/README.md``, the section whose heading starts with ``heading`` (up to the next
    ``## `` heading or a line starting with ``before``) by ``section``; without such a section, insert it
    before the first line starting with ``before``. Returns the new text."""
    path = Path(out) / "README.md"
    lines = path.read_text().rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        start = end = next((i for i, line in enumerate(lines) if line.startswith(before)), len(lines))
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("## ", before))), len(lines))
    text = "\n".join([*lines[:start], *section, "", *lines[end:]]).rstrip("\n") + "\n"
    path.write_text(text)
    return text
