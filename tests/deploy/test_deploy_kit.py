"""What the deployment kit's files promise, read from the files themselves: a non-root, multi-stage,
health-checked image with no secret in it; a compose file whose services, secrets, mounts and ports
fit together; a systemd unit that restarts on failure, takes its key as a credential, logs to
journald and waits longer than the daemon's shutdown deadline; Prometheus scraping the daemon."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from mmframe.pipeline.model import RuntimeConfig
from tests.deploy.daemon import DEPLOY, REPO
from tests.e2e.harness import MMFRAME

DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "systemd" / "mmframe@.service"
SHUTDOWN_S = RuntimeConfig().shutdown_timeout_seconds


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)?", str(text).strip())
    assert match, text
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_when_linted_by_hadolint_is_clean_at_every_level() -> None:
    result = subprocess.run(["hadolint", "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_when_read_is_multi_stage_slim_non_root_health_checked_and_holds_no_secret() -> None:
    steps = _instructions()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert len(froms) >= 2 and froms[-1].endswith("AS runtime")
    assert any(op == "ARG" and "slim" in arg for op, arg in steps)
    [user] = [arg for op, arg in steps if op == "USER"]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user  # numeric, not root
    [health] = [arg for op, arg in steps if op == "HEALTHCHECK"]
    assert "/health" in health and "--start-period" in health
    environment = " ".join(arg for op, arg in steps if op in ("ENV", "ARG"))
    assert not re.search(r"KALSHI_PRIVATE_KEY=|KALSHI_API_KEY=|MMFRAME_CONTROL_TOKEN=|ALERT_URL=", environment)
    # Everything the build copies is in the build context the .dockerignore leaves.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    for op, arg in steps:
        if op == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                assert f"!{source.rstrip('/')}" in ignore.replace("/\n", "\n"), source


def test_compose_when_parsed_wires_daemon_prometheus_and_grafana_together() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"mmframe", "prometheus", "grafana"}
    daemon = services["mmframe"]
    assert (DEPLOY / daemon["build"]["context"] / daemon["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert _seconds(daemon["stop_grace_period"]) > SHUTDOWN_S
    declared = set(compose["secrets"])
    for name, service in services.items():
        assert set(service.get("secrets", ())) <= declared, name
        for port in service.get("ports", ()):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    env = daemon["environment"]
    assert env["MMFRAME_CONTROL_TOKEN_FILE"].removeprefix("/run/secrets/") in daemon["secrets"]
    assert env["KALSHI_PRIVATE_KEY_PATH"].removeprefix("/run/secrets/") in daemon["secrets"]
    for key, value in env.items():  # a secret is a file or a variable from outside, never a value here
        if re.search(r"TOKEN|PRIVATE|PASSWORD|URL", key) and not key.endswith(("_FILE", "_PATH")):
            assert str(value).startswith("${"), key
    # The default command runs the pipeline the image ships.
    assert "/opt/mmframe/pipelines/${MMFRAME_PIPELINE:-deploy.yaml}" in daemon["command"]
    assert "COPY deploy/pipeline.yaml /opt/mmframe/pipelines/deploy.yaml" in DOCKERFILE.read_text()


def test_compose_when_parsed_prometheus_scrapes_the_daemons_service_and_port() -> None:
    compose = _compose()
    services = compose["services"]
    mounts = dict(volume.split(":")[:2] for volume in services["prometheus"]["volumes"] if volume.startswith("./"))
    config_file = DEPLOY / mounts["./prometheus/prometheus.yml"].replace("/etc/prometheus/", "prometheus/")
    config = yaml.safe_load(config_file.read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    [target] = job["static_configs"][0]["targets"]
    port = services["mmframe"]["environment"]["MMFRAME_CONTROL_PORT"]
    assert target == f"mmframe:{port}"


def test_compose_when_parsed_grafana_provisioning_matches_its_mounts() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    provisioning = DEPLOY / mounts["./grafana/provisioning"].replace("/etc/grafana/provisioning", "grafana/provisioning")
    [provider] = yaml.safe_load((provisioning / "dashboards" / "mmframe.yaml").read_text())["providers"]
    assert provider["options"]["path"] == mounts["./grafana/dashboards"]
    assert (DEPLOY / "grafana" / "dashboards" / "mmframe.json").is_file()
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"].removeprefix("/run/secrets/") in grafana["secrets"]


def _unit() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def test_systemd_unit_when_read_restarts_on_failure_loads_the_key_logs_to_journald_and_outwaits_the_stop() -> None:
    unit = _unit()
    assert unit["Restart"] == ["on-failure"] and unit["RestartPreventExitStatus"] == ["2"]
    assert _seconds(unit["TimeoutStopSec"][0]) > SHUTDOWN_S
    assert unit["KillSignal"] == ["SIGTERM"]
    credentials = {value.split(":")[0] for value in unit["LoadCredential"]}
    assert credentials == {"kalshi-key", "control-token"}
    assert "KALSHI_PRIVATE_KEY_PATH=%d/kalshi-key" in unit["Environment"]
    assert "MMFRAME_CONTROL_TOKEN_FILE=%d/control-token" in unit["Environment"]
    assert unit["EnvironmentFile"] == ["-/etc/mmframe/%i.env"]
    assert unit["StandardOutput"] == unit["StandardError"] == ["journal"]
    assert unit["User"] == ["mmframe"] and unit["NoNewPrivileges"] == ["yes"]
    assert unit["ExecStart"][0].split()[0] == "/opt/mmframe/venv/bin/mmframe"


def test_deploy_pipeline_when_checked_offline_is_valid_and_reads_its_address_from_the_environment() -> None:
    result = subprocess.run([*MMFRAME, "check", "--no-credentials", str(DEPLOY / "pipeline.yaml"),
                             str(REPO / "pipelines" / "symmetric-demo.yaml")],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": str(Path(MMFRAME[0]).parent), "MMFRAME_CONTROL_PORT": "4011"})
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([*MMFRAME, "check", str(DEPLOY / "pipeline.yaml")], capture_output=True, text=True,
                            timeout=60, env={"PATH": str(Path(MMFRAME[0]).parent), "MMFRAME_CONTROL_PORT": "http"})
    assert result.returncode == 1 and "control.port" in result.stdout, result.stdout
