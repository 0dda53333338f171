"""Compiled loops for the chain responses of ``labrf.network.lines``.

At the size of the drone network a layer's response is chains x synapses x tones =
8 million spin-diode lines per training step; numpy's temporaries make that memory-bound,
so these loops fuse each line's value and derivatives (numba, parallel over chains; each
chain's sums run in a fixed order, so results do not depend on the thread count).

Line of synapse (j, k) at frequency f: u = (f - f_r) / D, D = alpha f_r, q = 1/(1 + u^2),
g = (S + A u) q, g_u = (A - 2 S u - A u^2) q^2, and
g_uu = -4 u q^3 (A - 2 S u - A u^2) - 2 q^2 (S + A u); du/df = 1/D,
du/df_r = -(1 + alpha u)/D.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def line_sums(fr: np.ndarray, alpha: np.ndarray, sym: np.ndarray, anti: np.ndarray,
              polarity: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """H_bjn = sum_k s_k g_jk(f_bn) and dH_bjn/df, (B, M, N), for resonances ``fr``
    (M, K) Hz and tones ``freqs`` (B, N) Hz (B = 1 for tones shared by all examples)."""
    m, k = fr.shape
    b, n = freqs.shape
    h = np.zeros((b, m, n))
    h_f = np.zeros((b, m, n))
    for j in prange(m):
        for kk in range(k):
            f_r = fr[j, kk]
            inv = 1.0 / (alpha[j, kk] * f_r)
            s_, a_, sign = sym[j, kk], anti[j, kk], polarity[kk]
            for e in range(b):
                for i in range(n):
                    u = (freqs[e, i] - f_r) * inv
                    q = 1.0 / (1.0 + u * u)
                    h[e, j, i] += sign * (s_ + a_ * u) * q
                    h_f[e, j, i] += sign * (a_ - (2.0 * s_ + a_ * u) * u) * q * q * inv
    return h, h_f


@njit(parallel=True, cache=True)
def line_sums_adjoint(fr: np.ndarray, alpha: np.ndarray, sym: np.ndarray,
                      anti: np.ndarray, polarity: np.ndarray, freqs: np.ndarray,
                      d_values: np.ndarray, d_slopes: np.ndarray) -> np.ndarray:
    """(M, K) sum_bn [d_values_bjn dH_bjn/df_r,jk + d_slopes_bjn d(dH_bjn/df)/df_r,jk],
    per Hz: the adjoint of ``line_sums`` for upstream gradients (B, M, N) on its outputs
    (``d_slopes`` of size 0: none on dH/df)."""
    m, k = fr.shape
    b, n = freqs.shape
    out = np.zeros((m, k))
    use_slopes = d_slopes.size > 0
    for j in prange(m):
        for kk in range(k):
            f_r = fr[j, kk]
            al = alpha[j, kk]
            inv = 1.0 / (al * f_r)
            s_, a_ = sym[j, kk], anti[j, kk]
            acc = 0.0
            for e in range(b):
                for i in range(n):
                    u = (freqs[e, i] - f_r) * inv
                    q = 1.0 / (1.0 + u * u)
                    num = a_ - (2.0 * s_ + a_ * u) * u
                    g_u = num * q * q
                    acc -= d_values[e, j, i] * g_u * (1.0 + al * u) * inv
                    if use_slopes:
                        g_uu = -4.0 * u * q * q * q * num - 2.0 * q * q * (s_ + a_ * u)
                        acc -= d_slopes[e, j, i] * (g_uu * (1.0 + al * u)
                                                    + al * g_u) * inv * inv
            out[j, kk] = polarity[kk] * acc
    return out


@njit(cache=True)
def _cell(x: float, x0: float, dx: float, count: int) -> tuple[int, float, bool]:
    s = (x - x0) / dx
    inside = 0.0 <= s <= count - 1
    t = int(np.floor(s))
    t = min(max(t, 0), count - 2)
    tau = min(max(s - t, 0.0), 1.0)
    return t, tau, inside


@njit(parallel=True, cache=True)
def hermite_at(values: np.ndarray, slopes: np.ndarray, x0: float, dx: float,
               x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite interpolant of node ``values`` and ``slopes`` (M, G) (d/dx) on the
    uniform grid x0 + dx g, at points ``x`` (B, N): value and d/dx, each (B, M, N)."""
    m, count = values.shape
    b, n = x.shape
    h = np.empty((b, m, n))
    h_x = np.empty((b, m, n))
    for e in prange(b):
        for i in range(n):
            t, tau, inside = _cell(x[e, i], x0, dx, count)
            t2 = tau * tau
            t3 = t2 * tau
            w00, w10, w01, w11 = 2 * t3 - 3 * t2 + 1, (t3 - 2 * t2 + tau) * dx, \
                -2 * t3 + 3 * t2, (t3 - t2) * dx
            d00, d10 = (6 * t2 - 6 * tau) / dx, 3 * t2 - 4 * tau + 1
            d01, d11 = (-6 * t2 + 6 * tau) / dx, 3 * t2 - 2 * tau
            for j in range(m):
                y0, y1, s0, s1 = values[j, t], values[j, t + 1], slopes[j, t], slopes[j, t + 1]
                h[e, j, i] = w00 * y0 + w10 * s0 + w01 * y1 + w11 * s1
                h_x[e, j, i] = (d00 * y0 + d10 * s0 + d01 * y1 + d11 * s1) if inside else 0.0
    return h, h_x


@njit(parallel=True, cache=True)
def hermite_scatter(upstream: np.ndarray, x0: float, dx: float, x: np.ndarray,
                    count: int) -> tuple[np.ndarray, np.ndarray]:
    """Adjoint of ``hermite_at``'s value: for ``upstream`` (B, M, N), the gradients with
    respect to the node values and slopes, each (M, G)."""
    b, m, n = upstream.shape
    d_values = np.zeros((m, count))
    d_slopes = np.zeros((m, count))
    for j in prange(m):
        for e in range(b):
            for i in range(n):
                t, tau, _ = _cell(x[e, i], x0, dx, count)
                t2 = tau * tau
                t3 = t2 * tau
                g = upstream[e, j, i]
                d_values[j, t] += g * (2 * t3 - 3 * t2 + 1)
                d_slopes[j, t] += g * (t3 - 2 * t2 + tau) * dx
                d_values[j, t + 1] += g * (-2 * t3 + 3 * t2)
                d_slopes[j, t + 1] += g * (t3 - t2) * dx
    return d_values, d_slopes
