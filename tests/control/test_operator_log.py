"""Operator changes through the control plane leave a log line each (who, what, the result), refusals
a warning; a secret-looking field is never logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.control.harness import TOKEN, auth, build, make_pipeline, running
from tests.control.memory_exchange import Exchange

pytestmark = pytest.mark.anyio


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mmframe.control"]


async def test_operator_log_when_pause_resume_params_flatten_logs_one_line_each(
    exchange: Exchange, registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = build(make_pipeline(), registry)
    with caplog.at_level(logging.INFO, logger="mmframe.control"):
        async with running(engine) as client:
            assert (await client.post("/pause", headers=auth(), json={"reason": "lunch"})).status_code == 200
            assert (await client.post("/resume", headers=auth())).status_code == 200
            response = await client.post("/params", headers=auth(), json={"target": "strategy", "params": {"spread": 0.06}})
            assert response.status_code == 200
            assert (await client.post("/flatten", headers=auth())).status_code == 200
    lines = _lines(caplog)
    assert "operator pause (lunch) from 127.0.0.1: active -> paused, 0 order(s) left" in lines
    assert "operator resume (operator) from 127.0.0.1: paused -> active" in lines
    assert "operator params (strategy) from 127.0.0.1: spread=0.06" in lines
    assert any(line.startswith("operator flatten (operator) from 127.0.0.1: cancelled ") and "flat: True" in line
               for line in lines), lines
    assert all(TOKEN not in line for line in lines)


async def test_operator_log_when_token_wrong_or_params_refused_logs_a_warning_and_no_token(
    exchange: Exchange, registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = build(make_pipeline(), registry)
    with caplog.at_level(logging.INFO, logger="mmframe.control"):
        async with running(engine) as client:
            assert (await client.post("/pause", headers=auth("guessed-token"))).status_code == 401
            response = await client.post("/params", headers=auth(), json={"target": "strategy", "params": {"spread": -1}})
            assert response.status_code == 400
            assert engine.core.state == "active"
    warnings = [r.getMessage() for r in caplog.records if r.name == "mmframe.control" and r.levelno == logging.WARNING]
    assert warnings[0] == "refused POST /pause from 127.0.0.1: 401 invalid token"
    assert warnings[1].startswith("params change refused (400) from 127.0.0.1: strategy (mid-quoter): spread")
    assert all("guessed-token" not in line and TOKEN not in line for line in _lines(caplog))
