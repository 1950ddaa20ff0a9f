"""``webhook``: JSON POST alerts for what an operator must know at once — a halt, a loss threshold
crossed, the venue disconnecting, rejected orders, the exchange-side order group firing — with
retries and a rate cap. The URL is treated as a secret: it is never logged."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx

from mmframe.api import (
    NANOS_PER_SECOND,
    ComponentContext,
    ComponentSpec,
    Event,
    Kind,
    OrderGroupTriggered,
    OrderRejected,
    PortfolioMarked,
    TradingHalted,
    VenueStatusChanged,
    dollars_to_price,
    format_price,
)

NAME = "webhook"
ALERTS = ("halt", "loss", "disconnect", "reject", "order_group")
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://", "description": "Where alerts are POSTed (a secret: "
                "write it as ${ALERT_WEBHOOK_URL})."},
        "alerts": {"type": "array", "items": {"enum": list(ALERTS)}, "uniqueItems": True, "default": list(ALERTS),
                   "description": "Which alerts to send."},
        "loss_thresholds": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.0001},
                            "default": [], "description": "Alert once when today's net PnL falls to -each of "
                            "these dollar amounts."},
        "max_per_minute": {"type": "integer", "minimum": 1, "default": 10,
                           "description": "Rate cap; alerts over it are counted and summarised in the next one."},
        "retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3,
                    "description": "Retries after a failed POST (connection error, 429 or 5xx)."},
        "backoff_seconds": {"type": "number", "minimum": 0, "default": 0.5,
                            "description": "First retry delay; doubles each retry."},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 5},
    },
}
EXAMPLE = {"url": "https://hooks.example.com/mmframe", "loss_thresholds": [50, 100], "max_per_minute": 10}

log = logging.getLogger("mmframe.sinks.webhook")
_SEVERITY = {"halt": "critical", "loss": "critical", "order_group": "critical", "disconnect": "warning",
             "reject": "warning"}


@dataclass(frozen=True)
class Alert:
    """One alert: its type, a one-line message and details."""

    alert: str
    message: str
    ts_ns: int
    details: Mapping[str, Any]


class AlertRules:
    """Turns events into alerts: which ones matter, once per loss threshold, rejects summarised per batch."""

    def __init__(self, enabled: Sequence[str], loss_thresholds: Sequence[int]) -> None:
        self.enabled = frozenset(enabled)
        self._thresholds = sorted(loss_thresholds)
        self._crossed: set[int] = set()

    def alerts(self, events: Sequence[Event]) -> list[Alert]:
        out: list[Alert] = []
        rejects: list[OrderRejected] = []
        for event in events:
            if isinstance(event, TradingHalted):
                out.append(Alert("halt", f"trading halted: {event.reason}", event.ts_ns, {"reason": event.reason}))
            elif isinstance(event, OrderGroupTriggered):
                out.append(Alert("order_group", f"order group {event.order_group_id} triggered {event.detail}".strip(),
                                 event.ts_ns, {"order_group_id": event.order_group_id, "detail": event.detail}))
            elif isinstance(event, VenueStatusChanged) and event.status in ("disconnected", "reconnecting"):
                out.append(Alert("disconnect", f"venue {event.status}: {event.detail}".rstrip(": "), event.ts_ns,
                                 {"status": event.status, "detail": event.detail}))
            elif isinstance(event, OrderRejected):
                rejects.append(event)
            elif isinstance(event, PortfolioMarked):
                out.extend(self._losses(event))
        if rejects:
            codes = collections.Counter(r.code for r in rejects)
            first = rejects[0]
            out.append(Alert("reject", f"{len(rejects)} order action(s) rejected, e.g. {first.action} {first.ticker}: "
                             f"{first.code} {first.message}".strip(), first.ts_ns, {"by_code": dict(codes)}))
        return [a for a in out if a.alert in self.enabled]

    def _losses(self, event: PortfolioMarked) -> list[Alert]:
        net = event.day_net_pnl
        out = []
        for threshold in self._thresholds:
            if net <= -threshold and threshold not in self._crossed:
                self._crossed.add(threshold)
                out.append(Alert("loss", f"net PnL ${format_price(net)} crossed -${format_price(threshold)}",
                                 event.ts_ns, {"net_pnl": format_price(net), "threshold": format_price(threshold)}))
        return out


class RateCap:
    """At most ``per_minute`` sends in any sliding 60 s window."""

    def __init__(self, per_minute: int, now: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._now = now
        self._sent: collections.deque[float] = collections.deque()

    def allow(self) -> bool:
        now = self._now()
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.per_minute:
            return False
        self._sent.append(now)
        return True


class _UrlRedactor(logging.Filter):
    """Hides the webhook URL in httpx's own request log lines (it logs every URL at INFO)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(str(arg) == self._url for arg in record.args):
            record.args = tuple("<webhook url>" if str(arg) == self._url else arg for arg in record.args)
        return True


class WebhookSink:
    """POSTs `Alert`s as JSON (see the module docstring)."""

    def __init__(self, config: Mapping[str, Any], pipeline: str = "", now: Callable[[], float] | None = None) -> None:
        self._url = str(config["url"])
        thresholds = [dollars_to_price(Decimal(str(t))) for t in config.get("loss_thresholds", ())]
        self.rules = AlertRules(config.get("alerts", ALERTS), thresholds)
        self.cap = RateCap(int(config.get("max_per_minute", 10)), now or time.monotonic)
        self._retries = int(config.get("retries", 3))
        self._backoff = float(config.get("backoff_seconds", 0.5))
        self._timeout = float(config.get("timeout_seconds", 5))
        self._pipeline = pipeline
        self._client: httpx.AsyncClient | None = None
        self._redactor = _UrlRedactor(self._url)
        self.sent = 0
        self.failed = 0
        self.suppressed = 0

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> WebhookSink:
        return cls(config, ctx.pipeline, lambda: ctx.clock.monotonic_ns() / NANOS_PER_SECOND)

    async def start(self) -> None:
        logging.getLogger("httpx").addFilter(self._redactor)
        self._client = httpx.AsyncClient(timeout=self._timeout)

    async def write(self, events: Sequence[Event]) -> None:
        for alert in self.rules.alerts(events):
            if not self.cap.allow():
                self.suppressed += 1
                continue
            await self._post(alert)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        logging.getLogger("httpx").removeFilter(self._redactor)

    def payload(self, alert: Alert) -> dict[str, Any]:
        """The JSON body of ``alert``; reports how many alerts the rate cap held back since the last one."""
        body: dict[str, Any] = {
            "alert": alert.alert,
            "severity": _SEVERITY[alert.alert],
            "pipeline": self._pipeline,
            "message": alert.message,
            "ts_ns": alert.ts_ns,
            "details": dict(alert.details),
        }
        if self.suppressed:
            body["suppressed_since_last"] = self.suppressed
        return body

    async def _post(self, alert: Alert) -> None:
        assert self._client is not None, "webhook sink not started"
        body = self.payload(alert)
        delay = self._backoff
        for attempt in range(self._retries + 1):
            try:
                response = await self._client.post(self._url, json=body)
                if response.status_code < 300:
                    self.sent += 1
                    self.suppressed = 0
                    return
                if response.status_code != 429 and response.status_code < 500:
                    log.error("webhook refused the %s alert: HTTP %d", alert.alert, response.status_code)
                    break
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if attempt < self._retries:
                log.warning("webhook %s alert failed (%s); retry %d in %.2fs", alert.alert, problem, attempt + 1, delay)
                await anyio.sleep(delay)
                delay *= 2
        self.failed += 1


SPEC = ComponentSpec(
    kind=Kind.SINK,
    name=NAME,
    summary="JSON POST alerts (halt, loss thresholds, disconnects, rejects, order group) with retries and a rate cap.",
    factory=WebhookSink.build,
    config_schema=SCHEMA,
    example=EXAMPLE,
    description=(WebhookSink.__doc__ or "").strip(),
)
