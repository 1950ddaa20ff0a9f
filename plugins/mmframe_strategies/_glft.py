"""Finite-horizon GLFT quotes: Guéant, Lehalle & Fernandez-Tapia (2013), Theorem 1, with lots.

With inventory bounded to n ∈ {−N..N} lots of Δ contracts, intensities A·e^(−kδ) per lot, risk
aversion γ and price volatility σ, the optimal depths (per contract, from the reference) are

    δ_bid(τ, n) = (1/k)·ln(v_n(τ) / v_{n+1}(τ)) + ln(1 + γΔ/k)/(γΔ)
    δ_ask(τ, n) = (1/k)·ln(v_n(τ) / v_{n−1}(τ)) + ln(1 + γΔ/k)/(γΔ)

where v(τ) = exp(−M·τ)·1, τ the time left to the close, and M the symmetric tridiagonal matrix
M_nn = α·n², M_n,n±1 = −η with α = (k/2)·γσ²Δ and η = A·(1 + γΔ/k)^(−(1 + k/(γΔ))) (the unit
problem of the paper in per-lot units: σ → σΔ, k → k/Δ). At τ = 0 there is no inventory skew
left; as τ grows the depths converge to the asymptotic closed form. Plain floats: model math.
"""

from __future__ import annotations

import math
from functools import lru_cache

MAX_LOTS = 12
"""Largest N solved exactly (a (2N+1)² eigenproblem, ~15 ms at N = 12, per parameter change);
beyond, the caller uses the asymptotic closed form."""

_GRID = 200.0  # α and η are snapped to a 0.5% log grid: a new eigenproblem only on a real change


def _snap(value: float) -> float:
    return math.exp(round(math.log(value) * _GRID) / _GRID) if value > 0.0 else value


def _jacobi_eigen(matrix: list[list[float]]) -> tuple[list[float], list[list[float]]]:
    """Eigenvalues and eigenvectors (columns) of a small symmetric matrix (cyclic Jacobi)."""
    n = len(matrix)
    a = [row[:] for row in matrix]
    vectors = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for _ in range(100):
        off = sum(a[i][j] * a[i][j] for i in range(n) for j in range(i + 1, n))
        if off < 1e-22 * max(1.0, sum(a[i][i] * a[i][i] for i in range(n))):
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                if abs(a[p][q]) < 1e-300:
                    continue
                theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q])
                t = math.copysign(1.0, theta) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for r in range(n):
                    arp, arq = a[r][p], a[r][q]
                    a[r][p], a[r][q] = c * arp - s * arq, s * arp + c * arq
                for r in range(n):
                    apr, aqr = a[p][r], a[q][r]
                    a[p][r], a[q][r] = c * apr - s * aqr, s * apr + c * aqr
                for r in range(n):
                    vrp, vrq = vectors[r][p], vectors[r][q]
                    vectors[r][p], vectors[r][q] = c * vrp - s * vrq, s * vrp + c * vrq
    return [a[i][i] for i in range(n)], vectors


@lru_cache(maxsize=64)
def _spectrum(alpha: float, eta: float, lots: int) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]:
    """(eigenvalues shifted by the smallest, each eigenvector's weight (u·1)·u) of M."""
    size = 2 * lots + 1
    matrix = [[0.0] * size for _ in range(size)]
    for i in range(size):
        n = i - lots
        matrix[i][i] = alpha * n * n
        if i + 1 < size:
            matrix[i][i + 1] = matrix[i + 1][i] = -eta
    values, vectors = _jacobi_eigen(matrix)
    lowest = min(values)
    weighted = []
    for j in range(size):
        projection = sum(vectors[i][j] for i in range(size))
        weighted.append(tuple(projection * vectors[i][j] for i in range(size)))
    return tuple(v - lowest for v in values), tuple(weighted)


def _v(alpha: float, eta: float, lots: int, tau: float) -> list[float]:
    """v(τ) up to a positive factor (exp(−λ_min·τ) taken out: the ratios are what matter)."""
    shifted, weighted = _spectrum(alpha, eta, lots)
    size = 2 * lots + 1
    v = [0.0] * size
    for value, weights in zip(shifted, weighted, strict=True):
        factor = math.exp(-value * tau)
        if factor < 1e-300:
            continue
        for i in range(size):
            v[i] += factor * weights[i]
    return v


def glft_depths(
    *, gamma: float, sigma2: float, k: float, a: float, lot: float, lots: int, tau: float, n: int
) -> tuple[float | None, float | None]:
    """(bid depth, ask depth) per contract at inventory ``n`` lots with ``tau`` time units left;
    None for a side that would leave ``−lots..lots`` (or whose v is not positive)."""
    gl = gamma * lot
    base = math.log1p(gl / k) / gl
    if tau <= 0.0:
        return (base if n < lots else None), (base if n > -lots else None)
    alpha = _snap(0.5 * k * gamma * sigma2 * lot)
    eta = _snap(a * (1.0 + gl / k) ** (-(1.0 + k / gl)))
    v = _v(alpha, eta, lots, tau)
    i = n + lots

    def depth(neighbour: int) -> float | None:
        if not 0 <= neighbour < len(v) or v[i] <= 0.0 or v[neighbour] <= 0.0:
            return None
        return math.log(v[i] / v[neighbour]) / k + base

    return depth(i + 1), depth(i - 1)
