"""A job's training curves (loss, accuracy and throughput per epoch) as one PNG, ``curves.png`` in its folder."""

from __future__ import annotations

from pathlib import Path

from src.job_folder import read_history_csv


def plot_history(history_csv: str | Path, out_png: str | Path, title: str = "") -> Path:
    """Plot train/val loss and accuracy (and images/s) against the epoch number from a Keras CSVLogger file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = read_history_csv(Path(history_csv))
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
