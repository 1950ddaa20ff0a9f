"""deploy/grafana/dashboards/mmframe.json against the metrics a running daemon actually exports
(scraped from its /metrics): every query names an existing series, every topic has a panel, and the
dashboard is wired to the provisioned data source."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.daemon import DEPLOY, RunningDaemon

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "mmframe.json"
_METRIC = re.compile(r"\b(mmframe_[A-Za-z0-9_]+)")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
TOPICS = {
    "PnL": "mmframe_pnl_net_dollars",
    "positions": "mmframe_position_contracts",
    "fills": "mmframe_fills_total",
    "quote uptime": "mmframe_quote_uptime_ratio",
    "rejects": "mmframe_order_rejects_total",
    "latency histogram": "mmframe_event_to_order_latency_seconds_bucket",
    "venue state": "mmframe_venue_connected",
}


def _exported(daemon: RunningDaemon) -> set[str]:
    """Every series name the daemon's /metrics declares (a family without samples yet included)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(daemon.get("/metrics").text):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", ())]


def problems(dashboard: dict[str, Any], exported: set[str]) -> list[str]:
    """Each query that names no mmframe series or one the daemon does not export."""
    out = []
    for title, expr in _queries(dashboard):
        named = _METRIC.findall(expr)
        if not named:
            out.append(f"panel {title!r}: {expr!r} names no mmframe series")
        elif unknown := sorted(set(named) - exported):
            out.append(f"panel {title!r}: {expr!r} names series the daemon does not export: {unknown}")
    return out


def test_dashboard_when_checked_against_a_running_daemon_queries_only_exported_series(daemon: RunningDaemon) -> None:
    exported = _exported(daemon)
    assert "mmframe_pnl_net_dollars" in exported and "mmframe_position_contracts" in exported
    dashboard = json.loads(DASHBOARD.read_text())
    assert _queries(dashboard)
    assert problems(dashboard, exported) == []
    # The check has teeth: a misspelt series and a query on nothing of ours are both caught.
    broken = {"panels": [{"title": "typo", "targets": [{"expr": "rate(mmframe_fill_total[5m])"}]},
                         {"title": "foreign", "targets": [{"expr": "up"}]}]}
    assert problems(broken, exported) == [
        "panel 'typo': 'rate(mmframe_fill_total[5m])' names series the daemon does not export: ['mmframe_fill_total']",
        "panel 'foreign': 'up' names no mmframe series",
    ]


def test_dashboard_when_loaded_has_a_panel_per_topic_on_the_provisioned_data_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(expr for _, expr in _queries(dashboard))
    missing = [topic for topic, series in TOPICS.items() if series not in exprs]
    assert not missing, f"no panel for {missing}"
    [source] = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())[
        "datasources"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "mmframe" and not dashboard["editable"]
