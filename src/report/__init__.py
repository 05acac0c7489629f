"""Reports and plots of runs."""

from src.report.curves import plot_history

__all__ = ["plot_history"]
