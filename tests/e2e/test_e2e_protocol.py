"""The daemon against the simulator for Kalshi protocol edge cases: a fee change while it runs reaches
the runtime's fee model. (Books subscribed with ``use_yes_price`` are compared with the venue's in
test_e2e_faults, after WebSocket drops and sequence gaps.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmframe.api import FeeType
from tests.e2e.harness import MARKETS, Admin, daemon, new_account, until

pytestmark = pytest.mark.anyio

RAIN = "SIM-RAIN-NYC"


async def test_daemon_when_event_fee_changes_while_running_applies_it_to_the_markets_fee_model(
    sim: Any, tmp_path: Path
) -> None:
    account = new_account(sim, tmp_path)
    admin = Admin(sim)
    async with daemon(sim, account) as d:
        markets = d.engine.core.markets
        await until(lambda: markets[RAIN].info is not None, what="market info")
        info = markets[RAIN].info
        assert (info.fee_type, info.fee_multiplier_bps) == (FeeType.QUADRATIC, 10_000)
        others = {t: markets[t].info for t in MARKETS if t != RAIN}

        await admin.fault("set_fee", ticker=RAIN, fee_type="quadratic_with_maker_fees", fee_multiplier=1.5)
        await until(lambda: markets[RAIN].info.fee_multiplier_bps == 15_000, what="the fee change applied")
        assert markets[RAIN].info.fee_type is FeeType.QUADRATIC_WITH_MAKER_FEES
        assert {t: markets[t].info for t in others} == others

        await admin.fault("set_fee", ticker=RAIN)
        await until(lambda: markets[RAIN].info.fee_type is FeeType.QUADRATIC, what="the override cleared")
        assert markets[RAIN].info.fee_multiplier_bps == 10_000
    assert d.task.result() == 0
