"""Request signing (API.md §2), and keeping RSA signing off the event loop.

Kalshi authenticates every request with three headers: ``KALSHI-ACCESS-KEY`` (key id),
``KALSHI-ACCESS-TIMESTAMP`` (Unix ms) and ``KALSHI-ACCESS-SIGNATURE``, the base64 signature of
``timestamp + METHOD + path`` where ``path`` starts at the host root (``/trade-api/v2/...``) and
drops the query string. The body is not signed. RSA keys sign with RSA-PSS (SHA-256, MGF1-SHA-256,
salt = digest length); Ed25519 keys sign the same text.

Latency. An RSA-2048 signature costs ~0.3-0.9 ms here (bench/bench_signing.py), 3-9x the whole
event-to-order budget (p50 100 us). Since the signed text holds no body and no nonce, a signature
can be made *before* the request exists, as long as its method and path are known and its
timestamp is still fresh when sent. What we do:

1. Creates and cancels go through the fixed-path batch endpoints
   (``POST``/``DELETE /portfolio/events/orders/batched``): one signature per batch, path known in
   advance.
2. Amends and decreases carry the order id in the path, which is known from the moment the order
   is accepted: the executor registers ``.../{order_id}/amend`` and ``.../{order_id}/decrease`` then
   (`KalshiRestClient.presign_order`) and forgets them when the order closes (`forget_order`).
3. `PreSigner` keeps one ready signature per registered (method, path), signed by one daemon
   thread (`start`/`stop`). cryptography releases the GIL while it signs, so the thread signs on the
   other core while the loop runs (but see "The GIL" below). The loop only calls O(1) methods: `take` pops a ready
   signature under a lock and posts the path on a queue for a replacement; `register`/`forget` post
   to the same queue. The thread keeps a heap of due times: a signature is re-made after 3/4 of its
   max age, a taken or new one at once, so the loop never walks the registered paths.
4. One use each: `take` hands a signature out once, so no two requests share one. When none is
   ready (a burst, a path over the cap, a thread behind) the request signs inline: correct, slower.
5. Freshness: fixed paths' signatures are at most ``max_age_ms`` old when taken (default 2 s),
   per-order ones ``order_max_age_ms`` (default 10 s; Kalshi's timestamp window is unpublished, FIX
   allows 30 s, the simulator 30 s). If the venue still answers a pre-signed request with
   ``header_timestamp_expired``, `note_expired` halves that max age (down to ``min_age_ms``) and logs
   a WARNING the first time; the request itself is re-signed inline and retried by the REST client.

Cost at scale. Each kept path costs one signature per 3/4 max age: at 4,000 resting orders with
amend and decrease paths (8,000 paths, the default cap ``max_order_paths``) and a 10 s max age that
is ~1,070 signatures/s, ~0.35 of a core at ~0.33 ms each (RSA-2048), on the signing thread, which
keeps up only while the loop is not saturated (see "The GIL"); Ed25519 keys cost ~10x less CPU.
Beyond the cap, paths wait (first come, first served) until kept paths are forgotten, and their
requests sign inline. At 4 markets (~8 orders, 16 paths) it is ~2 signatures/s.

The GIL. Signing itself runs without the GIL, but each signature needs it back for a few
microseconds when it returns. While the loop is busy with Python code, the thread waits for it up
to ``sys.getswitchinterval()`` (5 ms) and the loop then pauses while the thread takes its turn: with
a free core that hand-over costs microseconds, on an oversubscribed machine it waits for the OS to
run the thread. The same hand-overs bound the thread's rate: measured here (RSA, load average ~2.7)
~3,000 signatures/s beside an idle loop, ~1,500/s beside a loop busy 50-80% of the time, ~300-700/s
beside a loop busy 100% (then refreshes fall behind, takes miss and sign inline).

Measured by bench/bench_signing.py on this 2-core machine (medians; load average 2.5-4 from other
work): RSA-2048 inline ~240-350 us per request; Ed25519 inline ~33-47 us; taking a pre-signed
signature ~1.5-4 us, the same for one amend path among 4,000 registered as for a batch path. On a
100%-busy loop with 400 amends/s the result depends on whether the thread finds a free core: 1 ms
timer lag median ~10-26 us with no amends; ~19-1,600 us with the thread re-signing (every take a
hit; loop throughput -15% to -45%); ~270-1,400 us signing inline (-15% to -30%). So the thread takes
the ~0.3 ms out of each amend's own path, and it is cheaper for the loop only when a core is free.
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import logging
import os
import queue
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from mmframe.api import Clock
from mmframe_kalshi.credentials import KalshiCredentials

logger = logging.getLogger(__name__)

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_text(timestamp_ms: int, method: str, path: str) -> bytes:
    """The exact bytes Kalshi verifies: ``timestamp + METHOD + path`` without the query string."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


class RequestSigner:
    """Signs requests with one credential; time from the injected clock."""

    def __init__(self, credentials: KalshiCredentials, clock: Clock) -> None:
        self._credentials = credentials
        self._clock = clock

    @property
    def key_id(self) -> str:
        return self._credentials.key_id

    def signature(self, timestamp_ms: int, method: str, path: str) -> str:
        """Base64 signature of `signing_text`."""
        message = signing_text(timestamp_ms, method, path)
        key = self._credentials.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            raw = key.sign(message, _PSS, hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            raw = key.sign(message)
        else:  # pragma: no cover - KalshiCredentials rejects other key types
            raise TypeError(f"unsupported key type {type(key).__name__}")
        return base64.b64encode(raw).decode("ascii")

    def headers(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three auth headers for ``method path``, signed now (or at ``timestamp_ms``)."""
        ts = self._clock.now_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
        return {
            HEADER_KEY: self._credentials.key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: self.signature(ts, method, path),
        }



DEFAULT_MAX_AGE_MS = 2_000
"""Oldest a fixed path's (batch endpoints') pre-made signature may be when taken."""
DEFAULT_ORDER_MAX_AGE_MS = 10_000
"""Oldest a per-order path's (amend, decrease) pre-made signature may be when taken."""
DEFAULT_MAX_ORDER_PATHS = 8_000
"""Per-order paths kept ready at most: amend + decrease of 4,000 resting orders."""
DEFAULT_MIN_AGE_MS = 250
"""Floor of the adaptive halving after the venue refused a pre-signed timestamp."""

_REFRESH_NUM, _REFRESH_DEN = 3, 4  # re-sign after 3/4 of the max age: the rest is slack for a busy thread
_MAX_IDLE_S = 0.5  # the signing thread re-reads the clock at least this often
_POLL_S = 0.005
"""How often the signing thread looks for work without being woken. The event loop wakes it only
once its current step is over (`_wake_after_this_step`): woken at once, it would take the GIL at the
request's own socket write and the write would wait for it."""
_URGENT = 0  # due time of a path with no ready signature: ahead of every refresh

_Key = tuple[str, str]
_Entry = tuple[int, int, _Key]  # (due ms, sequence, key) in the heap
_DUE, _RESCAN, _WAKE = 0, 1, 2  # inbox operations
_NO_KEY: _Key = ("", "")


@dataclass(frozen=True, slots=True)
class _Ready:
    timestamp_ms: int
    per_order: bool
    headers: dict[str, str]


class PreSigner:
    """Ready-made, one-use signatures for registered (method, path)s; see the module docstring.

    Loop side (O(1), never signs): `register`, `forget`, `take`, `note_expired`. Signing side:
    `refill` signs what is due; `start` runs it in a daemon thread until `stop`. Without the thread
    (tests with a `TestClock`), call `refill` directly: scheduling then follows the injected clock
    exactly. While the thread runs, only the thread may call `refill`.
    """

    def __init__(
        self,
        signer: RequestSigner,
        clock: Clock,
        *,
        max_age_ms: int = DEFAULT_MAX_AGE_MS,
        order_max_age_ms: int = DEFAULT_ORDER_MAX_AGE_MS,
        max_order_paths: int = DEFAULT_MAX_ORDER_PATHS,
        min_age_ms: int = DEFAULT_MIN_AGE_MS,
    ) -> None:
        for name, value in (("max_age_ms", max_age_ms), ("order_max_age_ms", order_max_age_ms),
                            ("min_age_ms", min_age_ms)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"PreSigner {name} must be a positive whole number of ms, got {value!r}")
        if min_age_ms > min(max_age_ms, order_max_age_ms):
            raise ValueError(f"PreSigner min_age_ms ({min_age_ms}) exceeds a max age "
                             f"({max_age_ms}, {order_max_age_ms})")
        if not isinstance(max_order_paths, int) or max_order_paths < 0:
            raise ValueError(f"PreSigner max_order_paths must be a whole number >= 0, got {max_order_paths!r}")
        self._signer = signer
        self._clock = clock
        self.max_order_paths = max_order_paths
        self._min_age_ms = min_age_ms
        self._max_age = {False: max_age_ms, True: order_max_age_ms}  # by per-order: the age in use
        # Shared with the signing thread, under _lock (held only for dict operations, never to sign).
        self._lock = threading.Lock()
        self._signed_cond = threading.Condition(self._lock)
        self._active: dict[_Key, bool] = {}  # kept-ready paths -> per-order?
        self._ready: dict[_Key, _Ready] = {}
        self._waiting: OrderedDict[_Key, None] = OrderedDict()  # per-order paths over the cap
        self._order_paths = 0
        # Event-loop side.
        self._halved_at_ms = {False: -1, True: -1}
        self._warned = False
        # Signing side: the inbox is the only way in; the heap is the only schedule.
        self._inbox: queue.SimpleQueue[tuple[int, _Key]] = queue.SimpleQueue()
        self._wake_pending = False
        self._asked: deque[_Key] = deque()
        """Paths the loop wants signed (registered, taken, promoted): appended without waking the
        thread, collected every `_POLL_S` (deque appends and pops are atomic)."""
        self._heap: list[_Entry] = []
        self._due: dict[_Key, _Entry] = {}  # the one valid heap entry per path
        self._seq = 0
        self._thread: threading.Thread | None = None
        self.background_priority: str | None = None
        """How the signing thread yields the CPU to the event loop (``SCHED_IDLE``, ``nice 19``), or
        None when the platform allows neither (or the thread has not started)."""
        self._stopping = threading.Event()
        self.hits = 0
        self.misses = 0
        self.over_cap = 0
        self.signed = 0
        self.errors = 0
        self.halvings = 0

    # --- event-loop side ------------------------------------------------------------------------

    @property
    def max_age_ms(self) -> int:
        """Max age in use for fixed paths (halved after the venue refused one as expired)."""
        return self._max_age[False]

    @property
    def order_max_age_ms(self) -> int:
        """Max age in use for per-order paths."""
        return self._max_age[True]

    def register(self, method: str, path: str, *, per_order: bool = False) -> bool:
        """Keep a signature ready for ``method path`` from now on.

        ``per_order`` paths (amend/decrease of one order) use ``order_max_age_ms`` and count against
        ``max_order_paths``; beyond it the path waits for a free place and False is returned (its
        requests sign inline meanwhile). Registering a kept path again changes nothing.
        """
        key = (method.upper(), path)
        with self._lock:
            if key in self._active:
                return True
            if key in self._waiting:
                return False
            if per_order:
                if self._order_paths >= self.max_order_paths:
                    self._waiting[key] = None
                    return False
                self._order_paths += 1
            self._active[key] = per_order
        self._asked.append(key)
        self._wake_after_this_step()  # its order may be amended within milliseconds
        return True

    def forget(self, method: str, path: str) -> None:
        """Stop keeping ``method path`` ready (its order closed); its ready signature is dropped."""
        key = (method.upper(), path)
        promoted: _Key | None = None
        with self._lock:
            if key in self._waiting:
                del self._waiting[key]
                return
            per_order = self._active.pop(key, None)
            if per_order is None:
                return
            self._ready.pop(key, None)
            if per_order:
                self._order_paths -= 1
                if self._waiting and self._order_paths < self.max_order_paths:
                    promoted, _ = self._waiting.popitem(last=False)
                    self._active[promoted] = True
                    self._order_paths += 1
        if promoted is not None:
            self._asked.append(promoted)
            self._wake_after_this_step()

    def take(self, method: str, path: str) -> dict[str, str] | None:
        """A fresh unused signature's headers, or None (the caller then signs inline).

        Each signature is handed out once; taking one asks the signing side for a replacement.
        """
        key = (method.upper(), path)
        with self._lock:
            ready = self._ready.pop(key, None)
            if ready is None and key not in self._active:
                if key in self._waiting:
                    self.over_cap += 1
                return None
        self._asked.append(key)
        self._wake_after_this_step()  # a replacement is needed soon: a miss signs inline (~0.3 ms)
        if ready is None or self._now_ms() - ready.timestamp_ms > self._max_age[ready.per_order]:
            self.misses += 1
            return None
        self.hits += 1
        return ready.headers

    def _wake_after_this_step(self) -> None:
        """Wake the signing thread once the event loop's current step is over, not now: woken now,
        it would take the GIL at the request's own socket write (which releases it) and the write
        would wait for it (measured: `socket.send` 270 us instead of ~10)."""
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            asyncio.get_running_loop().call_soon(self._wake_thread)
        except RuntimeError:  # no event loop (synchronous use): wake it now
            self._wake_thread()

    def _wake_thread(self) -> None:
        self._wake_pending = False
        self._inbox.put((_WAKE, _NO_KEY))

    def note_expired(self, method: str, path: str, timestamp_ms: int) -> None:
        """The venue refused a pre-signed request of ``method path`` signed at ``timestamp_ms`` as expired.

        Halves the max age of that kind of path (fixed or per-order), down to ``min_age_ms``, and
        logs a WARNING the first time. Reports about signatures made before the last halving are
        ignored, so a burst of refused in-flight requests halves once.
        """
        key = (method.upper(), path)
        with self._lock:
            per_order = self._active.get(key)
        if per_order is None or timestamp_ms < self._halved_at_ms[per_order]:
            return
        old = self._max_age[per_order]
        new = max(self._min_age_ms, old // 2)
        self._halved_at_ms[per_order] = self._now_ms()
        if new == old:
            return
        self._max_age[per_order] = new
        self.halvings += 1
        kind = "per-order" if per_order else "fixed-path"
        if not self._warned:
            self._warned = True
            logger.warning(
                "the venue refused a pre-signed request's timestamp as expired: %s signatures now "
                "expire after %d ms (was %d ms); lower presign_%smax_age_ms in the venue config",
                kind, new, old, "order_" if per_order else "",
            )
        else:
            logger.info("pre-signed %s signatures now expire after %d ms (was %d ms)", kind, new, old)
        self._inbox.put((_RESCAN, _NO_KEY))

    def describe(self) -> dict[str, Any]:
        """Counters and settings for ``/state``."""
        with self._lock:
            ready, kept, waiting = len(self._ready), len(self._active), len(self._waiting)
        return {
            "hits": self.hits,
            "misses": self.misses,
            "over_cap": self.over_cap,
            "signed": self.signed,
            "errors": self.errors,
            "ready": ready,
            "kept": kept,
            "waiting": waiting,
            "thread_priority": self.background_priority,
            "max_age_ms": self.max_age_ms,
            "order_max_age_ms": self.order_max_age_ms,
            "halvings": self.halvings,
            "thread": self.running,
        }

    # --- signing side ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the signing thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the daemon signing thread (idempotent)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._work, name="kalshi-presigner", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the signing thread and wait for it (at most one signature in progress, ~1 ms)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._inbox.put((_WAKE, _NO_KEY))
        thread.join(timeout_s)
        if thread.is_alive():  # pragma: no cover - a signature never takes seconds
            logger.warning("the pre-signing thread did not stop within %.1f s", timeout_s)
        else:
            self._stopping.clear()  # `refill` works synchronously again

    def wait_signed(self, count: int, timeout_s: float) -> bool:
        """Block until at least ``count`` signatures were made in total (not for the event loop);
        False on timeout."""
        with self._signed_cond:
            return self._signed_cond.wait_for(lambda: self.signed >= count, timeout_s)

    def wait_ready(self, method: str, path: str, timeout_s: float) -> bool:
        """Block until a signature for ``method path`` is ready (not for the event loop: use
        ``asyncio.to_thread``); False on timeout."""
        key = (method.upper(), path)
        with self._signed_cond:
            return self._signed_cond.wait_for(lambda: key in self._ready, timeout_s)

    def refill(self, limit: int | None = None) -> int:
        """Sign what is due now, new and taken paths first; returns how many were made.

        The signing thread calls this in a loop; without the thread, call it directly.
        """
        thread = self._thread
        if thread is not None and threading.current_thread() is not thread:
            raise RuntimeError("PreSigner.refill runs in the signing thread while it is started")
        made = 0
        while (limit is None or made < limit) and not self._stopping.is_set():
            self._drain()
            now = self._now_ms()
            key = self._pop_due(now)
            if key is None:
                break
            if self._sign(key, now):
                made += 1
        return made

    def _work(self) -> None:
        self.background_priority = _yield_to_other_threads()
        while not self._stopping.is_set():
            try:
                self.refill()
            except Exception:  # pragma: no cover - defensive: the thread must not die silently
                logger.exception("pre-signing failed")
            try:
                op, key = self._inbox.get(timeout=min(self._idle_s(), _POLL_S))
            except queue.Empty:
                continue
            self._handle(op, key)

    def _idle_s(self) -> float:
        if not self._heap:
            return _MAX_IDLE_S
        return min(_MAX_IDLE_S, max(0.0, (self._heap[0][0] - self._now_ms()) / 1_000))

    def _drain(self) -> None:
        asked = self._asked
        while asked:
            self._handle(_DUE, asked.popleft())
        while True:
            try:
                op, key = self._inbox.get_nowait()
            except queue.Empty:
                return
            self._handle(op, key)

    def _handle(self, op: int, key: _Key) -> None:
        if op == _DUE:
            with self._lock:
                ready = self._ready.get(key)
            if ready is None or key not in self._due:  # else a replacement was made meanwhile
                self._schedule(key, _URGENT)
        elif op == _RESCAN:
            self._reschedule_all()

    def _schedule(self, key: _Key, due_ms: int) -> None:
        """Make ``due_ms`` the path's next signing time unless one is already sooner."""
        current = self._due.get(key)
        if current is not None and current[0] <= due_ms:
            return
        self._seq += 1
        entry = (due_ms, self._seq, key)
        self._due[key] = entry
        heapq.heappush(self._heap, entry)

    def _reschedule_all(self) -> None:
        """After a max age was halved: bring refreshes forward to the new age (rare, O(n))."""
        for key in list(self._due):
            with self._lock:
                per_order = self._active.get(key)
                ready = self._ready.get(key)
            if per_order is not None:
                self._schedule(key, _URGENT if ready is None else ready.timestamp_ms + self._refresh_ms(per_order))

    def _pop_due(self, now_ms: int) -> _Key | None:
        while self._heap and self._heap[0][0] <= now_ms:
            entry = heapq.heappop(self._heap)
            key = entry[2]
            if self._due.get(key) is entry:  # else superseded by a sooner entry
                del self._due[key]
                return key
        return None

    def _sign(self, key: _Key, now_ms: int) -> bool:
        with self._lock:
            per_order = self._active.get(key)
        if per_order is None:  # forgotten meanwhile
            return False
        try:
            headers = self._signer.headers(key[0], key[1], now_ms)
        except Exception:
            self.errors += 1
            log = logger.exception if self.errors == 1 else logger.debug
            log("pre-signing %s %s failed", *key)
            self._schedule(key, now_ms + self._refresh_ms(per_order))
            return False
        with self._signed_cond:
            if key in self._active:  # not forgotten while signing
                self._ready[key] = _Ready(now_ms, per_order, headers)
            self.signed += 1
            self._signed_cond.notify_all()
        self._schedule(key, now_ms + self._refresh_ms(per_order))
        return True

    def _refresh_ms(self, per_order: bool) -> int:
        return max(1, self._max_age[per_order] * _REFRESH_NUM // _REFRESH_DEN)

    def _now_ms(self) -> int:
        return self._clock.now_ns() // 1_000_000


def _yield_to_other_threads() -> str | None:
    """Make the calling thread run only when the CPU has nothing else to do.

    The pre-signer shares the daemon's CPU with the event loop. As an ordinary thread, a frame that
    arrives while it signs (~0.3 ms of C code with the GIL released) waits for the scheduler to
    preempt it; as ``SCHED_IDLE`` (or at least ``nice 19``) the event loop's wake-up takes the CPU at
    once. Starved under sustained load it only means more signatures are made inline.
    Linux schedules threads individually: both calls get this thread's own id, not the process's.
    """
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        return "SCHED_IDLE"
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, 19)
        return "nice 19"
    except (AttributeError, OSError):
        return None
