"""`RateLimitedLog`: the first occurrence of a key at once, then at most one line per interval with
the count of lines skipped, exactly, on a `TestClock`."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmframe.api import NANOS_PER_SECOND, RateLimitedLog, TestClock

INTERVAL_NS = 10 * NANOS_PER_SECOND
_names = itertools.count()


class Lines(logging.Handler):
    """Collects the records one logger writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]


def _logger(level: int = logging.DEBUG) -> tuple[logging.Logger, Lines]:
    logger = logging.getLogger(f"tests.logsampling.{next(_names)}")
    logger.propagate = False
    logger.setLevel(level)
    lines = Lines()
    logger.addHandler(lines)
    return logger, lines


@pytest.fixture
def setup() -> Iterator[tuple[RateLimitedLog, Lines, TestClock]]:
    clock = TestClock()
    logger, lines = _logger()
    yield RateLimitedLog(logger, clock.monotonic_ns, interval_ns=INTERVAL_NS), lines, clock


def test_log_when_key_first_seen_logs_at_once(setup: tuple[RateLimitedLog, Lines, TestClock]) -> None:
    log, lines, _ = setup
    assert log.log("k", "order %s rejected: %s", "A", "post_only") is True
    assert lines.messages == ["order A rejected: post_only"]
    assert lines.records[0].levelno == logging.WARNING


def test_log_when_repeated_within_interval_skips_and_counts_them(
    setup: tuple[RateLimitedLog, Lines, TestClock],
) -> None:
    log, lines, clock = setup
    log.log("k", "gap %d", 1)
    for n in range(5):
        clock.advance(ns=INTERVAL_NS // 10)
        assert log.log("k", "gap %d", n + 2) is False
    assert lines.messages == ["gap 1"]
    assert log.skipped("k") == 5


def test_log_when_interval_passed_logs_with_count_of_skipped(
    setup: tuple[RateLimitedLog, Lines, TestClock],
) -> None:
    log, lines, clock = setup
    log.log("k", "gap %d", 1)
    for _ in range(3):
        log.log("k", "gap %d", 0)
    clock.advance(ns=INTERVAL_NS - 1)
    assert log.log("k", "gap %d", 0) is False  # one nanosecond short
    clock.advance(ns=1)
    assert log.log("k", "gap %d", 9) is True  # exactly one interval after the last line
    assert lines.messages == ["gap 1", "gap 9 (4 more since the last such line)"]
    assert log.skipped("k") == 0
    clock.advance(ns=INTERVAL_NS)
    log.log("k", "gap %d", 10)  # nothing skipped in between: no count
    assert lines.messages[-1] == "gap 10"


def test_log_when_keys_differ_limits_each_on_its_own(setup: tuple[RateLimitedLog, Lines, TestClock]) -> None:
    log, lines, _ = setup
    for _ in range(3):
        log.log(("A", "post_only"), "A post_only")
        log.log(("A", "insufficient_balance"), "A balance")
        log.log(("B", "post_only"), "B post_only")
    assert lines.messages == ["A post_only", "A balance", "B post_only"]


def test_log_when_message_has_no_args_keeps_percent_signs_literal(
    setup: tuple[RateLimitedLog, Lines, TestClock],
) -> None:
    log, lines, clock = setup
    log.log("k", "100% of writes failing")
    log.log("k", "100% of writes failing")
    clock.advance(ns=INTERVAL_NS)
    log.log("k", "100% of writes failing")
    assert lines.messages == ["100% of writes failing", "100% of writes failing (1 more since the last such line)"]


def test_log_when_level_given_uses_it_per_call(setup: tuple[RateLimitedLog, Lines, TestClock]) -> None:
    log, lines, _ = setup
    log.log("k", "retry", level=logging.INFO)
    assert lines.records[0].levelno == logging.INFO


def test_log_when_level_disabled_writes_and_counts_nothing() -> None:
    clock = TestClock()
    logger, lines = _logger(logging.ERROR)
    log = RateLimitedLog(logger, clock.monotonic_ns)
    assert log.log("k", "quiet") is False
    assert lines.records == [] and log.skipped("k") == 0


def test_log_when_record_written_names_the_callers_line(setup: tuple[RateLimitedLog, Lines, TestClock]) -> None:
    log, lines, _ = setup
    log.log("k", "where")
    assert lines.records[0].funcName == "test_log_when_record_written_names_the_callers_line"


def test_log_when_more_keys_than_max_forgets_the_one_logged_longest_ago() -> None:
    clock = TestClock()
    logger, lines = _logger()
    log = RateLimitedLog(logger, clock.monotonic_ns, interval_ns=INTERVAL_NS, max_keys=2)
    log.log("a", "a")
    log.log("b", "b")
    log.log("a", "a")  # skipped: "a" was not logged again, so it stays the oldest
    log.log("c", "c")  # forgets "a"
    log.log("b", "b")  # still remembered: skipped
    log.log("a", "a")  # forgotten: logged at once, without the count it held
    assert lines.messages == ["a", "b", "c", "a"]


@pytest.mark.parametrize(("kwargs", "error"), [({"interval_ns": -1}, "interval_ns"), ({"max_keys": 0}, "max_keys")])
def test_log_when_configured_badly_refuses(kwargs: dict[str, int], error: str) -> None:
    logger, _ = _logger()
    with pytest.raises(ValueError, match=error):
        RateLimitedLog(logger, TestClock().monotonic_ns, **kwargs)


_COUNT = re.compile(r" \((\d+) more since the last such line\)$")


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 2 * INTERVAL_NS)), max_size=60))
def test_log_when_any_sequence_accounts_for_every_occurrence_and_spaces_lines(
    steps: list[tuple[str, int]],
) -> None:
    clock = TestClock()
    logger, lines = _logger()
    log = RateLimitedLog(logger, clock.monotonic_ns, interval_ns=INTERVAL_NS)
    occurrences: dict[str, int] = {}
    written: dict[str, list[int]] = {}
    for key, advance in steps:
        clock.advance(ns=advance)
        occurrences[key] = occurrences.get(key, 0) + 1
        if log.log(key, "%s", key):
            written.setdefault(key, []).append(clock.monotonic_ns())
    for key, count in occurrences.items():
        messages = [m for m in lines.messages if m.startswith(key)]
        counted = sum(1 + int(m.group(1)) if (m := _COUNT.search(text)) else 1 for text in messages)
        # every occurrence is either a line, counted in a later line, or still pending
        assert counted + log.skipped(key) == count
        times = written[key]
        assert all(later - earlier >= INTERVAL_NS for earlier, later in itertools.pairwise(times))
