"""Run checkpoints: written atomically, read back, bad files named."""

import numpy as np
import pytest

from labrf.errors import LabrfError
from labrf.procedure import load_checkpoint, save_arrays


def test_round_trip_and_atomic_replace(tmp_path):
    path = tmp_path / "checkpoints" / "run_1.npz"
    save_arrays(path, {"knobs": np.arange(3.0), "step": 4})
    save_arrays(path, {"knobs": np.arange(5.0), "step": 7})
    saved = load_checkpoint(path)
    assert saved["knobs"].tolist() == [0, 1, 2, 3, 4] and int(saved["step"]) == 7
    assert not list(path.parent.glob("*.tmp"))


def test_missing_and_corrupt_checkpoints_are_named(tmp_path):
    with pytest.raises(LabrfError, match="run_9.npz not found"):
        load_checkpoint(tmp_path / "run_9.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(LabrfError, match="bad.npz is not readable"):
        load_checkpoint(bad)
