"""Parameter and multiply-add counts (MACs, as the papers print them)."""

from src.profiling.counts import MacCount, ParamCount, count_macs, count_params

__all__ = ["MacCount", "ParamCount", "count_macs", "count_params"]
