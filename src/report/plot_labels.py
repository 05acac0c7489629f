"""Readable scatter plots: point labels that do not overlap, and plain numbers on a log axis.

Written here because matplotlib places annotations blindly and its log axis labels minor ticks as
``2×10^1`` that collide with each other; a dependency (adjustText) would be larger than these few lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def plain_log_x_axis(ax: Any) -> None:
    """Log-scaled x axis ticked at 1, 2 and 5 per decade with plain numbers (``20``, ``50``, ``100``), no
    minor tick labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def label_points(ax: Any, points: Sequence[tuple[float, float, str]], fontsize: float = 8, gap_px: float = 1.0) -> list:
    """Write each ``(x, y, text)`` label just above-right of its point; a label that would run past the
    axes' right edge goes to the left of its point, and one that would overlap a label already placed is
    moved down until it is free. Returns the text artists. Call after the axes' limits are final."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    placed: list = []
    texts = []
    # Top to bottom, so that a label pushed down moves away from the ones already placed above it.
    for x, y, text in sorted(points, key=lambda p: (-p[1], p[0])):
        artist = ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=fontsize)
        box = artist.get_window_extent(renderer)
        if box.x1 > axes_box.x1:
            artist.set_position((-4, 4))
            artist.set_horizontalalignment("right")
            box = artist.get_window_extent(renderer)
        dy_points = 4.0
        for _ in range(50):  # bounded: at most 50 label heights down
            clash = next((b for b in placed if box.overlaps(b)), None)
            if clash is None:
                break
            dy_points -= (box.y1 - clash.y0 + gap_px) * 72.0 / fig.dpi
            artist.set_position((artist.get_position()[0], dy_points))
            box = artist.get_window_extent(renderer)
        placed.append(box)
        texts.append(artist)
    return texts
