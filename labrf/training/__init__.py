"""Chip-in-the-loop training of the nine-junction network bench: calibrations and the map
from model knobs to chip currents (``calibration``), the bench seen through its roles
(``hardware``), and the estimators and epochs of a training (``trainer``). The procedures
``synapse-calibration``, ``neuron-calibration`` and ``chip-in-the-loop`` run them."""
