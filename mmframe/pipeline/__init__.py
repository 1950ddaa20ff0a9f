"""Pipeline files: YAML -> a validated, typed `Pipeline` (strictyaml + JSON Schema).

    pipeline = load_pipeline("pipelines/symmetric.yaml", load_registry(), overrides=["strategy.with.size=5"])
"""

from mmframe.pipeline.errors import PipelineError, PipelineIssue
from mmframe.pipeline.loader import CONTROL_TOKEN_ENV, load_pipeline, load_pipeline_text
from mmframe.pipeline.model import (
    ComponentRef,
    ControlConfig,
    MarketFilters,
    MarketSelection,
    Pipeline,
    RuntimeConfig,
)
from mmframe.pipeline.schema import full_schema, pipeline_schema, schema_files, write_schemas

__all__ = [
    "CONTROL_TOKEN_ENV",
    "ComponentRef",
    "ControlConfig",
    "MarketFilters",
    "MarketSelection",
    "Pipeline",
    "PipelineError",
    "PipelineIssue",
    "RuntimeConfig",
    "full_schema",
    "load_pipeline",
    "load_pipeline_text",
    "pipeline_schema",
    "schema_files",
    "write_schemas",
]
