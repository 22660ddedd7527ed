"""Which bucket holds a component's copy in a region, and the object store that reaches it."""

from __future__ import annotations

from drgen.drill.base import Call, Context
from drgen.drill.store import ObjectStore
from drgen.plan import ComponentPlan

EVIDENCE_PREFIX = "drgen-drills/"
"""Where reports go in the audit bucket; drills skip it when looking for the newest record."""


def bucket(component: ComponentPlan, region: str) -> str:
    """The component's bucket in `region` (a dual-region bucket has one name for both)."""
    if component.replication == "dual-region":
        return component.global_name
    return component.names[region]


def one_bucket(component: ComponentPlan) -> bool:
    """Whether primary and recovery region share one (dual-region) bucket."""
    return component.replication == "dual-region"


def store(ctx: Context, region: str) -> ObjectStore:
    """The region's object store, for the plan's cloud."""
    if ctx.plan.cloud == "aws":
        from drgen.drill.aws import S3Store

        return S3Store(ctx, region)
    from drgen.drill.gcp import GcsStore

    return GcsStore(ctx)


def listing_calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    """Listing the recovery copy and, for data age, the primary's."""
    service, listing = (
        ("s3", "ListObjectVersions")
        if ctx.plan.cloud == "aws"
        else (
            "storage",
            "objects.list",
        )
    )
    calls = [Call(service, listing, bucket(component, ctx.region))]
    if not one_bucket(component) and ctx.primary != ctx.region:
        calls.append(Call(service, listing, bucket(component, ctx.primary)))
    return calls


def explain(ctx: Context, error: Exception) -> str:
    """A cloud client's error as one line."""
    if ctx.plan.cloud == "aws":
        from drgen.drill.aws import explain as aws_explain

        return aws_explain(error)
    from drgen.drill.gcp import explain as gcp_explain

    return gcp_explain(error)
