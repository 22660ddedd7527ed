"""Deterministic resource names, shared by validation (do they fit?) and the plan."""

from __future__ import annotations

from drgen.limits import NAME_LIMITS

BUCKET_NAME_MAX = min(NAME_LIMITS[key].max_length for key in ("aws.s3_bucket", "gcp.gcs_bucket"))
"""S3 and GCS both cap bucket names at 63 characters (checked early, with the other fields)."""

COMPONENT_SLUGS = {
    "models": "models",
    "vector_store": "vectors",
    "feature_store": "features",
    "prompts": "prompts",
    "audit_log": "audit",
}
"""The short word each component contributes to the names of its resources."""


def resource_name(
    workload: str, component: str, region: str | None, suffix: str | None = None
) -> str:
    """`<workload>-<component>[-<region>][-<suffix>]`: a regional name, or a global one."""
    parts = [workload, COMPONENT_SLUGS[component]]
    if region is not None:
        parts.append(region)
    if suffix:
        parts.append(suffix)
    return "-".join(parts)


def longest_bucket_name(workload: str, regions: list[str], suffix: str | None) -> str:
    """The longest bucket name a workload can produce, to check it against `BUCKET_NAME_MAX`."""
    longest_slug = max(COMPONENT_SLUGS, key=lambda component: len(COMPONENT_SLUGS[component]))
    longest_region = max(regions, key=len)
    return resource_name(workload, longest_slug, longest_region, suffix)
