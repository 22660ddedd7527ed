"""Render a `DrPlan` into the files of one Pulumi Python project; pure but for reading templates."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

import drgen.patterns
from drgen.check import component_findings
from drgen.clouds import KMS_MULTI_REGIONS, gcp_dual_region
from drgen.drills import drill_calendar
from drgen.durations import format_duration
from drgen.errors import RenderError
from drgen.plan import DrPlan
from drgen.vendors.gateway import gateway
from drgen.vendors.watch import watch

PATTERNS_DIR = Path(drgen.patterns.__file__).resolve().parent


SHARED_MODULES: dict[str, tuple[str, ...]] = {
    "aws": ("storage", "alerts", "backups"),
    "gcp": ("storage",),
}
"""Modules every project of a cloud renders, whatever its components."""
COMPANIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("aws", "vector_snapshots"): ("snapshot_trigger",),
    ("gcp", "vector_snapshots"): ("snapshot_trigger",),
    ("aws", "vendor_watcher"): ("vendor_watcher_function",),
    ("gcp", "vendor_watcher"): ("vendor_watcher_function",),
}
"""Files a module's resources package (function code), rendered next to the module."""
COPIED_BLOCKS: dict[str, tuple[str, ...]] = {
    "bigtable-backup": ("bigtable_copy",),
    "cloudsql-backups-in-secondary": ("cloudsql_export",),
}
"""Code a block packages only when there is a secondary to copy into."""


def render(plan: DrPlan) -> dict[str, str]:
    """Every file of the project, by path relative to the project folder."""
    env = template_environment()
    dual_region = _dual_region(plan)
    context = {
        "plan": plan,
        "project": plan.workload,
        "dual_region": dual_region,
        "dual_region_key_location": KMS_MULTI_REGIONS.get(dual_region or ""),
        "watch": watch(plan),
    }
    files: dict[str, str] = {
        "Pulumi.yaml": env.get_template("project/Pulumi.yaml.j2").render(context),
        "requirements.txt": env.get_template(f"project/requirements-{plan.cloud}.txt.j2").render(
            context
        ),
        "README.md": env.get_template("project/README.md.j2").render(context),
        "RUNBOOK.md": env.get_template("project/RUNBOOK.md.j2").render(
            {**context, "findings": component_findings(plan), "drills": drill_calendar(plan)}
        ),
        "__main__.py": env.get_template(f"{plan.cloud}/__main__.py.j2").render(context),
        "settings.py": env.get_template(f"{plan.cloud}/settings.py.j2").render(context),
        "ruff.toml": env.get_template("project/ruff.toml.j2").render(context),
    }
    for name in SHARED_MODULES[plan.cloud]:
        files[f"{name}.py"] = env.get_template(f"{plan.cloud}/{name}.py.j2").render(context)
    for stack in plan.stacks:
        files[f"Pulumi.{stack.name}.yaml"] = env.get_template(
            f"project/Pulumi.stack-{plan.cloud}.yaml.j2"
        ).render({**context, "stack": stack})
    for stack in plan.stacks:
        settings = gateway(plan, stack)
        if settings is not None:
            files[f"gateway/litellm-{stack.name}.yaml"] = env.get_template(
                "project/litellm.yaml.j2"
            ).render({**context, "gateway": settings})
    modules = [component.module for component in plan.components]
    if plan.routing is not None:
        modules.append("routing")
    if context["watch"] is not None:
        modules.append("vendor_watcher")
    for module in modules:
        for name in (module, *COMPANIONS.get((plan.cloud, module), ()), *_copiers(plan, module)):
            template = f"{plan.cloud}/{name}.py.j2"
            try:
                files[f"{name}.py"] = env.get_template(template).render(context)
            except jinja2.TemplateNotFound:
                raise RenderError(
                    f"{plan.source}: drgen has no {plan.cloud} template for {name} yet"
                ) from None
    for prompt in plan.prompt_files:
        files[f"prompts/{prompt.path}"] = prompt.text
    return dict(sorted(files.items()))


def _copiers(plan: DrPlan, module: str) -> tuple[str, ...]:
    """The copy job code of `module`'s block, where it has a secondary to copy into."""
    if plan.secondary is None:
        return ()
    return tuple(
        name
        for c in plan.components
        if c.module == module
        for name in COPIED_BLOCKS.get(c.block, ())
    )


def _dual_region(plan: DrPlan) -> str | None:
    """Where a GCP live pattern's dual-region buckets live (US, EU or ASIA)."""
    if plan.cloud != "gcp" or plan.pattern == "cold-restore" or plan.secondary is None:
        return None
    return gcp_dual_region(plan.primary.region, plan.secondary.region)


@cache
def template_environment() -> jinja2.Environment:
    """The jinja2 environment over `patterns/`: strict undefined, literal-encoding filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PATTERNS_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["py"] = python_literal
    env.filters["yaml_str"] = yaml_string
    env.filters["sentence"] = sentence
    env.filters["py_block"] = python_block
    env.filters["aws_rate"] = aws_rate
    env.filters["cron_every"] = cron_every
    env.filters["duration_or"] = duration_or
    return env


def python_literal(value: Any) -> str:
    """`value` as Python source that evaluates back to it; no input can escape the literal."""
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is also a valid Python string literal, in the double quotes ruff prefers.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        parts = [python_literal(item) for item in value]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no Python literal for {type(value).__name__}")


def python_block(mapping: dict[str, Any]) -> str:
    """A dict literal with one entry per line and a trailing comma, as ruff format keeps it."""
    lines = [
        f"    {python_literal(key)}: {python_literal(value)}," for key, value in mapping.items()
    ]
    return "{\n" + "\n".join(lines) + "\n}"


def yaml_string(value: str) -> str:
    """`value` as a double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def sentence(text: str) -> str:
    """`text` with its first letter upper-cased and a closing full stop."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def aws_rate(seconds: int) -> str:
    """An EventBridge `rate()` expression for every `seconds` (a whole number of minutes)."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise ValueError(f"{seconds}s is not a whole number of minutes")


def cron_every(seconds: int) -> str:
    """A unix-cron schedule that fires at least every `seconds` (whole minutes).

    Cron steps restart at each hour or day, so an interval cron cannot express (90m, 5h) is
    rounded down to one it can: snapshots come more often than asked, never less.
    """
    minutes = seconds // 60
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "0 0 * * *" if days == 1 else f"0 0 */{days} * *"
    if minutes >= 1440:
        return "0 0 * * *"
    if minutes >= 60:
        return f"0 */{minutes // 60} * * *"
    return f"*/{minutes} * * * *"


def duration_or(seconds: int | None, missing: str) -> str:
    """`seconds` in short form, or `missing` when there is none."""
    return format_duration(seconds) if seconds is not None else missing
