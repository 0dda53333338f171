"""Chain responses: the summed spin-diode lines of a layer's chains, and their derivatives.

For chain j of a layer, with its synapses k tuned to resonances f_r,jk (half-widths
D_jk = alpha_jk f_r,jk, sensitivities S_jk and A_jk, polarity s_k = (-1)^k),

    H_j(f) = sum_k s_k (S_jk + A_jk u) / (1 + u^2),   u = (f - f_r,jk) / D_jk,

is the DC voltage per watt reaching the chain at frequency f, before saturation (the
``labrf.physics.spin_diode`` line of junctions that carry no DC current). Two evaluators:

- ``ExactResponse``: H at every tone of every example, sum over synapses done directly
  (cost per example: chains x synapses x tones).
- ``GridResponse``: H and dH/df evaluated exactly on a grid uniform in log-frequency
  (``POINTS_PER_WIDTH`` points per narrowest relative half-width), read at any frequency
  by cubic Hermite interpolation (relative error below 1e-5 of the line's peak; a test
  checks it against ``ExactResponse``). Its cost no longer grows with the examples,
  which is what makes layers fed by drive-dependent neuron frequencies affordable at
  size. The backward pass is the exact adjoint of the interpolant, so gradients are those
  of what the forward pass computed.

Both give, for an upstream gradient G with respect to H at each (example, chain, tone),
the gradient with respect to the resonances f_r,jk. The line itself is computed in one
place, the compiled loops of ``labrf.network.kernels``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from labrf.network.kernels import hermite_at, hermite_scatter, line_sums, line_sums_adjoint


class Lines(NamedTuple):
    """Tuned synapses of a layer, fields (M, K) (SI units)."""

    resonance: np.ndarray  #: f_r, Hz
    damping: np.ndarray  #: alpha
    symmetric: np.ndarray  #: S, V/W
    antisymmetric: np.ndarray  #: A, V/W

    @property
    def polarity(self) -> np.ndarray:
        """s_k = (-1)^k, (K,)."""
        return np.where(np.arange(self.resonance.shape[1]) % 2 == 0, 1.0, -1.0)


class ExactResponse:
    """H_j(f) summed synapse by synapse, at fixed tones (N,) or per example (B, N)."""

    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.polarity = lines.polarity

    def _args(self) -> tuple[np.ndarray, ...]:
        ln = self.lines
        return (np.ascontiguousarray(ln.resonance), np.ascontiguousarray(ln.damping),
                np.ascontiguousarray(ln.symmetric), np.ascontiguousarray(ln.antisymmetric),
                self.polarity)

    def at(self, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H and dH/df (B, M, N) at tones ``freqs`` (B, N), V/W and V/W/Hz."""
        return line_sums(*self._args(), np.ascontiguousarray(freqs, dtype=float))

    def adjoint(self, freqs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """(M, K) sum_{b,n} upstream_bjn dH_j(f_bn)/df_r,jk for ``upstream`` (B, M, N)."""
        return line_sums_adjoint(*self._args(), np.ascontiguousarray(freqs, dtype=float),
                                 np.ascontiguousarray(upstream, dtype=float),
                                 np.empty((0, 0, 0)))

    def fixed(self, freqs: np.ndarray) -> np.ndarray:
        """(M, N) H at tones ``freqs`` (N,) shared by every example, V/W."""
        return self.at(np.asarray(freqs, dtype=float)[None, :])[0][0]

    def fixed_adjoint(self, freqs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """(M, K) sum_n upstream_jn dH_j(f_n)/df_r,jk for ``upstream`` (M, N), per Hz."""
        return self.adjoint(np.asarray(freqs, dtype=float)[None, :], upstream[None])


class GridResponse:
    """H_j on a grid uniform in log-frequency over [f_lo, f_hi] Hz (as the lines' widths
    grow with frequency, D = alpha f_r, a fixed number of points per width everywhere),
    read by cubic Hermite interpolation in x = ln f.

    Frequencies outside the grid are read at its nearest end with zero slope (they only
    occur for tones of zero power, e.g. a neuron below threshold)."""

    #: Grid points per narrowest relative half-width (alpha).
    POINTS_PER_WIDTH = 10

    def __init__(self, lines: Lines, f_lo: float, f_hi: float) -> None:
        self.lines = lines
        self.polarity = lines.polarity
        lo, hi = np.log(max(f_lo, 1.0)), np.log(max(f_hi, f_lo * 1.001, 2.0))
        self.step = float(np.min(lines.damping)) / self.POINTS_PER_WIDTH
        count = max(2, int(np.ceil((hi - lo) / self.step)) + 1)
        self.x0 = float(lo)
        self.nodes = np.exp(lo + self.step * np.arange(count))
        self._exact = ExactResponse(lines)
        values, slopes = self._exact.at(self.nodes[None, :])
        self.values, self.slopes = values[0], slopes[0] * self.nodes  # d/dx = f d/df

    def at(self, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H and dH/df (B, M, N) at per-example tones ``freqs`` (B, N)."""
        f = np.maximum(np.asarray(freqs, dtype=float), 1.0)
        h, h_x = hermite_at(self.values, self.slopes, self.x0, self.step, np.log(f))
        return h, h_x / f[:, None, :]

    def adjoint(self, freqs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """(M, K) gradient with respect to f_r,jk of sum upstream_bjn H_j(f_bn), per Hz,
        through the grid's values and slopes."""
        f = np.maximum(np.asarray(freqs, dtype=float), 1.0)
        d_values, d_slopes = hermite_scatter(np.ascontiguousarray(upstream), self.x0,
                                             self.step, np.log(f), self.nodes.size)
        return line_sums_adjoint(*self._exact._args(), self.nodes[None, :], d_values[None],
                                 (d_slopes * self.nodes)[None])
