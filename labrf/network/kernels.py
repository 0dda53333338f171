"""Compiled loops for the chain responses at fixed frequencies (``labrf.network.lines``).

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
    """H_jn = sum_k s_k g_jk(f_n) and dH_jn/df, (M, N), for resonances ``fr`` (M, K) Hz."""
    m, k = fr.shape
    n = freqs.size
    h = np.zeros((m, n))
    h_f = np.zeros((m, n))
    for j in prange(m):
        for kk in range(k):
            f_r = fr[j, kk]
            width = alpha[j, kk] * f_r
            inv = 1.0 / width
            s_, a_, sign = sym[j, kk], anti[j, kk], polarity[kk]
            for i in range(n):
                u = (freqs[i] - f_r) * inv
                q = 1.0 / (1.0 + u * u)
                h[j, i] += sign * (s_ + a_ * u) * q
                h_f[j, i] += sign * (a_ - (2.0 * s_ + a_ * u) * u) * q * q * inv
    return h, h_f


@njit(parallel=True, cache=True)
def line_sums_adjoint(fr: np.ndarray, alpha: np.ndarray, sym: np.ndarray,
                      anti: np.ndarray, polarity: np.ndarray, freqs: np.ndarray,
                      d_values: np.ndarray, d_slopes: np.ndarray) -> np.ndarray:
    """(M, K) sum_n [d_values_jn dH_jn/df_r,jk + d_slopes_jn d(dH_jn/df)/df_r,jk], per Hz:
    the adjoint of ``line_sums`` for upstream gradients on both outputs."""
    m, k = fr.shape
    n = freqs.size
    out = np.zeros((m, k))
    use_slopes = d_slopes.size > 0
    for j in prange(m):
        for kk in range(k):
            f_r = fr[j, kk]
            al = alpha[j, kk]
            width = al * f_r
            inv = 1.0 / width
            s_, a_ = sym[j, kk], anti[j, kk]
            acc = 0.0
            for i in range(n):
                u = (freqs[i] - f_r) * inv
                q = 1.0 / (1.0 + u * u)
                num = a_ - (2.0 * s_ + a_ * u) * u
                g_u = num * q * q
                acc -= d_values[j, i] * g_u * (1.0 + al * u) * inv
                if use_slopes:
                    g_uu = -4.0 * u * q * q * q * num - 2.0 * q * q * (s_ + a_ * u)
                    acc -= d_slopes[j, i] * (g_uu * (1.0 + al * u) + al * g_u) * inv * inv
            out[j, kk] = polarity[kk] * acc
    return out
