"""Per-run training curves (loss, accuracy, learning rate per epoch) as one PNG."""

from __future__ import annotations

import csv
from pathlib import Path


def read_history(path: Path) -> dict[str, list[float]]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                columns.setdefault(key, []).append(float("nan"))
    if columns.get("epoch") and columns["epoch"][0] == 0:  # written before epochs were numbered from 1
        columns["epoch"] = [float(i + 1) for i in range(len(columns["epoch"]))]
    return columns


def plot_history(history_csv: str | Path, out_png: str | Path, title: str = "") -> Path:
    """Plot train/val loss and accuracy (and images/s) against the epoch number from a Keras CSVLogger file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = read_history(Path(history_csv))
    if not h.get("epoch"):
        raise ValueError(f"{history_csv} holds no epochs to plot")
    epochs = h["epoch"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, metric, label in ((axes[0], "loss", "loss (cross-entropy)"), (axes[1], "accuracy", "accuracy")):
        for prefix, style in (("", "-o"), ("val_", "-s")):
            if prefix + metric in h:
                ax.plot(epochs, h[prefix + metric], style, ms=3, label="validation" if prefix else "train")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if "images_per_s" in h:
        axes[2].plot(epochs, h["images_per_s"], "-o", ms=3)
        axes[2].set_ylabel("training throughput (images/s)")
    axes[2].set_xlabel("epoch")
    axes[2].grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
