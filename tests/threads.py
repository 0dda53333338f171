"""Pytest plugin loaded before any test module (``-p tests.threads``): under pytest-xdist
each worker, and every process it starts, gets its share of the cores for numba's
parallel loops and BLAS, so that the workers do not oversubscribe the machine (numba's
and OpenBLAS's spinning threads slow a loaded machine down several-fold)."""

from __future__ import annotations

import os

_WORKERS = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
if _WORKERS:
    _SHARE = str(max(1, (os.cpu_count() or 1) // int(_WORKERS)))
    for _name in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                  "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, _SHARE)
