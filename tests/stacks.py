"""The stack-test harness shared by every cloud: run each golden stack under mocks, once."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from drgen.diff import mock_run
from drgen.loader import load_workload
from drgen.plan import DrPlan, StackPlan, resolve
from tests.conftest import ROOT

PROJECTS = sorted(p for p in (ROOT / "stacks").iterdir() if (p / "Pulumi.yaml").exists())
BUILT_IN_CONFIG = {"role", "peer_deployed", "aws:region", "gcp:region"}
"""Config the generated Pulumi.<stack>.yaml sets; everything else the README must list."""
STACKS = [
    (project, stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml"))
    for project in PROJECTS
    for stack_file in sorted(project.glob("Pulumi.*.yaml"))
]


@cache
def run(project: Path, stack: str) -> dict[str, Any]:
    """The resources one stack registers under mocks (a fresh interpreter per stack)."""
    return mock_run(project, stack_plan(project, stack))


def of_type(result: dict[str, Any], token: str) -> list[dict[str, Any]]:
    """The inputs of every resource of type `token`."""
    return [r["inputs"] for r in result["resources"] if r["type"] == token]


def not_the_vendor_watcher(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs or schedules other than the vendor watcher's (named `<workload>-vendor-watch`)."""
    return [i for i in inputs if not str(i.get("name", "")).endswith("-vendor-watch")]


def records_of_type(result: dict[str, Any], token: str) -> list[dict[str, Any]]:
    """Every resource of type `token`, with its id (and arn or email where the mocks set one)."""
    return [r for r in result["resources"] if r["type"] == token]


@cache
def plan_of(project: Path) -> DrPlan:
    """The plan the golden project was rendered from."""
    return resolve(load_workload(ROOT / "examples" / project.name / "workload.yaml"))


def stack_plan(project: Path, stack: str) -> StackPlan:
    return next(s for s in plan_of(project).stacks if s.name == stack)


def settings_of(project: Path) -> dict[str, Any]:
    """The generated settings.py, executed."""
    namespace: dict[str, Any] = {}
    exec(compile((project / "settings.py").read_text(), "settings.py", "exec"), namespace)
    return namespace


@cache
def sdk_has_input(token: str, name: str) -> bool:
    """Whether the SDK's resource `token` has the input `name` (e.g. tags, labels)."""
    from drgen.mockrun import sdk_args_class

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns about its own deprecated classes on load
        return name in vars(sdk_args_class(token))


def _stack_id(value: object) -> str:
    return f"{value[0].name}/{value[1]}" if isinstance(value, tuple) else str(value)


def stacks_of(cloud: str | None = None) -> pytest.MarkDecorator:
    """Parametrise a test over every stack (of one cloud, if given) as `project_stack`."""
    chosen = [s for s in STACKS if cloud is None or plan_of(s[0]).cloud == cloud]
    return pytest.mark.parametrize("project_stack", chosen, ids=_stack_id)


def projects_of(
    cloud: str | None = None, having: Callable[[DrPlan], bool] = lambda plan: True
) -> pytest.MarkDecorator:
    """Parametrise a test over every project (of one cloud, with a property) as `project`."""
    chosen = [
        p for p in PROJECTS if (cloud is None or plan_of(p).cloud == cloud) and having(plan_of(p))
    ]
    return pytest.mark.parametrize("project", chosen, ids=lambda p: p.name)


def uses_pgvector(plan: DrPlan) -> bool:
    vectors = plan.component("vector_store")
    return vectors is not None and vectors.engine == "pgvector"


def takes_snapshots(plan: DrPlan) -> bool:
    vectors = plan.component("vector_store")
    return vectors is not None and vectors.module == "vector_snapshots"


def has_feature_store(plan: DrPlan) -> bool:
    return plan.component("feature_store") is not None
