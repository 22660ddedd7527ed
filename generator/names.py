"""Deterministic resource names, shared by validation (do they fit?) and the plan."""

from __future__ import annotations

import hashlib

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


def project_suffix(project: str) -> str:
    """Six hex digits of the SHA-256 of a GCP project ID. Project IDs are unique across Google
    Cloud, so two teams' projects give different suffixes (a 1 in 16.7 million chance that two
    collide), and the same project always gives the same one: names stay literal."""
    return hashlib.sha256(project.encode("utf-8")).hexdigest()[:6]


def bucket_suffix(suffix: str | None, gcp_project: str | None) -> str | None:
    """The suffix of a workload's globally unique names: `naming.suffix` when set, else one
    derived from `naming.project` on GCP, else none."""
    if suffix:
        return suffix
    return project_suffix(gcp_project) if gcp_project else None


def shared_names_warning(workload: str, cloud: str, example: str) -> str:
    """Why names without a suffix may collide, and how to give them one."""
    fixes = "set naming.suffix (`drgen init` writes a random one)"
    if cloud == "gcp":
        fixes += " or naming.project (the project ID the stacks deploy into)"
    store = "S3" if cloud == "aws" else "Cloud Storage"
    return (
        f"bucket names carry no suffix ({example!r}): {store} bucket names are global, so any"
        f" other workload named {workload!r} derives the same ones and only the first to deploy"
        f" gets them; {fixes}"
    )
