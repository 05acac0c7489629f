"""The benchmark's peak-RSS probe: the peak resets to the current RSS and then sees a new allocation."""

import numpy as np
import pytest

from src.bench import peak_memory


def test_peak_sees_an_allocation_made_after_the_reset() -> None:
    if not peak_memory.reset_peak_rss():
        pytest.skip("this kernel does not allow resetting the peak RSS (/proc/self/clear_refs)")
    block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, every page touched
    del block
    after_free = peak_memory.current_rss_mib()
    assert peak_memory.max_rss_mib() - after_free >= 48, "the 64 MiB block should be in the peak, not in the RSS"
    peak_memory.reset_peak_rss()
    assert peak_memory.max_rss_mib() - peak_memory.current_rss_mib() < 16, "a reset sets the peak to the RSS"
