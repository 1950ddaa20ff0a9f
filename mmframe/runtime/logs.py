"""Logging: human-readable lines by default, JSON lines with ``--log-format json``."""

from __future__ import annotations

import logging
import sys
import time

import orjson


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and exception text when present)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(payload).decode()


SUMMARY_LOGGER = "mmframe.summary"
"""The run summary goes through this logger, which stays at INFO even when ``quiet``."""


def configure_logging(log_format: str = "text", verbose: bool = False, quiet: bool = False) -> None:
    """Send mmframe's logs to stderr in the chosen format.

    ``quiet`` (a live status screen is showing) keeps only warnings, errors and the run summary.
    """
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_mmframe", False):
            root.removeHandler(existing)
    handler._mmframe = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    logging.getLogger(SUMMARY_LOGGER).setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
