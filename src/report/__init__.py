"""Reports and plots of runs."""

from src.train.curves import plot_history

__all__ = ["plot_history"]
