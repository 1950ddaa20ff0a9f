"""``POST /params``: change a component's run-time params, validated whole, applied all or nothing.

A request names a target (``strategy`` or a risk rule's name in the pipeline) and the fields to
change. Only fields the component declares ``updatable`` are accepted; the current config merged
with the change is validated against the component's JSON Schema before anything is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsonschema

from mmframe.components import ComponentSpec, Kind
from mmframe.pipeline.coerce import decimalize
from mmframe.plugins import Registry

if TYPE_CHECKING:
    from mmframe.runtime.engine import Engine


class ParamsError(ValueError):
    """A params request was refused; ``status`` is the HTTP status, the message the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Target:
    use: str
    spec: ComponentSpec
    config: dict[str, Any] = field(default_factory=dict)


class ParamsService:
    """The updatable components of one running pipeline and their current configs."""

    def __init__(self, engine: Engine, pipeline: Any, registry: Registry) -> None:
        self._engine = engine
        self._targets: dict[str, _Target] = {}
        strategy = pipeline.strategy
        self._targets["strategy"] = _Target(
            strategy.name, registry.get(Kind.STRATEGY, strategy.name), dict(strategy.config)
        )
        for named, ref in zip(engine.core.rules, pipeline.risk, strict=False):
            self._targets[named.name] = _Target(ref.name, registry.get(Kind.RISK, ref.name), dict(ref.config))

    def describe(self) -> dict[str, Any]:
        """Every target: the component it uses, its current params and which may change."""
        return {
            name: {"use": t.use, "params": dict(t.config), "updatable": sorted(t.spec.updatable)}
            for name, t in self._targets.items()
        }

    def apply(self, body: Any) -> dict[str, Any]:
        """Validate and apply ``{"target": ..., "params": {...}}``; returns the new params."""
        if not isinstance(body, Mapping):
            raise ParamsError(400, 'expected a JSON object: {"target": "strategy", "params": {...}}')
        unknown = sorted(set(body) - {"target", "params"})
        if unknown:
            raise ParamsError(400, f"unknown field(s) {', '.join(unknown)}: expected target and params")
        target_name, params = body.get("target"), body.get("params")
        if not isinstance(target_name, str) or not target_name:
            raise ParamsError(400, "target must be a string: 'strategy' or a risk rule's name")
        if not isinstance(params, Mapping) or not params:
            raise ParamsError(400, "params must be a non-empty JSON object of fields to change")
        target = self._targets.get(target_name)
        if target is None:
            raise ParamsError(404, f"unknown target {target_name!r}; known: {', '.join(self._targets)}")
        fixed = sorted(set(params) - target.spec.updatable)
        if fixed:
            allowed = ", ".join(sorted(target.spec.updatable)) or "none"
            raise ParamsError(
                400, f"{target_name} ({target.use}): {', '.join(fixed)} cannot change at run time (updatable: {allowed})"
            )
        merged = {**target.config, **params}
        self._validate(target_name, target, merged)
        try:
            self._engine.update_params(target_name, dict(params))
        except (ValueError, TypeError, KeyError) as exc:
            raise ParamsError(400, f"{target_name} ({target.use}) refused the params: {exc}") from exc
        target.config = merged
        return {"target": target_name, "use": target.use, "params": dict(merged)}

    @staticmethod
    def _validate(name: str, target: _Target, config: Mapping[str, Any]) -> None:
        validator = jsonschema.Draft202012Validator(decimalize(dict(target.spec.config_schema)))
        errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first.absolute_path) or "(params)"
            raise ParamsError(400, f"{name} ({target.use}): {where}: {first.message}")
