"""Chain responses: the summed spin-diode lines of a layer's chains, and their derivatives.

For chain j of a layer, with its synapses k tuned to resonances f_r,jk (half-widths
D_jk = alpha_jk f_r,jk, sensitivities S_jk and A_jk, polarity s_k = (-1)^k),

    H_j(f) = sum_k s_k (S_jk + A_jk u) / (1 + u^2),   u = (f - f_r,jk) / D_jk,

is the DC voltage per watt reaching the chain at frequency f, before saturation (the
``labrf.physics.spin_diode`` line of junctions that carry no DC current). Two evaluators:

- ``ExactResponse``: H at every tone of every example, sum over synapses done directly
  (cost per example: chains x synapses x tones).
- ``GridResponse``: H and dH/df evaluated exactly on a uniform frequency grid (spacing an
  eighth of the narrowest half-width), read at any frequency by cubic Hermite
  interpolation (relative error below 1e-5 of the line's peak; a test checks it against
  ``ExactResponse``). Its cost no longer grows with the examples, which is what makes
  layers fed by drive-dependent neuron frequencies affordable at size. The backward pass is
  the exact adjoint of the interpolant, so gradients are those of what the forward pass
  computed.

Both give, for an upstream gradient G with respect to H at each (example, chain, tone),
the gradient with respect to the resonances f_r,jk.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from labrf.network.kernels import line_sums, line_sums_adjoint

#: Chains evaluated at once by the exact evaluators (bounds temporaries to a few MB).
_CHUNK_ELEMENTS = 1 << 20


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


def _terms(lines: Lines, j: slice, f: np.ndarray) -> tuple[np.ndarray, ...]:
    """For chains ``j`` and frequencies ``f`` broadcast as (..., 1, 1, N): the line g, its
    u-derivative and u, shaped (..., m, K, N); plus D (m, K, 1)."""
    fr = lines.resonance[j, :, None]
    width = lines.damping[j, :, None] * fr
    s_ = lines.symmetric[j, :, None]
    a_ = lines.antisymmetric[j, :, None]
    u = (f - fr) / width
    q = 1.0 / (1.0 + u * u)
    g = (s_ + a_ * u) * q
    g_u = (a_ - (2.0 * s_ + a_ * u) * u) * q * q
    return g, g_u, u, width


def _chunks(m: int, per_chain: int) -> list[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(per_chain, 1))
    return [slice(a, min(a + step, m)) for a in range(0, m, step)]


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

    def fixed(self, freqs: np.ndarray) -> np.ndarray:
        """(M, N) H at tones ``freqs`` (N,), V/W."""
        return line_sums(*self._args(), np.ascontiguousarray(freqs, dtype=float))[0]

    def fixed_adjoint(self, freqs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """(M, K) sum_n upstream_jn dH_j(f_n)/df_r,jk for ``upstream`` (M, N), per Hz."""
        return line_sums_adjoint(*self._args(), np.ascontiguousarray(freqs, dtype=float),
                                 np.ascontiguousarray(upstream, dtype=float),
                                 np.empty((0, 0)))

    def at(self, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H and dH/df (B, M, N) at per-example tones ``freqs`` (B, N), V/W and V/W/Hz."""
        m, k = self.lines.resonance.shape
        b, n = freqs.shape
        h, h_f = np.empty((b, m, n)), np.empty((b, m, n))
        f = freqs[:, None, None, :]
        for j in _chunks(m, b * k * n):
            g, g_u, _, width = _terms(self.lines, j, f)
            h[:, j] = np.einsum("k,bjkn->bjn", self.polarity, g)
            h_f[:, j] = np.einsum("k,bjkn->bjn", self.polarity, g_u / width)
        return h, h_f

    def adjoint(self, freqs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """(M, K) sum_{b,n} upstream_bjn dH_j(f_bn)/df_r,jk for ``upstream`` (B, M, N)."""
        m, k = self.lines.resonance.shape
        b, n = freqs.shape
        out = np.empty((m, k))
        f = freqs[:, None, None, :]
        for j in _chunks(m, b * k * n):
            _, g_u, u, width = _terms(self.lines, j, f)
            d_fr = -g_u * (1.0 + self.lines.damping[j, :, None] * u) / width
            out[j] = self.polarity * np.einsum("bjkn,bjn->jk", d_fr, upstream[:, j])
        return out


class GridResponse:
    """H_j on a uniform grid over [f_lo, f_hi] Hz, read by cubic Hermite interpolation.

    Frequencies outside the grid are read at its nearest end (they only occur for tones of
    zero power, e.g. a neuron below threshold)."""

    #: Grid points per narrowest half-width.
    POINTS_PER_WIDTH = 8

    def __init__(self, lines: Lines, f_lo: float, f_hi: float) -> None:
        self.lines = lines
        self.polarity = lines.polarity
        width = float(np.min(lines.damping * lines.resonance))
        step = width / self.POINTS_PER_WIDTH
        count = max(2, int(np.ceil((f_hi - f_lo) / step)) + 1)
        self.f0, self.step = float(f_lo), step
        self.nodes = f_lo + step * np.arange(count)
        self._exact = ExactResponse(lines)
        self.values, self.slopes = line_sums(*self._exact._args(), self.nodes)

    def _locate(self, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = (freqs - self.f0) / self.step
        t = np.clip(np.floor(x), 0, self.nodes.size - 2).astype(np.intp)
        tau = np.clip(x - t, 0.0, 1.0)
        inside = (x >= 0) & (x <= self.nodes.size - 1)
        return t, tau, inside

    def at(self, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H and dH/df (B, M, N) at per-example tones ``freqs`` (B, N)."""
        t, tau, inside = self._locate(freqs)
        t2, t3 = tau * tau, tau * tau * tau
        h00, h10 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + tau
        h01, h11 = -2 * t3 + 3 * t2, t3 - t2
        d00, d10 = 6 * t2 - 6 * tau, 3 * t2 - 4 * tau + 1
        d01, d11 = -6 * t2 + 6 * tau, 3 * t2 - 2 * tau
        y0, y1 = self.values[:, t], self.values[:, t + 1]  # (M, B, N)
        m0, m1 = self.slopes[:, t] * self.step, self.slopes[:, t + 1] * self.step
        h = h00 * y0 + h10 * m0 + h01 * y1 + h11 * m1
        h_f = (d00 * y0 + d10 * m0 + d01 * y1 + d11 * m1) / self.step * inside
        return np.moveaxis(h, 0, 1), np.moveaxis(h_f, 0, 1)

    def adjoint(self, freqs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
        """(M, K) gradient with respect to f_r,jk of sum upstream_bjn H_j(f_bn), per Hz,
        through the grid's values and slopes."""
        t, tau, _ = self._locate(freqs)
        t2, t3 = tau * tau, tau * tau * tau
        weights = (2 * t3 - 3 * t2 + 1, (t3 - 2 * t2 + tau) * self.step,
                   -2 * t3 + 3 * t2, (t3 - t2) * self.step)
        m = self.lines.resonance.shape[0]
        count = self.nodes.size
        up = np.moveaxis(upstream, 1, 0).reshape(m, -1)  # (M, B*N)
        offsets = (np.arange(m) * count)[:, None]
        d_values = np.zeros(m * count)
        d_slopes = np.zeros(m * count)
        for shift, (wv, ws) in enumerate(((weights[0], weights[1]), (weights[2], weights[3]))):
            index = (offsets + (t + shift).ravel()).ravel()
            d_values += np.bincount(index, (up * wv.ravel()).ravel(), m * count)
            d_slopes += np.bincount(index, (up * ws.ravel()).ravel(), m * count)
        return line_sums_adjoint(*self._exact._args(), self.nodes,
                                 d_values.reshape(m, count), d_slopes.reshape(m, count))
