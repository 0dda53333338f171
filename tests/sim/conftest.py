"""Fixtures of the simulated-bench tests."""

from tests.helpers import ask, errors, make_bench, write

__all__ = ["ask", "errors", "make_bench", "write"]
