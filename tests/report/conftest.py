"""Fixtures of the report tests."""

from __future__ import annotations

import pytest

from tests.helpers.reports import shufflenet_groups_sweep


@pytest.fixture
def sweep(tmp_path):
    """A shufflenet_groups sweep folder: three points × three seeds finished, one point killed."""
    return shufflenet_groups_sweep(tmp_path)
