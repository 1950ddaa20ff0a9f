"""Online estimators for the Avellaneda–Stoikov strategy: volatility from mid changes, and the fill
intensity A·e^(−kδ) from our own fills. Plain floats: these are statistics, not money."""

from __future__ import annotations

import math

_LN2 = math.log(2.0)


class MidVariance:
    """Variance rate of the mid, dollars² per time unit, from its changes (time-decayed).

    Each observation adds the squared change Δs² and the elapsed time Δt, both decayed with
    half-life ``halflife``; the estimate is ΣΔs² / ΣΔt. Sampling at irregular times is fine: time
    without a change adds to ΣΔt only. Until ``min_moves`` changes were seen the estimate is None.
    """

    __slots__ = ("_decay_per_ns", "_last_ns", "_last_price", "_moves", "_squares", "_time", "_unit_ns")

    def __init__(self, halflife_ns: float, unit_ns: float) -> None:
        self._decay_per_ns = _LN2 / halflife_ns
        self._unit_ns = unit_ns
        self._last_price: int | None = None
        self._last_ns = 0
        self._squares = 0.0
        self._time = 0.0
        self._moves = 0

    @property
    def moves(self) -> int:
        """Mid changes seen so far."""
        return self._moves

    def update(self, price: int, now_ns: int) -> None:
        """Observe the mid ``price`` (price units) at ``now_ns``."""
        if self._last_price is None:
            self._last_price, self._last_ns = price, now_ns
            return
        elapsed = now_ns - self._last_ns
        if elapsed <= 0:  # same instant: the change is measured at the next later observation
            return
        change = (price - self._last_price) / 10_000.0
        decay = math.exp(-elapsed * self._decay_per_ns)
        self._squares = self._squares * decay + change * change
        self._time = self._time * decay + elapsed / self._unit_ns
        if change:
            self._moves += 1
        self._last_price, self._last_ns = price, now_ns

    def variance(self, min_moves: int) -> float | None:
        """The estimate, or None before ``min_moves`` changes."""
        if self._moves < min_moves or self._time <= 0.0:
            return None
        return self._squares / self._time


class FillIntensity:
    """Maximum-likelihood fit of λ(δ) = A·e^(−kδ) to our own fills.

    While we quote at depth δ (distance from the reference price, dollars) we accumulate exposure
    time E in δ's bin; each fill adds one count N in the bin of the depth it was quoted at. For a
    Poisson process with that intensity the log-likelihood is Σ N_j (ln A − kδ_j) − A Σ E_j e^(−kδ_j);
    maximising over A gives A = N / Σ E_j e^(−kδ_j), and k solves

        Σ E_j δ_j e^(−kδ_j) / Σ E_j e^(−kδ_j) = Σ N_j δ_j / N,

    whose left side falls as k grows, so bisection (on ln k) finds it. Quoting at one depth only
    leaves k unidentified: the fit then keeps the configured values.
    """

    __slots__ = ("_bin_width", "_count", "_exposure", "_fills", "a", "k")

    K_RANGE = (1e-3, 1e6)
    BINS = 256

    def __init__(self, bin_width: float) -> None:
        self._bin_width = bin_width
        self._exposure = [0.0] * self.BINS
        self._fills = [0] * self.BINS
        self._count = 0
        self.k: float | None = None
        self.a: float | None = None

    @property
    def fills(self) -> int:
        return self._count

    def _bin(self, depth: float) -> int:
        index = int(depth / self._bin_width) if depth > 0.0 else 0
        return index if index < self.BINS else self.BINS - 1

    def expose(self, depth: float, time_units: float) -> None:
        """We quoted at ``depth`` for ``time_units``."""
        self._exposure[self._bin(depth)] += time_units

    def fill(self, depth: float) -> None:
        """An order quoted at ``depth`` filled."""
        self._fills[self._bin(depth)] += 1
        self._count += 1

    def fit(self) -> None:
        """Re-estimate ``k`` and ``a`` from everything seen (leaves them as they were if unidentified)."""
        width = self._bin_width
        bins = [(index, e) for index, e in enumerate(self._exposure) if e > 0.0]
        if self._count == 0 or len(bins) < 2:
            return
        depths = [(index + 0.5) * width for index, _ in bins]
        target = sum((index + 0.5) * width * n for index, n in enumerate(self._fills)) / self._count
        shallow = depths[0]

        def weighted_mean(k: float) -> tuple[float, float]:
            total = moment = 0.0
            for depth, (_, exposure) in zip(depths, bins, strict=True):
                weight = exposure * math.exp(-k * (depth - shallow))  # shifted: no underflow
                total += weight
                moment += weight * depth
            return moment / total, total

        low, high = (math.log(bound) for bound in self.K_RANGE)
        if target >= weighted_mean(math.exp(low))[0]:
            k = math.exp(low)
        elif target <= weighted_mean(math.exp(high))[0]:
            k = math.exp(high)
        else:
            for _ in range(60):
                middle = (low + high) / 2
                if weighted_mean(math.exp(middle))[0] > target:
                    low = middle
                else:
                    high = middle
            k = math.exp((low + high) / 2)
        total = weighted_mean(k)[1]
        self.k = k
        self.a = self._count / (total * math.exp(-k * shallow))


_HALF_PI = math.pi / 2.0


def log_odds(p: float, edge: float = 1e-4) -> float:
    """ln(p / (1 − p)) of a probability, ``p`` kept ``edge`` away from 0 and 1 (a price at the
    grid's edge is finite in log-odds)."""
    p = min(max(p, edge), 1.0 - edge)
    return math.log(p / (1.0 - p))


class LogOddsVariance:
    """Variance rate of a binary market's log-odds x = ln(p/(1−p)), per time unit, robust to tick
    noise and to jumps.

    A binary price cannot move the same in dollars at 50¢ and at 3¢; its log-odds can (it is the
    scale on which a diffusion of beliefs is roughly homogeneous), and σ in dollars is then
    p(1−p)·σ_x. Three things keep the estimate honest:

    - *fixed-interval sampling*: x is read on a grid of times ``interval_ns`` apart (the last value
      seen at or before each grid time), so bursts of re-quotes and flicker between samples add
      nothing, and the number of increments does not depend on how often the book changes;
    - *bipower variation* (π/2)·|Δx_i|·|Δx_{i−1}| instead of Δx_i²: a single jump (news) enters
      only multiplied by its normal-sized neighbours, not squared;
    - a *first-order noise correction* + Δx_i·Δx_{i−1}: a mid that flickers between two ticks makes
      adjacent increments negatively correlated (E = −ω² for flicker variance ω²), while a
      diffusion's are uncorrelated. Its weight of 1 (the textbook first-order kernel uses 2) is a
      compromise measured on a cent-rounded diffusion sampled every 5–60 s: bipower alone reads
      1.0–2.4× the true σ_x² there when the tick is large against a sample's move, weight 2 reads
      0.3–0.8×, weight 1 reads 0.6–1.0× (tests/strategies/test_log_odds_variance.py).

    Each pair term and each sampled interval are decayed with half-life ``halflife_ns``; the
    estimate is their ratio, never below 0. Until ``min_moves`` non-zero sampled increments were
    seen it is None.
    """

    __slots__ = (
        "_current", "_decay", "_last_increment", "_moves", "_next_ns", "_pairs", "_sampled", "_step", "_time",
        "interval_ns",
    )

    def __init__(self, interval_ns: int, halflife_ns: float, unit_ns: float) -> None:
        if interval_ns <= 0:
            raise ValueError("sampling interval must be positive")
        self.interval_ns = interval_ns
        self._decay = math.exp(-interval_ns * _LN2 / halflife_ns)
        self._step = interval_ns / unit_ns  # time units per sample
        self._current: float | None = None  # x now (the last observation)
        self._sampled: float | None = None  # x at the last grid time
        self._last_increment: float | None = None
        self._next_ns = 0
        self._pairs = 0.0
        self._time = 0.0
        self._moves = 0

    @property
    def moves(self) -> int:
        """Non-zero sampled increments seen so far."""
        return self._moves

    def update(self, x: float, now_ns: int) -> None:
        """Observe log-odds ``x`` at ``now_ns`` (times must not go backwards; equal times replace)."""
        if self._current is None:
            self._current = self._sampled = x
            self._next_ns = now_ns + self.interval_ns
            return
        if now_ns >= self._next_ns:
            # Grid times strictly before now saw the previous value; one at now sees the new one.
            passed = (now_ns - self._next_ns) // self.interval_ns + 1
            before = passed - 1 if (now_ns - self._next_ns) % self.interval_ns == 0 else passed
            if before:
                self._sample(self._current)
                self._idle(before - 1)
            self._current = x
            if before < passed:
                self._sample(x)
            self._next_ns += passed * self.interval_ns
        else:
            self._current = x

    def _sample(self, x: float) -> None:
        assert self._sampled is not None
        increment = x - self._sampled
        self._sampled = x
        pair = 0.0
        previous = self._last_increment
        if previous is not None:
            pair = _HALF_PI * abs(increment) * abs(previous) + increment * previous
        self._pairs = self._pairs * self._decay + pair
        self._time = self._time * self._decay + self._step
        self._last_increment = increment
        if increment:
            self._moves += 1

    def _idle(self, samples: int) -> None:
        """``samples`` grid times without a change: only time accrues (closed form for long gaps)."""
        if samples <= 0:
            return
        self._sample(self._sampled if self._sampled is not None else 0.0)  # the increment after a move
        samples -= 1
        if samples <= 0:
            return
        decay_n = self._decay**samples
        self._pairs *= decay_n
        geometric = samples if self._decay == 1.0 else (1.0 - decay_n) / (1.0 - self._decay)
        self._time = self._time * decay_n + self._step * geometric

    def variance(self, min_moves: int) -> float | None:
        """σ_x² per time unit, or None before ``min_moves`` non-zero sampled increments."""
        if self._moves < min_moves or self._time <= 0.0:
            return None
        return max(self._pairs / self._time, 0.0)
