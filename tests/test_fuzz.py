"""No traceback, ever, from input: mutated workloads through every command.

Hypothesis mutates valid workloads (wrong types, unicode, impossible dates, deep nesting, huge
numbers, aliases, odd paths) and every command must exit 0, 1 or 2 with a message, never with
an uncaught exception. Bounded to run in well under a minute in CI.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgen.cli import main

SEEDS: list[dict[str, Any]] = [
    {
        "name": "demo-workload",
        "tier": 1,
        "cloud": "aws",
        "regions": {"primary": "us-east-1", "secondary": "us-west-2"},
        "tags": {"team": "ml"},
        "components": {
            "vector_store": {"engine": "qdrant", "snapshot_every": "1h"},
            "feature_store": {"engine": "dynamodb"},
            "prompts": {"path": "prompts"},
            "audit_log": {"retention": "1y"},
        },
        "vendors": [{"name": "openai", "model": "gpt-4o", "role": "primary"}],
        "endpoint": {
            "domain": "demo.example.com",
            "zone": "example.com",
            "targets": {"us-east-1": "a.example.com", "us-west-2": "b.example.com"},
        },
    },
    {
        "name": "demo-gcp",
        "tier": 2,
        "cloud": "gcp",
        "regions": {"primary": "us-central1", "secondary": "us-east1"},
        "naming": {"suffix": "x1"},
        "components": {
            "vector_store": {"engine": "pgvector", "size_gb": 20},
            "feature_store": {"engine": "bigtable"},
        },
        "objectives": {"rto": "4h", "rpo": "1h"},
    },
]

IMPOSSIBLE_DATES = ["2024-13-01", "2024-02-30", "2023-02-29", "0000-01-01"]
ODD_PATHS = [
    "../outside",
    "/etc",
    "prompts/../..",
    "prompts/../../..",
    "~",
    "",
    ".",
    "a\\b",
    "pr\u00f6mpts",
    "prompts/\U0001f600",
    "nul\u0000byte",
]

EXTREMES: list[tuple[tuple[str, ...], Any]] = [
    (("components", "models", "size_gb"), 1e308),
    (("components", "models", "size_gb"), float("inf")),
    (("components", "models", "size_gb"), 10**400),
    (("components", "vector_store", "size_gb"), 1e-320),
    (("components", "vector_store", "snapshot_every"), "9999999999999w"),
    (("components", "audit_log", "retention"), "99999999999999d"),
    (("objectives", "rto"), "99999999999999y"),
    (("objectives", "rpo"), "0s"),
    (("tier",), 10**40),
    (("name",), "a" * 10_000),
    (("tags",), {f"k{i}": "v" for i in range(80)}),
]
"""Values that keep the rest of the workload valid but strain every computation on them."""

VALID_EXTREMES: list[tuple[tuple[str, ...], Any]] = [
    (("components", "models", "size_gb"), 10**7),
    (("components", "vector_store", "size_gb"), 0.001),
    (("components", "audit_log", "retention"), "100y"),
    (("objectives", "rto"), "10y"),
    (("objectives", "rpo"), "1s"),
    (("name",), "a" * 20 + "-" + "b" * 9),
    (("tags",), {f"k{i}": "x_y-z" for i in range(40)}),
    (
        ("vendors",),
        [{"name": "x", "model": "\U0001f600", "role": "primary", "deprecation": "2000-01-01"}],
    ),
]
"""Values that keep the rest of the workload valid but strain every computation on them."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["1h", "0s", "99999999999y", "P1Y2M", "5m", "-1h", "1e9h", "\U0001f600"]),
    st.sampled_from(IMPOSSIBLE_DATES + ODD_PATHS),
    st.sampled_from(["us-east-1", "us-central1", "aws", "gcp", "pgvector", "bigtable"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    parent: Any = data
    for part in path[:-1]:
        parent = parent.setdefault(part, {}) if isinstance(parent, dict) else {}
    if isinstance(parent, dict):
        parent[path[-1]] = value


@st.composite
def mutated_workloads(draw: st.DrawFn) -> str:
    """A seed workload with a few values replaced, keys added or removed, as YAML text."""
    data = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    if draw(st.integers(0, 2)) == 0:
        # A third stay valid, so that rendering and writing are exercised too.
        for path, value in draw(st.lists(st.sampled_from(VALID_EXTREMES), max_size=3)):
            _set(data, path, value)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    for path, value in draw(st.lists(st.sampled_from(EXTREMES + VALID_EXTREMES), max_size=2)):
        _set(data, path, value)
    if draw(st.integers(0, 3)) == 0:
        data.setdefault("vendors", [{"name": "x", "model": "y", "role": "primary"}])
        if isinstance(data["vendors"], list) and data["vendors"]:
            vendor = data["vendors"][0]
            if isinstance(vendor, dict):
                vendor["deprecation"] = draw(st.sampled_from(IMPOSSIBLE_DATES))
    if draw(st.integers(0, 3)) == 0:
        data.setdefault("components", {})
        if isinstance(data["components"], dict):
            data["components"]["prompts"] = {"path": draw(st.sampled_from(ODD_PATHS))}
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError):
        text = "name: [unserialisable\n"
    # Unquote the impossible dates, so that YAML reads them as (broken) timestamps.
    for date in IMPOSSIBLE_DATES:
        text = text.replace(f"'{date}'", date)
    shape = draw(st.sampled_from(["plain", "plain", "plain", "alias", "nested", "truncated"]))
    if shape == "alias":
        text = re.sub(r"^name:", "name: &n", text, count=1, flags=re.M) + "owner: *n\n"
    elif shape == "nested":
        depth = draw(st.integers(min_value=5, max_value=60))
        text += "owner: " + "[" * depth + "]" * depth + "\n"
    elif shape == "truncated":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


def _run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    return result.exit_code, result.output + result.stderr, exception


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=mutated_workloads())
def test_no_command_shows_a_traceback(text: str, tmp_path_factory: Any) -> None:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    (folder / "prompts").mkdir()
    (folder / "prompts" / "system.txt").write_text("You are careful.\n", encoding="utf-8")
    workload = folder / "workload.yaml"
    workload.write_text(text, encoding="utf-8")
    base = folder / "base.yaml"
    base.write_text(yaml.safe_dump(SEEDS[1]), encoding="utf-8")
    out = folder / "out"

    outcomes = {
        "validate": _run("validate", str(workload)),
        "plan": _run("plan", str(workload)),
        "plan --json": _run("plan", "--json", str(workload)),
        "check": _run("check", "--today", "2026-01-01", "--drills", str(workload)),
        "render": _run("render", str(workload), "-o", str(out)),
        "render --check": _run("render", "--check", str(workload), "-o", str(out)),
    }
    if outcomes["validate"][0] != 0:
        # Valid pairs mock-run every stack (seconds each); invalid input must fail fast, with 2.
        outcomes["diff"] = _run("diff", str(base), str(workload))
        assert outcomes["diff"][0] == 2, outcomes["diff"]

    for command, (code, output, exception) in outcomes.items():
        assert exception is None, f"{command}: uncaught {exception!r}\n{text}"
        assert code in (0, 1, 2), f"{command}: exit {code}\n{output}"
        assert "Traceback" not in output, f"{command}:\n{output}"
        if code != 0:
            assert output.strip(), f"{command}: exit {code} without a message\n{text}"
