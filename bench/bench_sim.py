"""Simulator server throughput over real loopback sockets: signed REST requests/s, order operations/s
through batches, and WebSocket messages/s of fan-out.

Run: ``python bench/bench_sim.py [--seconds S] [--connections N] [--subscribers K]``.

The simulator runs in its own process (as ``mmframe sim serve`` does) so load generation does not
steal its event loop; clients are lean on purpose (pre-built keep-alive HTTP/1.1 requests, a
WebSocket frame counter) so the numbers are the server's. Each row prints median and p99 latency
(or per-window rates), the rate, the goal, and the ratio to a baseline measured in the same run:

- signed REST: ``GET /portfolio/balance`` signed with RSA-PSS (the server verifies every request;
  signatures are made ahead of time, each request still carries its own). Baseline: the same
  uvicorn serving a bare ASGI app that answers ``{}`` -- the ceiling of the HTTP stack itself.
- order ops: batches of 1,000 creates then the matching batch cancel (each order = 2 operations).
  Baseline: the engine's own ``create_orders``/``cancel_orders`` in-process, without HTTP.
- WS fan-out: K connections subscribed to one market's ``orderbook_delta``; every create/cancel
  makes one delta per subscriber. Baseline: the same count of frames written by websockets'
  sans-I/O protocol in-process (the encoding cost alone).

Goals (issue 4): >= 3,000 signed requests/s, >= 20,000 order operations/s, >= 100,000 WS msgs/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time
from typing import Any

import orjson

SERIES, EVENT, TICKER = "BENCH", "BENCH-1", "BENCH-1-A"
GOALS = {"signed REST req/s": 3_000, "order ops/s (batched)": 20_000, "WS msgs/s out": 100_000}


# --- the server process ------------------------------------------------------------------------


def _quiet_exchange(clock: Any) -> Any:
    from mmframe_sim.engine import EventSpec, Exchange, MarketSpec, SeriesSpec
    from mmframe_sim.fees import FeeType

    ex = Exchange(clock, seed=1, participants=False)
    ex.add_series(SeriesSpec(SERIES, "Bench", FeeType.QUADRATIC))
    ex.add_event(EventSpec(EVENT, SERIES, "Bench"))
    ex.add_market(MarketSpec(TICKER, EVENT, "Bench market"))
    return ex


def _server_main(public_pem: bytes, out: Any, stop: Any, bare: bool) -> None:
    import anyio

    async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})

    async def main() -> None:
        if bare:
            import uvicorn

            config = uvicorn.Config(bare_app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                    lifespan="off")
            server = uvicorn.Server(config)
            task = asyncio.ensure_future(server.serve())
            while not server.started:
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            out.put({"rest": f"http://127.0.0.1:{port}"})
            await anyio.to_thread.run_sync(stop.wait)
            server.should_exit = True
            await task
            return
        from mmframe_sim.serve import start_simulator

        async with start_simulator(exchange_factory=_quiet_exchange, default_tier="unlimited",
                                   ws_queue_limit=1_000_000) as sim:
            key_id = sim.register_public_key(public_pem, balance=10**12)
            out.put({"rest": sim.rest_url, "ws": sim.ws_url, "key_id": key_id})
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


class ServerProcess:
    def __init__(self, public_pem: bytes, *, bare: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self._out = ctx.Queue()
        self._stop = ctx.Event()
        self._process = ctx.Process(target=_server_main, args=(public_pem, self._out, self._stop, bare), daemon=True)

    def __enter__(self) -> dict[str, Any]:
        self._process.start()
        info: dict[str, Any] = self._out.get(timeout=60)
        return info

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


# --- lean clients -------------------------------------------------------------------------------


def _signer(key_id: str, private_pem: bytes) -> Any:
    sys.path.insert(0, ".")
    from tests.sim.kalshi_test_client import Signer

    return Signer(key_id, private_pem)


def _raw_get(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


async def _http_worker(host: str, port: int, requests: list[bytes], deadline: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    done = 0
    i = 0
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(requests[i])
            i = (i + 1) % len(requests)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            status = head[9:12]
            if length:
                await reader.readexactly(length)
            if status != b"200":
                raise RuntimeError(f"HTTP {status.decode()}: the benchmark expects 200")
            latencies.append(time.perf_counter() - start)
            done += 1
    finally:
        writer.close()
    return done


async def _http_load(url: str, requests: list[bytes], connections: int, seconds: float) -> tuple[float, list[float]]:
    host_port = url.split("//")[1].split("/")[0]
    host, port = host_port.split(":")
    latencies: list[float] = []
    start = time.perf_counter()
    counts = await asyncio.gather(*(
        _http_worker(host, int(port), requests[i::connections] or requests, start + seconds, latencies)
        for i in range(connections)
    ))
    return sum(counts) / (time.perf_counter() - start), latencies


def _signed_requests(info: dict[str, Any], signer: Any, count: int) -> list[bytes]:
    host_port = info["rest"].split("//")[1].split("/")[0]
    host, port = host_port.split(":")
    path = "/trade-api/v2/portfolio/balance"
    now = int(time.time() * 1000)
    # distinct timestamps, so every request carries its own signature (all inside the 30 s window)
    return [_raw_get(host, int(port), path, signer.headers("GET", path, timestamp_ms=now + i)) for i in range(count)]


# --- order operations -------------------------------------------------------------------------------


def _order(price_cents: int) -> dict[str, Any]:
    return {"ticker": TICKER, "side": "bid", "price": f"0.{price_cents:02d}00", "count": "1.00",
            "time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


async def _order_ops(info: dict[str, Any], signer: Any, seconds: float, batch: int) -> tuple[float, list[float]]:
    import httpx

    rest = info["rest"]
    base = "/trade-api/v2"
    orders = {"orders": [_order(1 + i % 40) for i in range(batch)]}
    body = orjson.dumps(orders)
    ops = 0
    windows: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            path = base + "/portfolio/events/orders/batched"
            created = await http.post(rest + "/portfolio/events/orders/batched", content=body,
                                      headers={**signer.headers("POST", path), "Content-Type": "application/json"})
            ids = [o["order_id"] for o in orjson.loads(created.content)["orders"]]
            cancel = orjson.dumps({"orders": [{"order_id": i} for i in ids]})
            canceled = await http.request("DELETE", rest + "/portfolio/events/orders/batched", content=cancel,
                                          headers={**signer.headers("DELETE", path),
                                                   "Content-Type": "application/json"})
            if created.status_code != 201 or canceled.status_code != 200:
                raise RuntimeError(f"batch failed: {created.status_code} {canceled.status_code}")
            ops += 2 * len(ids)
            windows.append(2 * len(ids) / (time.perf_counter() - t0))
        return ops / (time.perf_counter() - start), windows


def _engine_ops(seconds: float, batch: int) -> float:
    from mmframe_sim.engine import OrderRequest, Side

    from mmframe.api import LiveClock

    ex = _quiet_exchange(LiveClock())
    ex.open_account("u", balance=10**12)
    requests = [OrderRequest(ticker=TICKER, side=Side.BID, price=(1 + i % 40) * 100, count=100) for i in range(batch)]
    ops = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        results = ex.create_orders("u", requests)
        ex.cancel_orders("u", [r.order.order_id for r in results if not isinstance(r, Exception)])
        ops += 2 * batch
    return ops / (time.perf_counter() - start)


# --- WebSocket fan-out -----------------------------------------------------------------------------


def _count_frames(buffer: bytearray) -> tuple[int, int]:
    """Complete server frames at the front of ``buffer``: (text frames, bytes consumed)."""
    i = count = 0
    n = len(buffer)
    while i + 2 <= n:
        length = buffer[i + 1] & 0x7F
        header = 2
        if length == 126:
            if i + 4 > n:
                break
            length = int.from_bytes(buffer[i + 2 : i + 4], "big")
            header = 4
        elif length == 127:
            if i + 10 > n:
                break
            length = int.from_bytes(buffer[i + 2 : i + 10], "big")
            header = 10
        if i + header + length > n:
            break
        if buffer[i] & 0x0F == 0x1:
            count += 1
        i += header + length
    return count, i


def _subscriber_main(info: dict[str, Any], headers_list: list[dict[str, str]], ready: Any, counts: Any,
                     seconds: float) -> None:
    from websockets.client import ClientProtocol
    from websockets.uri import parse_uri

    async def one(index: int, headers: dict[str, str]) -> None:
        uri = parse_uri(info["ws"])
        reader, writer = await asyncio.open_connection(uri.host, uri.port)
        protocol = ClientProtocol(uri)
        request = protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        protocol.send_request(request)
        writer.write(b"".join(protocol.data_to_send()))
        while True:
            data = await reader.read(65536)
            protocol.receive_data(data)
            if protocol.handshake_exc is not None:
                raise protocol.handshake_exc
            if protocol.state.name == "OPEN":
                break
        protocol.send_text(orjson.dumps({"id": 1, "cmd": "subscribe",
                                         "params": {"channels": ["orderbook_delta"], "market_tickers": [TICKER]}}))
        writer.write(b"".join(protocol.data_to_send()))
        ready.release()
        buffer = bytearray()
        total = 0
        deadline = time.perf_counter() + seconds + 30
        while time.perf_counter() < deadline:
            data = await reader.read(1 << 20)
            if not data:
                break
            buffer += data
            count, used = _count_frames(buffer)
            del buffer[:used]
            total += count
            counts[index] = total
        writer.close()

    async def main() -> None:
        await asyncio.gather(*(one(i, h) for i, h in enumerate(headers_list)), return_exceptions=True)

    asyncio.run(main())


async def _ws_fanout(info: dict[str, Any], signer: Any, subscribers: int, seconds: float,
                     batch: int) -> tuple[float, list[float]]:
    ctx = mp.get_context("spawn")
    ready = ctx.Semaphore(0)
    counts = ctx.Array("q", subscribers)
    headers = [signer.headers("GET", "/trade-api/ws/v2") for _ in range(subscribers)]
    process = ctx.Process(target=_subscriber_main, args=(info, headers, ready, counts, seconds), daemon=True)
    process.start()
    for _ in range(subscribers):
        if not ready.acquire(timeout=60):
            raise RuntimeError("subscribers did not connect")
    await asyncio.sleep(0.5)
    before = sum(counts[:])
    driver = asyncio.ensure_future(_order_ops(info, signer, seconds, batch))
    windows: list[float] = []
    start = time.perf_counter()
    last, last_t = before, start
    while not driver.done():
        await asyncio.sleep(0.5)
        now_count, now_t = sum(counts[:]), time.perf_counter()
        windows.append((now_count - last) / (now_t - last_t))
        last, last_t = now_count, now_t
    await driver
    await asyncio.sleep(1.0)  # let the queues drain
    received = sum(counts[:]) - before
    elapsed = time.perf_counter() - start
    process.terminate()
    process.join(5)
    return received / elapsed, windows


def _encode_baseline(frames: int) -> float:
    from websockets.server import ServerProtocol

    protocol = ServerProtocol()
    protocol.state = protocol.state.__class__.OPEN  # encoding only
    text = orjson.dumps({"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {
        "market_ticker": TICKER, "market_id": "x" * 36, "price_dollars": "0.4500", "delta_fp": "1.00",
        "side": "yes", "ts_ms": 1}})
    start = time.perf_counter()
    for _ in range(frames // 1000):
        for _ in range(1000):
            protocol.send_text(text)
        protocol.data_to_send()
    return frames / (time.perf_counter() - start)


# --- report -------------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measuring time per row")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds against the baseline")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--subscribers", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    slice_s = args.seconds / args.rounds

    sys.path.insert(0, ".")
    from mmframe_sim.auth import generate_rsa_key_pair

    private_pem, public_pem = generate_rsa_key_pair()
    rows: list[tuple[str, str, str, float, float, float]] = []

    with ServerProcess(public_pem, bare=True) as bare, ServerProcess(public_pem) as info:
        host, port = bare["rest"].split("//")[1].split(":")
        plain = [_raw_get(host, int(port), "/", {})]
        signer = _signer(info["key_id"], private_pem)
        # rounds interleaved with the baseline so both see the same machine load
        rest_rates, base_rates, latencies = [], [], []
        for _ in range(args.rounds):
            base_rates.append(asyncio.run(_http_load(bare["rest"], plain, args.connections, slice_s))[0])
            requests = _signed_requests(info, signer, 10_000)
            rate, lat = asyncio.run(_http_load(info["rest"], requests, args.connections, slice_s))
            rest_rates.append(rate)
            latencies.extend(lat)
        rows.append(("signed REST req/s", f"{_pct(latencies, 0.5) * 1e3:.2f} ms",
                     f"{_pct(latencies, 0.99) * 1e3:.2f} ms", statistics.median(rest_rates),
                     statistics.median(base_rates), GOALS["signed REST req/s"]))

        ops_rates, engine_rates, windows = [], [], []
        for _ in range(args.rounds):
            engine_rates.append(_engine_ops(slice_s, args.batch))
            rate, w = asyncio.run(_order_ops(info, signer, slice_s, args.batch))
            ops_rates.append(rate)
            windows.extend(w)
        rows.append(("order ops/s (batched)", f"{statistics.median(windows):,.0f}/s", f"{_pct(windows, 0.01):,.0f}/s",
                     statistics.median(ops_rates), statistics.median(engine_rates), GOALS["order ops/s (batched)"]))

        encode_before = _encode_baseline(200_000)
        ws_rate, ws_windows = asyncio.run(_ws_fanout(info, signer, args.subscribers, args.seconds, args.batch))
        encode_after = _encode_baseline(200_000)
        rows.append(("WS msgs/s out", f"{statistics.median(ws_windows):,.0f}/s", f"{_pct(ws_windows, 0.01):,.0f}/s",
                     ws_rate, (encode_before + encode_after) / 2, GOALS["WS msgs/s out"]))

    print(f"\nsimulator server: {args.seconds:.0f} s per row in {args.rounds} interleaved rounds, "
          f"{args.connections} HTTP connections, {args.subscribers} WS subscribers, batches of {args.batch}")
    print(f"{'measure':24} {'median':>12} {'p99/p1':>12} {'actual':>12} {'goal':>10} {'ok':>4} {'baseline':>12} {'ratio':>6}")
    for name, median, tail, actual, baseline, goal in rows:
        ok = "yes" if actual >= goal else "NO"
        print(f"{name:24} {median:>12} {tail:>12} {actual:>12,.0f} {goal:>10,} {ok:>4} {baseline:>12,.0f} "
              f"{actual / baseline:>6.2f}")
    print("median/p99: request latency (REST) or per-window rate, p1 = slowest window (ops, WS)")
    print("baselines: bare ASGI app on the same uvicorn | engine in-process, no HTTP | websockets frame encoding only")


if __name__ == "__main__":
    main()
