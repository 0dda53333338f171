"""Fixtures shared across the test tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`labrf sim serve` of sim_bench.yaml (clock x200) and a SOCKET station file for it."""
    server = Served(tmp_path, scale=200)
    try:
        yield server
    finally:
        server.stop()
