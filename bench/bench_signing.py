"""Request-signing cost, what pre-signing leaves on the critical path, and what the signing thread
costs a busy event loop.

Run: python bench/bench_signing.py [--n 2000] [--seconds 2]

Table 1 (per request, microseconds; ratio = median / RSA-inline median, same run): signing inline
with RSA-2048 (the baseline), with Ed25519, taking a pre-signed RSA signature of the batch path and of
one order's amend path among 4,000 registered (`PreSigner.take`), and inline RSA amortised over a
20-order batch.

Table 2 (event-loop lag, microseconds; ratio = median / no-signing median, same run): a loop kept
busy with ~10 us slices of Python work and a 1 ms timer whose lateness is the lag: with no amends
(the baseline); with 400 amends/s taking pre-made signatures of 400 orders' amend paths while the
`PreSigner` thread re-signs each taken one on the other core (hit % = how often it kept up); and
with the loop signing those 400/s inline (what the thread avoids). "work/s" is how many slices the
loop got through: CPU the signing took from it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from mmframe_kalshi.auth import PreSigner, RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials

from mmframe.api import LiveClock

PATH = "/trade-api/v2/portfolio/events/orders/batched"
ORDERS = 4_000
SIGNING_RATE = 400  # signatures per second in the loop-lag cases


def amend(n: int) -> str:
    return f"/trade-api/v2/portfolio/events/orders/order-{n:05d}/amend"


def measure(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1_000)
    return samples


def timed_take(presigner: PreSigner, path: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        presigner.refill()  # signs the replacement of the one taken (synchronous mode)
        start = time.perf_counter_ns()
        headers = presigner.take("POST", path)
        samples.append((time.perf_counter_ns() - start) / 1_000)
        assert headers is not None
    return samples


def busy_slice() -> int:
    total = 0
    for i in range(150):  # ~10 us of interpreted work, like handling one small event
        total += i * i
    return total


async def loop_lag(seconds: float, request: Callable[[int], object] | None) -> tuple[list[float], float]:
    """Lateness of a 1 ms timer on a loop busy with work slices, while ``request(n)`` runs 400 times/s
    (an amend's signing: inline, or taking a pre-made one)."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    done = loop.time() + seconds
    slices = 0

    def tick(deadline: float) -> None:
        lags.append((loop.time() - deadline) * 1e6)
        if deadline < done:
            loop.call_at(deadline + 0.001, tick, deadline + 0.001)

    def sign(deadline: float, n: int) -> None:
        assert request is not None
        request(n)
        if deadline < done:
            loop.call_at(deadline + 1 / SIGNING_RATE, sign, deadline + 1 / SIGNING_RATE, n + 1)

    start = loop.time()
    loop.call_at(start + 0.001, tick, start + 0.001)
    if request is not None:
        loop.call_at(start, sign, start, 0)
    while loop.time() < done:
        busy_slice()
        slices += 1
        await asyncio.sleep(0)
    await asyncio.sleep(0.002)
    return lags, slices / seconds


def lag_rows(signer: RequestSigner, clock: LiveClock, seconds: float) -> list[tuple[str, list[float], str]]:
    rows = []
    lags, rate = asyncio.run(loop_lag(seconds, None))
    rows.append(("no signing (baseline)", lags, f"{rate:,.0f}"))
    # 400 orders, each amended once a second: every take asks the thread for a replacement.
    presigner = PreSigner(signer, clock, order_max_age_ms=60_000, max_order_paths=SIGNING_RATE)
    for n in range(SIGNING_RATE):
        presigner.register("POST", amend(n), per_order=True)
    presigner.start()
    presigner.wait_signed(SIGNING_RATE, timeout_s=30)
    lags, rate = asyncio.run(loop_lag(seconds, lambda n: presigner.take("POST", amend(n % SIGNING_RATE))))
    presigner.stop()
    hit = 100 * presigner.hits / max(1, presigner.hits + presigner.misses)
    rows.append((f"take {SIGNING_RATE}/s, thread re-signs ({hit:.0f}% hits)", lags, f"{rate:,.0f}"))
    lags, rate = asyncio.run(loop_lag(seconds, lambda n: signer.headers("POST", amend(n))))
    rows.append((f"loop signs {SIGNING_RATE}/s inline", lags, f"{rate:,.0f}"))
    return rows


def print_table(title: str, rows: list[tuple[str, list[float]]], extra: list[str] | None = None) -> None:
    base = statistics.median(rows[0][1])
    print(title)
    print(f"{'case':40} {'median us':>10} {'p99 us':>10} {'ratio':>8}" + (f" {'work/s':>10}" if extra else ""))
    for index, (name, samples) in enumerate(rows):
        ordered = sorted(samples)
        median = statistics.median(ordered)
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
        tail = f" {extra[index]:>10}" if extra else ""
        print(f"{name:40} {median:10.2f} {p99:10.2f} {median / base:8.3f}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each loop-lag case")
    args = parser.parse_args()
    one, five, fifteen = os.getloadavg()
    print(f"load average (1/5/15 min): {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores\n")
    clock = LiveClock()
    rsa_signer = RequestSigner(
        KalshiCredentials("bench", rsa.generate_private_key(public_exponent=65537, key_size=2048)), clock
    )
    ed_signer = RequestSigner(KalshiCredentials("bench", ed25519.Ed25519PrivateKey.generate()), clock)
    presigner = PreSigner(rsa_signer, clock, max_age_ms=60_000, order_max_age_ms=60_000)
    presigner.register("POST", PATH)
    for n in range(ORDERS):
        presigner.register("POST", amend(n), per_order=True)
    presigner.refill()

    rows = [
        ("RSA-2048 inline (baseline)", measure(lambda: rsa_signer.headers("POST", PATH), args.n)),
        ("Ed25519 inline", measure(lambda: ed_signer.headers("POST", PATH), args.n)),
        ("RSA pre-signed take(), batch path", timed_take(presigner, PATH, args.n)),
        (f"RSA pre-signed take(), amend ({ORDERS} orders)", timed_take(presigner, amend(ORDERS // 2), args.n)),
        (
            "RSA inline / order, batch of 20",
            [s / 20 for s in measure(lambda: rsa_signer.headers("POST", PATH), args.n)],
        ),
    ]
    print_table("Signing per request", rows)
    print(f"pre-signer hits={presigner.hits} misses={presigner.misses}\n")

    lag = lag_rows(rsa_signer, clock, args.seconds)
    print_table(
        "Event-loop lag (1 ms timer lateness on a busy loop)",
        [(name, samples) for name, samples, _ in lag],
        [rate for _, _, rate in lag],
    )


if __name__ == "__main__":
    main()
