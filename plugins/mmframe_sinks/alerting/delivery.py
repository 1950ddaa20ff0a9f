"""Send alerts through apprise: one URL per target (Telegram, Slack, Discord, e-mail, ntfy,
Pushover, a JSON webhook, ...), each its own `Apprise` object so a failed target is retried alone.

URLs carry secrets (bot tokens, webhook paths): they are never logged. A target is named by its
position and scheme (``#1 tgram``); apprise's own debug lines (which show URLs) are kept out of the
log by raising its logger to WARNING, and any URL that still reaches a log line is replaced.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

log = logging.getLogger("mmframe.alerts")
_QUIET = ("apprise", "urllib3", "requests_oauthlib")
_SCHEME = re.compile(r"^\s*([A-Za-z0-9+._-]+)://")


class DeliveryConfigError(ValueError):
    """An alert URL apprise cannot send to; the message names its position and scheme, never the URL."""


@dataclass
class Target:
    """One configured URL (it may list several, separated by commas or spaces: retried together)."""

    label: str
    apprise: Any
    url: str

    def send(self, title: str, body: str, severity: str) -> bool:
        """Blocking: deliver once; True when every service of this target accepted it."""
        return bool(self.apprise.notify(body=body, title=title, notify_type=severity))


def scheme_of(url: str) -> str:
    """The URL's scheme (``tgram``, ``json``...), or ``?``: safe to show."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else "?"


def build_targets(urls: Sequence[str]) -> list[Target]:
    """One `Target` per non-blank URL; `DeliveryConfigError` for one apprise does not know."""
    import apprise  # imported only by pipelines that alert

    targets = []
    for index, url in enumerate(urls, start=1):
        if not url.strip():
            continue
        label = f"#{index} {scheme_of(url)}"
        notifier = apprise.Apprise()
        if not notifier.add(url.strip()):
            raise DeliveryConfigError(
                f"alert URL {label} is not one apprise can send to (check the scheme and the fields it "
                "needs: https://github.com/caronc/apprise/wiki)"
            )
        targets.append(Target(label, notifier, url.strip()))
    return targets


class _Redactor(logging.Filter):
    """Replaces any configured URL in a record of apprise's logger with its label."""

    def __init__(self, targets: Sequence[Target]) -> None:
        super().__init__()
        self._targets = targets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(t.url in text for t in self._targets):
            for target in self._targets:
                text = text.replace(target.url, f"<alert URL {target.label}>")
            record.msg, record.args = text, None
        return True


class Delivery:
    """Delivers (title, body, severity) to every target off the event loop, retrying failures."""

    def __init__(self, targets: Sequence[Target], *, retries: int = 2, backoff_s: float = 1.0) -> None:
        self.targets = list(targets)
        self.retries = retries
        self.backoff_s = backoff_s
        self.sent = 0
        self.failed = 0
        self._redactor = _Redactor(self.targets)
        self._levels: dict[str, int] = {}

    def open(self) -> None:
        """Keep the URL-bearing debug lines of apprise and of the HTTP client under it (urllib3 logs
        each request's path) out of the log while we run."""
        for name in _QUIET:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            if logger.getEffectiveLevel() < logging.WARNING:
                logger.setLevel(logging.WARNING)
        logging.getLogger("apprise").addFilter(self._redactor)

    def close(self) -> None:
        logging.getLogger("apprise").removeFilter(self._redactor)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels.clear()

    async def send(self, title: str, body: str, severity: str) -> bool:
        """Deliver to every target (concurrently); True when all accepted it in the end."""
        results: dict[str, bool] = {}
        async with anyio.create_task_group() as tg:
            for target in self.targets:
                tg.start_soon(self._send_one, target, title, body, severity, results)
        return all(results.values())

    async def _send_one(self, target: Target, title: str, body: str, severity: str, results: dict[str, bool]) -> None:
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                ok = await anyio.to_thread.run_sync(functools.partial(target.send, title, body, severity))
            except Exception as exc:  # a plugin bug must not take the sink down
                ok = False
                log.warning("alert target %s raised %s", target.label, type(exc).__name__)
            if ok:
                self.sent += 1
                results[target.label] = True
                return
            if attempt < self.retries:
                await anyio.sleep(delay)
                delay *= 2
        self.failed += 1
        results[target.label] = False
        log.error("alert %r not delivered to %s after %d attempt(s)", title, target.label, self.retries + 1)
