"""The commented starter `workload.yaml` that `drgen init` writes."""

from __future__ import annotations

import re
import secrets
import string
import tempfile
from pathlib import Path

from drgen.errors import WorkloadError
from drgen.render import template_environment
from drgen.schema import DEFAULT_PATTERN, WORKLOAD_NAME

STARTER_REGIONS = {"aws": ("us-east-1", "us-west-2"), "gcp": ("us-east1", "us-west1")}
SUFFIX = r"^[a-z0-9]{1,8}$"


def random_suffix() -> str:
    """Six random lowercase letters and digits: bucket names are global across all accounts
    and projects, so two teams' starters must not derive the same ones."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


def starter_workload(*, tier: int, cloud: str, name: str, suffix: str) -> str:
    """A valid, commented workload for `tier` on `cloud`, ready to edit."""
    primary, secondary = STARTER_REGIONS[cloud]
    return (
        template_environment()
        .get_template("starter/workload.yaml.j2")
        .render(
            tier=tier,
            cloud=cloud,
            name=name,
            suffix=suffix,
            primary=primary,
            secondary=secondary,
            pattern=DEFAULT_PATTERN[tier],
            live=DEFAULT_PATTERN[tier] != "cold-restore",
            feature_engine="dynamodb" if cloud == "aws" else "firestore",
        )
    )


def starter_problems(*, tier: int, cloud: str, name: str, suffix: str) -> list[str]:
    """Why the starter for these choices would not validate; empty when it would.

    `drgen init` never writes a file that `drgen validate` then rejects: the name is checked
    before it reaches the template, then the whole starter goes through validation.
    """
    if not re.fullmatch(WORKLOAD_NAME, name):
        return [
            f"{name!r} is not a workload name: 3-40 of a-z, 0-9 and -, starting with a letter"
            " (e.g. fraud-scoring)"
        ]
    if not re.fullmatch(SUFFIX, suffix):
        return [f"{suffix!r} is not a name suffix: 1-8 lowercase letters and digits"]
    from drgen.limits import plan_name_problems
    from drgen.loader import load_workload
    from drgen.plan import resolve

    with tempfile.TemporaryDirectory(prefix="drgen-init-") as scratch:
        path = Path(scratch) / "workload.yaml"
        path.write_text(
            starter_workload(tier=tier, cloud=cloud, name=name, suffix=suffix), encoding="utf-8"
        )
        try:
            plan = resolve(load_workload(path))
        except WorkloadError as error:
            return [problem.message for problem in error.problems]
    return plan_name_problems(plan)
