"""``webhook``: the older, single-URL form of ``alerts``, kept so existing pipelines run unchanged.

``url: https://...`` is sent through apprise's JSON target (``jsons://...``; ``http://`` becomes
``json://``), with the same rules, folding and per-kind caps as ``alerts`` (``max_per_minute`` now
caps each kind, not all alerts together). The body is apprise's JSON (``version``, ``title``,
``message``, ``attachments``, ``type``), no longer the earlier ``{alert, severity, ...}`` object.
Migrate with ``use: alerts, with: {urls: [jsons://host/path]}`` (docs/alerts.md).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mmframe.api import ComponentContext, ComponentSpec, Kind
from mmframe_sinks.alerts import COMMON_PROPERTIES, AlertSink

NAME = "webhook"
LEGACY_ALERTS = ("halt", "loss", "disconnect", "reject", "order_group")
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://", "description": "Where alerts are POSTed as JSON (a "
                "secret: write it as ${ALERT_WEBHOOK_URL})."},
        "alerts": {"type": "array", "items": {"enum": list(LEGACY_ALERTS)}, "uniqueItems": True,
                   "default": list(LEGACY_ALERTS), "description": "Which alerts to send."},
        **COMMON_PROPERTIES,
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "default": 5,
                            "description": "Connect and read timeout of each POST."},
    },
}
EXAMPLE = {"url": "https://hooks.example.com/mmframe", "loss_thresholds": [50, 100]}

log = logging.getLogger("mmframe.alerts")


def apprise_json_url(url: str, timeout_seconds: float | None = None) -> str:
    """``https://host/path?q`` as apprise's JSON target ``jsons://host/path?q`` (with its timeouts)."""
    parts = urlsplit(url)
    scheme = "jsons" if parts.scheme.lower() == "https" else "json"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if timeout_seconds is not None:
        query += [("cto", f"{timeout_seconds:g}"), ("rto", f"{timeout_seconds:g}")]
    return urlunsplit((scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def build(config: dict[str, Any], ctx: ComponentContext) -> AlertSink:
    """An `AlertSink` for the legacy config (see the module docstring)."""
    log.warning("sink webhook is kept for old pipelines: use `alerts` with `urls: [jsons://...]` "
                "(docs/alerts.md); the body is now apprise's JSON and max_per_minute caps each kind")
    settings = {key: value for key, value in config.items() if key not in ("url", "timeout_seconds")}
    settings["urls"] = [apprise_json_url(str(config["url"]), config.get("timeout_seconds", 5))]
    settings.setdefault("alerts", list(LEGACY_ALERTS))
    return AlertSink.build(settings, ctx)


SPEC = ComponentSpec(
    kind=Kind.SINK,
    name=NAME,
    summary="Alerts as JSON POSTs to one URL: the older form of `alerts` (sent through apprise's json:// target).",
    factory=build,
    config_schema=SCHEMA,
    example=EXAMPLE,
    description=(__doc__ or "").strip(),
)
