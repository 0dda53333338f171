"""Classification data for twins and chips: the drone RF spectra (RadioSpin D62), the 8x8
digits bundled with scikit-learn, and the two-input tasks of ``labrf.network.tasks``.

Features are in [0, 1], one per input tone; the chip receives feature x as a tone of
power x times ``TwinData.power_scale``. How a data value becomes a feature is the task's
``encoding``: ``power`` (the value itself) or ``amplitude`` (its square root: for a power
spectrum, the spectral amplitude, a milder dynamic range). The drone spectra default to
``amplitude``: their quiet remote controls (total power 20 times below the loudest)
then stand out of the loud ones' crosstalk, and the 256-128-10 twin's test accuracy rises
from 97.3 % to 99.0 % (seeds 0 and 1, 40 epochs; measured with ``labrf twin train``).
A missing or malformed file is a ``DataError`` naming the file and how to obtain it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from labrf.errors import DataError
from labrf.network.tasks import MAX_POWER, TASKS, make_task

DRONE_FILE = "RadioSpin_D62_RF_fingerprinting.h5"
DRONE_SHA256 = "a9fc628d25a836f26f8ac9934f8bd1de8858306f11622a8b95b54ea4029a79d6"
DRONE_CLASSES = ("dx4e", "dx6i", "MTx", "Nineeg", "Parrot", "q205", "S500", "tello",
                 "WiFi", "wltoys")
#: Where to get the drone file, for error messages.
DRONE_SOURCE = (f"{DRONE_FILE} is the RadioSpin D62 RF fingerprinting set (Zenodo record "
                "7646236, published with Ross et al., Nat. Nanotechnol. 18, 1273 (2023)); "
                "in this lab it sits in ../shared/data/ (see its README); pass its path "
                "with --data")
#: Task names ``load_task`` knows.
TASK_NAMES = ("drone", "digits", *TASKS)
#: How data values become features.
ENCODINGS = ("power", "amplitude")
#: Each task's default encoding (others: power).
DEFAULT_ENCODING = {"drone": "amplitude"}
#: Each task's default hidden layers (others: one of 2 neurons, the nine-junction chip).
DEFAULT_HIDDEN = {"drone": (128,), "digits": (32,)}


@dataclass(frozen=True)
class TwinData:
    """A task's features (examples, inputs) in [0, 1] and integer labels."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]
    source: str = ""  #: the file it came from ("" for built-in data)
    sha256: str = ""  #: that file's sha256
    encoding: str = "power"  #: how the data values became features (``ENCODINGS``)

    @property
    def inputs(self) -> int:
        return int(self.train_x.shape[1])

    def power_scale(self, input_power: float) -> float:
        """Power (W) of a tone whose feature is 1, such that the mean total input power
        of a training example is ``input_power`` (W)."""
        return float(input_power / max(np.mean(self.train_x.sum(axis=1)), 1e-12))


def load_drone(path: str | Path) -> TwinData:
    """The drone spectra from ``path`` (HDF5: X_train 702 x 256, Y_train, X_test,
    Y_test); DataError naming the file and its source if it is missing or malformed."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"drone data file {path} not found: {DRONE_SOURCE}")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            arrays = {key: np.asarray(f[key]) for key in ("X_train", "Y_train", "X_test",
                                                          "Y_test")}
    except (OSError, KeyError) as exc:
        raise DataError(f"drone data file {path} is not the expected HDF5 file with "
                        f"X_train, Y_train, X_test, Y_test ({exc}): {DRONE_SOURCE}"
                        ) from None
    return _checked("drone", arrays, DRONE_CLASSES, str(path), _sha256(path), width=256)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _checked(name: str, arrays: dict[str, np.ndarray], classes: tuple[str, ...],
             source: str, sha: str, width: int) -> TwinData:
    where = source or name
    for split in ("train", "test"):
        x, y = arrays[f"X_{split}"], arrays[f"Y_{split}"]
        if x.ndim != 2 or x.shape[1] != width or y.shape != (x.shape[0],) or not len(y):
            raise DataError(f"{where}: X_{split} must be (examples, {width}) and Y_{split} "
                            f"(examples,), got {x.shape} and {y.shape}")
        if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
            raise DataError(f"{where}: X_{split} must be finite features in [0, 1]")
        if np.any((y < 0) | (y >= len(classes))) or np.any(y != np.round(y)):
            raise DataError(f"{where}: Y_{split} must be class numbers 0..{len(classes) - 1}")
    return TwinData(name, arrays["X_train"].astype(float), arrays["Y_train"].astype(int),
                    arrays["X_test"].astype(float), arrays["Y_test"].astype(int), classes,
                    source, sha)


def load_digits(seed: int = 0, test_fraction: float = 0.3) -> TwinData:
    """scikit-learn's bundled 8x8 digits (1797 images, features /16), split by ``seed``."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x, y = bunch.data / 16.0, bunch.target
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(len(y) * (1 - test_fraction)))
    train, test = order[:cut], order[cut:]
    return _checked("digits", {"X_train": x[train], "Y_train": y[train],
                               "X_test": x[test], "Y_test": y[test]},
                    tuple(str(d) for d in range(10)), "", "", width=64)


def load_two_input(name: str, seed: int = 0) -> TwinData:
    """A two-input task of ``labrf.network.tasks``, its powers (0 to MAX_POWER) as
    features in [0, 1]."""
    task = make_task(name, seed)
    return TwinData(name, task.train_inputs / MAX_POWER, task.train_labels.astype(int),
                    task.test_inputs / MAX_POWER, task.test_labels.astype(int),
                    ("silent", "emits"))


def encoded(data: TwinData, encoding: str) -> TwinData:
    """``data`` with its values turned into features by ``encoding``."""
    if encoding not in ENCODINGS:
        raise DataError(f"unknown encoding {encoding!r}; valid: {', '.join(ENCODINGS)}")
    if encoding == data.encoding:
        return data
    if data.encoding != "power":
        raise DataError(f"{data.name} is already encoded as {data.encoding}")
    return replace(data, train_x=np.sqrt(data.train_x), test_x=np.sqrt(data.test_x),
                   encoding=encoding)


def load_task(name: str, data: str | Path | None = None, seed: int = 0,
              encoding: str | None = None) -> TwinData:
    """The data of task ``name`` (``TASK_NAMES``), its features by ``encoding`` (default:
    the task's, ``DEFAULT_ENCODING``); ``data`` is the drone file's path."""
    if name == "drone":
        if data is None:
            raise DataError(f"task drone needs --data PATH: {DRONE_SOURCE}")
        raw = load_drone(data)
    elif name == "digits":
        raw = load_digits(seed)
    elif name in TASKS:
        raw = load_two_input(name, seed)
    else:
        raise DataError(f"unknown task {name!r}; valid: {', '.join(TASK_NAMES)}")
    return encoded(raw, encoding or DEFAULT_ENCODING.get(name, "power"))


def check_width(data: TwinData, sizes: tuple[int, ...]) -> None:
    """DataError unless a network of ``sizes`` takes ``data``'s inputs and classes."""
    outputs = 1 if len(data.classes) == 2 else len(data.classes)
    if sizes[0] != data.inputs:
        raise DataError(f"task {data.name} has {data.inputs} inputs per example, but the "
                        f"network's first layer takes {sizes[0]} tones (layers "
                        f"{'-'.join(map(str, sizes))})")
    if sizes[-1] not in (outputs, len(data.classes)):
        raise DataError(f"task {data.name} has {len(data.classes)} classes: the last layer "
                        f"needs {outputs} output neuron(s), got {sizes[-1]}")
