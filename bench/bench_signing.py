"""Request-signing cost, and what pre-signing and batching leave on the critical path.

Run: python bench/bench_signing.py [--n 2000]

Rows (per request, microseconds): signing inline with RSA-2048 (the baseline), with Ed25519,
taking a pre-signed RSA signature (`PreSigner.take`, what the executor's batch requests pay), and
inline RSA amortised over a 20-order batch. Ratio = median / baseline median, same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from mmframe_kalshi.auth import PreSigner, RequestSigner
from mmframe_kalshi.credentials import KalshiCredentials

from mmframe.api import LiveClock

PATH = "/trade-api/v2/portfolio/events/orders/batched"


def measure(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1_000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    clock = LiveClock()
    rsa_signer = RequestSigner(
        KalshiCredentials("bench", rsa.generate_private_key(public_exponent=65537, key_size=2048)), clock
    )
    ed_signer = RequestSigner(KalshiCredentials("bench", ed25519.Ed25519PrivateKey.generate()), clock)
    presigner = PreSigner(rsa_signer, clock, max_age_ms=60_000)
    presigner.register("POST", PATH)

    def timed_take() -> list[float]:
        samples = []
        for _ in range(args.n):
            presigner.refill()
            start = time.perf_counter_ns()
            headers = presigner.take("POST", PATH)
            samples.append((time.perf_counter_ns() - start) / 1_000)
            assert headers is not None
        return samples

    rows = [
        ("RSA-2048 inline (baseline)", measure(lambda: rsa_signer.headers("POST", PATH), args.n)),
        ("Ed25519 inline", measure(lambda: ed_signer.headers("POST", PATH), args.n)),
        ("RSA pre-signed take()", timed_take()),
        (
            "RSA inline / order, batch of 20",
            [s / 20 for s in measure(lambda: rsa_signer.headers("POST", PATH), args.n)],
        ),
    ]
    base = statistics.median(rows[0][1])
    print(f"{'case':34} {'median us':>10} {'p99 us':>10} {'ratio':>8}")
    for name, samples in rows:
        samples.sort()
        median = statistics.median(samples)
        p99 = samples[int(len(samples) * 0.99) - 1]
        print(f"{name:34} {median:10.2f} {p99:10.2f} {median / base:8.3f}")
    print(f"pre-signer hits={presigner.hits} misses={presigner.misses}")


if __name__ == "__main__":
    main()
