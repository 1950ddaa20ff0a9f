"""Bad pipeline files: every problem reported as FILE:LINE: message, all of them, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmframe.pipeline import PipelineError, PipelineIssue, load_pipeline, load_pipeline_text
from mmframe.plugins import Registry
from tests.core.fake_components import isolated_registry

GOOD = """\
name: demo
venue: testsim
markets: [KX-A, KX-B]
strategy:
  use: symmetric
  with:
    spread: 0.04
    size: 10
risk:
  - {use: max-position, with: {per_market: 100}}
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return isolated_registry()


def errors_of(text: str, registry: Registry, **kwargs: object) -> list[str]:
    with pytest.raises(PipelineError) as info:
        load_pipeline_text(text, "p.yaml", registry, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == "\n".join(str(e) for e in info.value.errors)
    return [str(e) for e in info.value.errors]


def test_good_pipeline_when_loaded_has_no_errors(registry: Registry) -> None:
    assert load_pipeline_text(GOOD, "p.yaml", registry).name == "demo"


def test_pipeline_when_unknown_top_level_key_suggests_closest(registry: Registry) -> None:
    text = GOOD + "sinkz: []\n"
    assert errors_of(text, registry) == ["p.yaml:11: unknown key 'sinkz' at the top level (did you mean 'sinks'?)"]


def test_pipeline_when_unknown_key_without_close_match_lists_known_keys(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("    size: 10", "    zzz: 10"), registry)
    assert errors == ["p.yaml:8: strategy.with: unknown key 'zzz'; expected one of: post_only, side, size, spread"]


def test_pipeline_when_unknown_component_suggests_closest(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("use: symmetric", "use: symetric"), registry)
    assert errors == ["p.yaml:5: strategy.use: unknown strategy 'symetric' (did you mean 'symmetric'?)"]


def test_pipeline_when_component_of_other_kind_named_says_so(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("use: max-position", "use: symmetric"), registry)
    assert errors == ["p.yaml:10: risk.0.use: unknown risk rule 'symmetric'; installed risk rules: "
                      "max-position ('symmetric' is a strategy)"]


def test_pipeline_when_unknown_venue_suggests_closest(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("venue: testsim", "venue: testsimm"), registry)
    assert errors == ["p.yaml:2: venue: unknown venue 'testsimm' (did you mean 'testsim'?)"]


def test_pipeline_when_component_config_has_wrong_type_names_path_and_expectation(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("size: 10", "size: ten"), registry)
    assert errors == ["p.yaml:8: strategy.with.size: expected an integer, got 'ten'"]


def test_pipeline_when_boolean_not_true_or_false_rejects_yaml_1_1_spellings(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("size: 10", "post_only: yes"), registry)
    assert errors == ["p.yaml:8: strategy.with.post_only: expected true or false, got 'yes'"]


def test_pipeline_when_value_out_of_range_says_bound_and_value(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("spread: 0.04", "spread: 0.9"), registry)
    assert errors == ["p.yaml:7: strategy.with.spread: must be <= 0.5, got 0.9"]


def test_pipeline_when_enum_value_misspelt_suggests_closest(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("size: 10", "side: bids"), registry)
    assert errors == ["p.yaml:8: strategy.with.side: expected one of: 'both', 'bid', 'ask', got 'bids' "
                      "(did you mean 'bid'?)"]


def test_pipeline_when_required_top_level_key_missing_reports_it(registry: Registry) -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith("name:")) + "\n"
    assert errors_of(text, registry) == ["p.yaml:1: missing required key 'name'"]


def test_pipeline_when_required_component_key_missing_reports_its_path(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("    spread: 0.04\n", ""), registry)
    assert errors == ["p.yaml:6: strategy.with: missing required key 'spread'"]


def test_pipeline_when_component_without_with_misses_required_key_points_at_component(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("{use: max-position, with: {per_market: 100}}", "{use: max-position}"), registry)
    assert errors == ["p.yaml:10: risk.0.with: missing required key 'per_market'"]


def test_pipeline_when_use_missing_reports_it(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("{use: max-position, with: {per_market: 100}}", "{with: {per_market: 1}}"),
                       registry)
    assert errors == ["p.yaml:10: risk.0: missing required key 'use'"]


def test_pipeline_when_markets_selector_empty_says_what_is_needed(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("markets: [KX-A, KX-B]", "markets: {filters: {status: open}}"), registry)
    assert errors == ["p.yaml:3: markets: needs at least one of: tickers, series, events, patterns"]


def test_pipeline_when_yaml_syntax_error_reports_line(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("markets: [KX-A, KX-B]", "markets: [KX-A, KX-B"), registry)
    assert len(errors) == 1
    assert errors[0].startswith("p.yaml:4: YAML syntax error: ")
    assert "started on line 3" in errors[0]


def test_pipeline_when_duplicate_key_reports_second_occurrence(registry: Registry) -> None:
    errors = errors_of(GOOD + "name: again\n", registry)
    assert errors == ["p.yaml:11: duplicate key 'name': each key may appear once"]


def test_pipeline_when_env_variable_unset_names_it_without_value(registry: Registry) -> None:
    text = GOOD + "control:\n  token: ${MMFRAME_CONTROL_TOKEN}\n"
    errors = errors_of(text, registry, environ={})
    assert errors == ["p.yaml:12: control.token: environment variable MMFRAME_CONTROL_TOKEN is not set "
                      "(set it, or give a default: ${MMFRAME_CONTROL_TOKEN:-default})"]


def test_pipeline_when_interpolated_value_invalid_never_echoes_it(registry: Registry) -> None:
    text = GOOD + "control:\n  port: ${SECRET_PORT}\n"
    errors = errors_of(text, registry, environ={"SECRET_PORT": "hunter2"})
    assert errors == ["p.yaml:12: control.port: expected an integer, got the value of ${SECRET_PORT} (not shown)"]
    assert not any("hunter2" in e for e in errors)


def test_pipeline_when_interpolated_value_breaks_constraint_never_echoes_it(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("size: 10", "size: ${SIZE}"), registry, environ={"SIZE": "-31337"})
    assert errors == ["p.yaml:8: strategy.with.size: must be >= 1, got the value of ${SIZE} (not shown)"]


def test_pipeline_when_tab_indents_reports_tab(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("    size: 10", "\tsize: 10"), registry)
    assert errors == ["p.yaml:8: tab character in indentation: YAML indents with spaces only"]


def test_pipeline_when_indentation_is_odd_reports_line_and_hint(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("    size: 10", "     size: 10"), registry)
    assert len(errors) == 1
    assert errors[0].startswith("p.yaml:8: YAML syntax error: mapping values are not allowed here")
    assert errors[0].endswith("check the indentation of this line")


def test_pipeline_when_key_dedented_reports_line(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("    size: 10", "   size: 10"), registry)
    assert len(errors) == 1
    assert errors[0].startswith("p.yaml:8: YAML syntax error: ")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n# x\n"])
def test_pipeline_when_file_empty_says_so(registry: Registry, text: str) -> None:
    assert errors_of(text, registry) == [
        "p.yaml:1: empty pipeline file: expected a mapping with keys such as name, venue, markets, strategy"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('["a", "b"]\n', "p.yaml:1: not a pipeline file: expected a mapping (name, venue, markets, strategy, ...), "
                         "got a list"),
        ("\nhello, this is prose\n", "p.yaml:2: not a pipeline file: expected a mapping (name, venue, markets, "
                                     "strategy, ...), got plain text"),
        ("PK\x03\x04\x00\x00binary", "p.yaml:1: not a YAML file: the content is binary (control characters)"),
    ],
)
def test_pipeline_when_not_yaml_says_what_it_got(registry: Registry, text: str, expected: str) -> None:
    assert errors_of(text, registry) == [expected]


def test_pipeline_when_file_is_not_utf8_reports_binary(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"name: x\n\xff\xd8\xff\xe0 jpeg")
    with pytest.raises(PipelineError) as info:
        load_pipeline(path, registry)
    assert info.value.errors == [PipelineIssue(str(path), 2, "not a YAML file: the content is binary (not UTF-8 text)")]


def test_pipeline_when_file_missing_reports_without_line(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(PipelineError) as info:
        load_pipeline(path, registry)
    assert str(info.value) == f"{path}: cannot read the file: No such file or directory"


def test_pipeline_when_several_problems_reports_all_in_line_order(registry: Registry) -> None:
    text = """\
name: demo
venue: testsim
markets: [KX-A]
strategy: {use: symmetric, with: {spread: abc, size: 0}}
risk:
  - {use: max-positon}
sinks:
  - {use: counter, with: {label: x, extra: 1}}
control: {port: 99999}
"""
    assert errors_of(text, registry) == [
        "p.yaml:4: strategy.with.spread: expected a number, got 'abc'",
        "p.yaml:4: strategy.with.size: must be >= 1, got 0",
        "p.yaml:6: risk.0.use: unknown risk rule 'max-positon' (did you mean 'max-position'?)",
        "p.yaml:8: sinks.0.with: unknown key 'extra'; expected one of: label",
        "p.yaml:9: control.port: must be <= 65535, got 99999",
    ]


def test_pipeline_when_override_invalid_reports_set_key(registry: Registry) -> None:
    errors = errors_of(GOOD, registry, overrides=["strategy.with.spread=wide", "strategy.with.sprd=1", "nokey",
                                                  "risk.3.with.total=1", "name.x=1", "venue.other.seed=1"])
    assert errors == [
        "--set nokey: expected KEY=VALUE, e.g. strategy.with.spread=0.04",
        "--set risk.3.with.total: index 3 is out of range: risk has 1 items",
        "--set name.x: name is a single value, not a mapping or a list",
        "--set venue.other.seed: venue is 'testsim', not 'other'; set venue=other first to switch venues",
        "--set strategy.with.spread: expected a number, got 'wide'",
        "--set strategy.with.sprd: unknown key 'sprd' (did you mean 'spread'?)",
    ]


def test_pipeline_when_component_broken_reports_its_error(registry: Registry) -> None:
    broken = isolated_registry()
    broken.add_broken("badplug", "badplug", "1.0", "import failed: ImportError: nope")
    errors = errors_of(GOOD.replace("use: symmetric", "use: badplug"), broken)
    assert errors == ["p.yaml:5: strategy.use: unknown strategy 'badplug': plugin 'badplug' (badplug 1.0) is broken: "
                      "import failed: ImportError: nope (see mmframe plugins list)"]


def test_pipeline_when_component_named_by_env_unknown_never_echoes_name(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("use: symmetric", "use: ${STRATEGY}"), registry, environ={"STRATEGY": "s3cr3t"})
    assert errors == ["p.yaml:5: strategy.use: no strategy is installed under the name given by ${STRATEGY}; "
                      "installed strategies: symmetric"]


def test_pipeline_when_override_names_other_venue_of_mapping_form_refuses(registry: Registry) -> None:
    text = GOOD.replace("venue: testsim", "venue:\n  testsim: {seed: 1}")
    errors = errors_of(text, registry, overrides=["venue.testexchange.rest_url=http://x"])
    assert errors == ["--set venue.testexchange.rest_url: venue is 'testsim', not 'testexchange'; "
                      "set venue=testexchange first to switch venues"]


def test_pipeline_when_file_and_override_both_wrong_lists_overrides_first(registry: Registry) -> None:
    errors = errors_of(GOOD.replace("size: 10", "size: x"), registry, overrides=["risk.0.with.per_market=y"])
    assert errors == ["--set risk.0.with.per_market: expected an integer, got 'y'",
                      "p.yaml:8: strategy.with.size: expected an integer, got 'x'"]


FUZZ_REGISTRY = isolated_registry()
YAMLISH = st.text(alphabet=st.sampled_from(list("abcdefuse:-[]{},'\"#&*!|>%@`$ \n\t0123456789.")), max_size=120)


@settings(max_examples=150, deadline=None)
@given(text=YAMLISH)
def test_pipeline_when_text_arbitrary_raises_only_pipeline_error(text: str) -> None:
    try:
        load_pipeline_text(text, "p.yaml", FUZZ_REGISTRY)
    except PipelineError as exc:
        assert exc.errors
        assert all(str(issue).startswith(("p.yaml", "--set ")) for issue in exc.errors)


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(GOOD)), junk=YAMLISH,
       overrides=st.lists(st.from_regex(r"[a-z0-9.]{0,20}=[a-z0-9\[\]{}:, ]{0,12}", fullmatch=True), max_size=3))
def test_pipeline_when_good_file_mangled_raises_only_pipeline_error(cut: int, junk: str, overrides: list[str]) -> None:
    try:
        load_pipeline_text(GOOD[:cut] + junk + GOOD[cut:], "p.yaml", FUZZ_REGISTRY, overrides=overrides)
    except PipelineError as exc:
        assert exc.errors


def test_pipeline_when_longest_reject_backoff_is_shorter_than_the_first_names_the_line(registry: Registry) -> None:
    text = GOOD + "runtime:\n  rejects:\n    backoff_ms: 500\n    max_backoff_ms: 100\n"
    assert errors_of(text, registry) == [
        "p.yaml:14: runtime.rejects.max_backoff_ms: 100 is shorter than backoff_ms (500); "
        "the longest backoff must be at least the first"
    ]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("quarantine_after", "0", "quarantine_after"),
        ("backoff_ms", "-5", "backoff_ms"),
        ("balance_cooldown_seconds", "0", "balance_cooldown_seconds"),
        ("cooldown", "5", "unknown key 'cooldown'"),
    ],
)
def test_pipeline_when_runtime_rejects_value_is_bad_reports_it(
    registry: Registry, key: str, value: str, expected: str
) -> None:
    errors = errors_of(GOOD + f"runtime:\n  rejects: {{{key}: {value}}}\n", registry)
    assert len(errors) == 1 and errors[0].startswith("p.yaml:12: runtime.rejects") and expected in errors[0], errors
