"""Frequency-multiplexed MTJ networks built from ``labrf.physics``. SI units.

The general model, any layers and sizes: ``layered`` (a chip as data: layers of tones,
chains of synapses, drive stages, oscillator neurons; the knob vector and its labels),
``layered_pass`` (batched forward pass, readout, loss, analytic gradients, backward pass
at measured activations), ``lines`` and ``kernels`` (chain responses, exact or on an
interpolated grid, compiled), ``design`` (chips of any size, spread and path imbalance,
calibrated models, the nine-junction chip as one instance), ``files`` (network files).

The nine-junction network of Ross et al. (Nat. Nanotechnol. 18, 1273 (2023)), which the
simulated bench and chip-in-the-loop training of the network bench use today:
``params`` (devices, wiring, knobs, nominal and varied networks), ``forward`` (the
chip as one instance of the general model, under its own names: forward pass, loss and
gradients, for one knob setting or a population; ``population`` evaluates populations of
any network at once),
``tasks`` (seeded two-input tasks), ``search`` (global search for starting knobs),
``train`` (projected Adam, offline and physics-aware training, accuracy).
"""

from labrf.network.forward import (
    DEFAULT_OBJECTIVE,
    Activations,
    Gradient,
    Objective,
    activations_from_chain_voltages,
    forward,
    gradient_at_measured,
    loss,
    loss_and_gradient,
    onset_current,
    predict,
    score,
)
from labrf.network.params import (
    BIAS_LIMITS,
    CONTROL_LIMITS,
    NEURON_NAMES,
    SYNAPSE_NAMES,
    Knobs,
    Network,
    imbalanced_paths,
    nominal_network,
    varied_network,
)
from labrf.network.search import search_knobs
from labrf.network.tasks import TASKS, Task, circles, make_task, two_moons, xor_quadrants
from labrf.network.train import TrainResult, accuracy, train, train_task

__all__ = [
    "BIAS_LIMITS", "CONTROL_LIMITS", "DEFAULT_OBJECTIVE", "NEURON_NAMES", "SYNAPSE_NAMES",
    "TASKS", "Activations", "Gradient", "Knobs", "Network", "Objective", "Task",
    "TrainResult", "accuracy", "activations_from_chain_voltages",
    "circles",
    "forward", "gradient_at_measured", "imbalanced_paths", "loss", "loss_and_gradient",
    "make_task", "nominal_network", "onset_current", "predict", "score",
    "search_knobs", "train", "train_task", "two_moons", "varied_network", "xor_quadrants",
]
