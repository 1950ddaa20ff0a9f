"""``alerts``: what an operator must hear about, on the phone, through apprise — one URL per target
(``tgram://``, ``slack://``, ``discord://``, ``mailtos://``, ``ntfy://``, ``pover://``, ``json://``...).

Halt, pause and resume, quarantine, loss thresholds, disconnects longer than N s, reject storms,
the order group firing, start and stop (with the run's summary), and optionally every fill and a
daily summary. Repeats of a kind in a market are folded into one message with a count, each kind
has its own rate cap, and whatever was held back goes out in a summary — at the latest with the
stop alert. Every alert is also logged (``mmframe.alerts``); URLs never are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from mmframe.api import (
    DAY_SECONDS,
    MAX_DOLLARS,
    NANOS_PER_SECOND,
    WEEK_SECONDS,
    ComponentContext,
    ComponentSpec,
    Event,
    Kind,
    dollars_to_price,
)
from mmframe_sinks.alerting.delivery import Delivery, Target, build_targets
from mmframe_sinks.alerting.model import DEFAULT_KINDS, FAILURE, INFO, KINDS, SUCCESS, WARNING, Alert
from mmframe_sinks.alerting.rules import AlertRules, RuleConfig
from mmframe_sinks.alerting.throttle import Admitted, AlertThrottle, describe_held

NAME = "alerts"
_URL = {"type": "string", "pattern": r"^\s*$|^\s*[A-Za-z0-9+._-]+://"}

COMMON_PROPERTIES: dict[str, Any] = {
    "loss_thresholds": {"type": "array", "maxItems": 100,
                        "items": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DOLLARS, "multipleOf": 0.0001},
                        "default": [], "description": "Alert once as today's net PnL falls to -each of these "
                        "dollar amounts."},
    "max_per_minute": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 3,
                       "description": "Per kind: at most this many alerts of one kind in any 60 s; more are "
                       "held back, counted and summarised."},
    "retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 2,
                "description": "Retries of a target that did not accept an alert."},
    "backoff_seconds": {"type": "number", "minimum": 0, "maximum": 3600, "default": 1.0,
                        "description": "First retry delay; doubles each retry."},
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["urls"],
    "properties": {
        "urls": {"type": "array", "minItems": 1, "items": _URL,
                 "description": "apprise URLs, one per target (secrets: write them as ${MMFRAME_ALERT_URL}); "
                 "blank entries are skipped, so an unset variable only turns delivery off (alerts are "
                 "still logged)."},
        "alerts": {"type": "array", "items": {"enum": list(KINDS)}, "uniqueItems": True,
                   "default": list(DEFAULT_KINDS), "description": "Which alerts to send (fill and daily are "
                   "off unless listed)."},
        **COMMON_PROPERTIES,
        "per_kind_per_minute": {"type": "object", "propertyNames": {"enum": list(KINDS)},
                                "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 10_000},
                                "default": {},
                                "description": "Caps for single kinds, e.g. {fill: 10}."},
        "dedup_seconds": {"type": "number", "minimum": 0, "maximum": WEEK_SECONDS, "default": 300,
                          "description": "An alert of the same kind and market within this long of the last "
                          "one sent is held back and counted; the next one sent says how many."},
        "summary_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": WEEK_SECONDS, "default": 300,
                            "description": "Held-back alerts are listed in a summary once the oldest has waited "
                            "this long, and in the stop alert."},
        "disconnect_seconds": {"type": "number", "minimum": 0, "maximum": DAY_SECONDS, "default": 30,
                               "description": "Alert when the venue has not been connected for this long."},
        "reject_storm": {"type": "object", "additionalProperties": False, "default": {},
                         "description": "Rejects alert only as a storm: this many in one market within the window.",
                         "properties": {"count": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 5},
                                        "window_seconds": {"type": "number", "exclusiveMinimum": 0,
                                                           "maximum": DAY_SECONDS, "default": 10}}},
        "daily_summary_hour": {"type": "integer", "minimum": 0, "maximum": 23, "default": 0,
                               "description": "UTC hour of the daily summary (when `daily` is listed)."},
    },
}
EXAMPLE = {"urls": ["${MMFRAME_ALERT_URL}"], "loss_thresholds": [50, 100], "alerts": [*DEFAULT_KINDS, "daily"]}

log = logging.getLogger("mmframe.alerts")
_LOG_LEVEL = {INFO: logging.INFO, SUCCESS: logging.INFO, WARNING: logging.WARNING, FAILURE: logging.ERROR}


class AlertSink:
    """Events -> `AlertRules` -> `AlertThrottle` -> `Delivery` (see the module docstring)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        pipeline: str,
        *,
        now_ns: Callable[[], int],
        monotonic_ns: Callable[[], int],
        targets: Sequence[Target] | None = None,
    ) -> None:
        storm = dict(config.get("reject_storm") or {})
        self.rules = AlertRules(RuleConfig(
            loss_thresholds=[dollars_to_price(Decimal(str(t))) for t in config.get("loss_thresholds", ())],
            disconnect_ns=_ns(config.get("disconnect_seconds", 30)),
            storm_count=int(storm.get("count", 5)),
            storm_window_ns=_ns(storm.get("window_seconds", 10)),
            daily_hour=int(config.get("daily_summary_hour", 0)),
        ))
        self.enabled = frozenset(config.get("alerts", DEFAULT_KINDS))
        self.throttle = AlertThrottle(int(config.get("max_per_minute", 3)), _ns(config.get("dedup_seconds", 300)),
                                      config.get("per_kind_per_minute") or {})
        self.summary_ns = _ns(config.get("summary_seconds", 300))
        self.delivery = Delivery(build_targets(config["urls"]) if targets is None else targets,
                                 retries=int(config.get("retries", 2)),
                                 backoff_s=float(config.get("backoff_seconds", 1.0)))
        self.pipeline = pipeline
        self._now = now_ns
        self._monotonic = monotonic_ns
        self.held_back = 0
        self.delivered: list[tuple[str, str, str]] = []
        """(title, body, severity) of every alert handed to delivery, for tests and the stop log."""

    @classmethod
    def build(cls, config: dict[str, Any], ctx: ComponentContext) -> AlertSink:
        return cls(config, ctx.pipeline, now_ns=ctx.clock.now_ns, monotonic_ns=ctx.clock.monotonic_ns)

    async def start(self) -> None:
        self.delivery.open()
        if not self.delivery.targets:
            log.warning("alerts: no URL configured; alerts are only logged")

    async def write(self, events: Sequence[Event]) -> None:
        for alert in [*self.rules.alerts(events), *self.rules.tick(self._now())]:
            if alert.kind in self.enabled:
                await self._offer(alert)
        oldest = self.throttle.oldest_held_ns()
        if oldest is not None and self._monotonic() - oldest >= self.summary_ns:
            await self._summary()

    async def close(self) -> None:
        try:
            if self.throttle.held:  # the stop alert normally carries these; never leave them behind
                await self._summary()
        finally:
            self.delivery.close()

    async def _offer(self, alert: Alert) -> None:
        admitted = self.throttle.admit(alert, self._monotonic())
        if admitted is None:
            self.held_back += 1
            return
        body = _body(admitted)
        if alert.kind == "stop" and self.throttle.held:
            body += "; held back: " + describe_held(self.throttle.take_held())
        await self._deliver(alert.kind, body, alert.severity)

    async def _summary(self) -> None:
        held = self.throttle.take_held()
        total = sum(h.count for h in held)
        await self._deliver("summary", f"{total} alert(s) held back (repeats and per-kind caps): "
                            + describe_held(held), WARNING)

    async def _deliver(self, kind: str, body: str, severity: str) -> None:
        title = f"mmframe {self.pipeline}: {kind}"
        log.log(_LOG_LEVEL.get(severity, logging.INFO), "alert %s: %s", kind, body)
        self.delivered.append((title, body, severity))
        if self.delivery.targets:
            await self.delivery.send(title, body, severity)


def _body(admitted: Admitted) -> str:
    if not admitted.repeats:
        return admitted.alert.message
    return f"{admitted.alert.message} (+{admitted.repeats} more like this held back before it)"


def _ns(seconds: Any) -> int:
    return int(Decimal(str(seconds)) * NANOS_PER_SECOND)


SPEC = ComponentSpec(
    kind=Kind.SINK,
    name=NAME,
    summary="Alerts through apprise (Telegram, Slack, Discord, e-mail, ntfy, Pushover, JSON...): folded, "
            "rate-limited per kind, summarised at stop.",
    factory=AlertSink.build,
    config_schema=SCHEMA,
    example=EXAMPLE,
    description=(__doc__ or "").strip(),
)
