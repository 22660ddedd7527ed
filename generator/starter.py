"""The commented starter `workload.yaml` that `drgen init` writes."""

from __future__ import annotations

from drgen.render import template_environment
from drgen.schema import DEFAULT_PATTERN

STARTER_REGIONS = {"aws": ("us-east-1", "us-west-2"), "gcp": ("us-east1", "us-west1")}


def starter_workload(*, tier: int, cloud: str, name: str) -> str:
    """A valid, commented workload for `tier` on `cloud`, ready to edit."""
    primary, secondary = STARTER_REGIONS[cloud]
    return (
        template_environment()
        .get_template("starter/workload.yaml.j2")
        .render(
            tier=tier,
            cloud=cloud,
            name=name,
            primary=primary,
            secondary=secondary,
            pattern=DEFAULT_PATTERN[tier],
            live=DEFAULT_PATTERN[tier] != "cold-restore",
            feature_engine="dynamodb" if cloud == "aws" else "firestore",
        )
    )
