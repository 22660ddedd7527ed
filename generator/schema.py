"""The `workload.yaml` schema: what a team declares about its AI workload's recovery needs."""

from __future__ import annotations

import ipaddress
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from drgen.clouds import (
    DNS_NAME,
    GCP_REGIONS,
    REGIONS,
    URL_PATH,
    Cloud,
    gcp_dual_region,
    tag_problems,
)
from drgen.durations import EXPECTED, parse_duration
from drgen.limits import TAG_LIMITS
from drgen.names import BUCKET_NAME_MAX, bucket_suffix, longest_bucket_name
from drgen.strict import Loc, Strict, suggest
from drgen.vendors.entries import Vendor, vendor_problems

Pattern = Literal["active-active", "warm-standby", "cold-restore"]
VectorEngine = Literal["pgvector", "qdrant", "weaviate", "milvus", "opensearch"]
FeatureEngine = Literal["dynamodb", "firestore", "bigtable"]

DEFAULT_PATTERN: dict[int, Pattern] = {
    0: "active-active",
    1: "warm-standby",
    2: "cold-restore",
    3: "cold-restore",
}
"""The pattern each tier gets when the workload names none (dr-patterns.md, section 1)."""

LIVE_PATTERNS: frozenset[Pattern] = frozenset({"active-active", "warm-standby"})
"""Patterns that serve traffic from a second region and so need an endpoint to route."""

FEATURE_ENGINES: dict[Cloud, tuple[FeatureEngine, ...]] = {
    "aws": ("dynamodb",),
    "gcp": ("firestore", "bigtable"),
}
VECTOR_ENGINES: dict[Cloud, tuple[VectorEngine, ...]] = {
    "aws": ("pgvector", "qdrant", "weaviate", "milvus", "opensearch"),
    "gcp": ("pgvector", "qdrant", "weaviate", "milvus"),
}


def _to_seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected {EXPECTED} (a unit is required), got {value!r}")
    return parse_duration(value)


Duration = Annotated[
    int,
    BeforeValidator(_to_seconds),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(\d+[smhdwy]|P(\d+Y)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?)$",
            "examples": ["30s", "15m", "4h", "3d", "7y", "PT15M"],
        }
    ),
]
"""A duration written as text, held as whole seconds."""

SIZE_GB_MAX = 10**7
"""10 PB: beyond any one model or index, and well inside what restore estimates can compute."""
RESERVED_DATABASES = ("cloudsqladmin", "template0", "template1")

WORKLOAD_NAME = r"^[a-z](?!.*--)[a-z0-9-]{1,38}[a-z0-9]$"
"""The workload's name; every resource name starts with it."""


def _report(info: ValidationInfo, problems: list[tuple[Loc, str]]) -> None:
    """Hand cross-field problems to the loader's collector, so all of them are reported at once.

    Without a collector (direct `model_validate`), the first problems become a plain error.
    """
    if not problems:
        return
    sink = info.context.get("problems") if isinstance(info.context, dict) else None
    if sink is None:
        raise ValueError("; ".join(message for _, message in problems))
    sink.extend(problems)


class Regions(Strict):
    primary: str = Field(description="Region that serves traffic in normal operation.")
    secondary: str | None = Field(
        default=None,
        description="Recovery region; required for tiers 0-2, must differ from primary.",
    )

    def in_order(self) -> list[str]:
        """Primary, then secondary when declared."""
        return [self.primary, *([self.secondary] if self.secondary else [])]


class Objectives(Strict):
    rto: Duration | None = Field(
        default=None, description="Recovery time objective; default by tier (0: 1h ... 3: none)."
    )
    rpo: Duration | None = Field(
        default=None, description="Recovery point objective; default by tier (0: 1m ... 3: 24h)."
    )


GCP_PROJECT_ID = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
"""6-30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen
(https://cloud.google.com/resource-manager/docs/creating-managing-projects)."""


class Naming(Strict):
    suffix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]{1,8}$",
        description="Appended to globally unique names (buckets): 1-8 lowercase letters/digits.",
    )
    project: str | None = Field(
        default=None,
        json_schema_extra={"pattern": GCP_PROJECT_ID},
        description="GCP only: the ID of the project the stacks deploy into (each stack refuses"
        " another). Without `suffix`, the suffix is six hex digits of its SHA-256, unique because"
        " project IDs are; without either, `drgen validate` warns that bucket names may collide.",
    )

    @field_validator("project")
    @classmethod
    def _a_project_id(cls, project: str | None) -> str | None:
        if project is not None and not re.fullmatch(GCP_PROJECT_ID, project):
            raise ValueError(
                f"{project!r} is not a GCP project ID: 6-30 lowercase letters, digits and -,"
                " starting with a letter (the ID, not the project's display name)"
            )
        return project


class Models(Strict):
    size_gb: float = Field(
        default=100,
        gt=0,
        le=SIZE_GB_MAX,
        allow_inf_nan=False,
        description="Total size of model artefacts, for restore estimates.",
    )


class VectorStore(Strict):
    engine: VectorEngine = Field(description="Vector database engine.")
    size_gb: float = Field(
        default=10,
        gt=0,
        le=SIZE_GB_MAX,
        allow_inf_nan=False,
        description="Index size, for restore estimates.",
    )
    snapshot_every: Duration = Field(
        default=3600,
        description="Snapshot cadence for snapshot-based engines (qdrant, weaviate, milvus,"
        " opensearch); at least 5m, in whole minutes.",
    )

    database: str = Field(
        default="postgres",
        description="pgvector: the PostgreSQL database holding the vectors; a GCP cold-restore"
        " plan exports it to the secondary (a PostgreSQL export names one database). Default:"
        " `postgres`, the database Cloud SQL creates with every instance.",
    )
    eval: str | None = Field(
        default=None,
        description="Retrieval evaluation set for `drgen drill`: a JSONL file of queries with"
        " their expected neighbours, relative to workload.yaml; recall@k is measured on it"
        " after a restore.",
    )

    @field_validator("database")
    @classmethod
    def _a_user_database(cls, name: str) -> str:
        # Cloud SQL reserves cloudsqladmin for itself; template0/1 hold no user data
        # (https://cloud.google.com/sql/docs/postgres/create-manage-databases).
        if name in RESERVED_DATABASES:
            raise ValueError(
                f"{name} is not a database the application writes; name the one it does"
            )
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(
                "a PostgreSQL database name of 1-63 lowercase letters, digits and _, starting"
                " with a letter or _ (one drgen can pass to an export unquoted)"
            )
        return name

    @field_validator("snapshot_every")
    @classmethod
    def _at_least_five_minutes(cls, seconds: int) -> int:
        if seconds < 300:
            raise ValueError("snapshots more often than every 5m are not supported; use 5m or more")
        if seconds % 60:
            raise ValueError("schedulers count in whole minutes; use e.g. 5m, 90m or 4h")
        return seconds


class FeatureStore(Strict):
    engine: FeatureEngine = Field(description="aws: dynamodb; gcp: firestore or bigtable.")


class Prompts(Strict):
    path: str = Field(
        description="Folder of prompt, retrieval-config and tool-definition files, relative to"
        " workload.yaml; deployed to every region so that a restore is a redeploy. It must"
        " resolve inside the workload's folder; only regular UTF-8 text files are read (no"
        " symbolic links; at most 1 MiB each, 10 MiB and 500 files in all; hidden files"
        " skipped)."
    )


class AuditLog(Strict):
    retention: Duration = Field(
        default=365 * 86400,
        description="How long decision/audit records stay immutable (object lock / locked"
        " retention); at least 1d.",
    )

    @field_validator("retention")
    @classmethod
    def _at_least_a_day(cls, seconds: int) -> int:
        if seconds < 86400 or seconds % 86400:
            raise ValueError("retention must be a whole number of days, at least 1d")
        return seconds


class Components(Strict):
    models: Models = Field(default_factory=Models, description="Model artefacts (always).")
    vector_store: VectorStore | None = Field(default=None, description="Vector store, if any.")
    feature_store: FeatureStore | None = Field(default=None, description="Feature store, if any.")
    prompts: Prompts | None = Field(default=None, description="Prompts and tool definitions.")
    audit_log: AuditLog = Field(
        default_factory=AuditLog, description="Immutable audit/decision log vault (always)."
    )


class Endpoint(Strict):
    domain: str = Field(description="DNS name clients call, e.g. fraud.example.com.")
    zone: str = Field(description="DNS zone that holds `domain`, e.g. example.com.")
    health_path: str = Field(default="/healthz", description="HTTPS health-check path.")
    targets: dict[str, str] = Field(
        description="Region -> that region's load balancer: its host name (AWS) or external IPv4"
        " address (GCP); one per stack region."
    )


def _cloud_rules(schema: dict[str, Any]) -> None:
    """What depends on the cloud, in JSON Schema terms, so that editors flag it too: the
    regions each cloud has and how many tags or labels it takes. (That the two regions differ
    is beyond JSON Schema; `drgen validate` checks it.)"""
    schema["allOf"] = [
        {
            "if": {"properties": {"cloud": {"const": cloud}}, "required": ["cloud"]},
            "then": {
                "properties": {
                    "regions": {
                        "properties": {
                            "primary": {"enum": sorted(REGIONS[cloud])},
                            "secondary": {"enum": sorted(REGIONS[cloud])},
                        }
                    },
                    "tags": {"maxProperties": TAG_LIMITS[cloud].for_the_workload},
                }
            },
        }
        for cloud in ("aws", "gcp")
    ]


class Workload(Strict):
    """One AI workload and the disaster-recovery objectives it must meet."""

    model_config = ConfigDict(json_schema_extra=_cloud_rules)

    name: str = Field(
        pattern=WORKLOAD_NAME,
        description="Workload name, used in every resource name: 3-40 of a-z, 0-9 and -,"
        " starting with a letter, ending with a letter or digit, no --; every name derived from it"
        " must fit its cloud's limit (`drgen validate` names any that does not).",
    )
    tier: int = Field(ge=0, le=3, strict=True, description="0 mission-critical ... 3 exploratory.")
    cloud: Cloud = Field(description="Target cloud.")
    regions: Regions = Field(description="Primary and recovery regions.")
    pattern: Pattern | None = Field(
        default=None,
        description="DR pattern; default by tier: 0 active-active, 1 warm-standby,"
        " 2-3 cold-restore.",
    )
    objectives: Objectives = Field(
        default_factory=Objectives, description="RTO/RPO; defaults by tier."
    )
    owner: str | None = Field(default=None, description="Who owns recovery (team or e-mail).")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Tags (AWS) or labels (GCP) on every resource."
    )
    naming: Naming = Field(
        default_factory=Naming,
        validate_default=True,
        description="Naming options for globally unique names.",
    )
    components: Components = Field(
        default_factory=Components, description="What the workload needs to recover."
    )
    vendors: list[Vendor] = Field(
        default_factory=list, description="External AI services the workload calls."
    )
    degraded_mode: Literal["smaller-model", "rules", "human"] | None = Field(
        default=None,
        validate_default=True,
        description="How the workload serves when every vendor is down; smaller-model: the"
        " vendor with role degraded, the gateway's last fallback.",
    )
    vendor_eval: str | None = Field(
        default=None,
        description="Prompt evaluation set for `drgen drill --component vendors --live`: a JSONL"
        " file of the team's prompts, relative to workload.yaml; each is sent to every alternate"
        " with real credentials and the answers are recorded for a person to judge.",
    )
    endpoint: Endpoint | None = Field(
        default=None,
        validate_default=True,
        description="Public endpoint; required for active-active and warm-standby.",
    )

    @property
    def effective_pattern(self) -> Pattern:
        """The declared pattern, or the tier's default."""
        return self.pattern or DEFAULT_PATTERN[self.tier]

    @property
    def bucket_suffix(self) -> str | None:
        """The suffix of globally unique names: declared, derived from the project, or none."""
        return bucket_suffix(self.naming.suffix, self.naming.project)

    @property
    def region_list(self) -> list[str]:
        """Primary, then secondary when declared."""
        return self.regions.in_order()

    @field_validator("regions")
    @classmethod
    def _regions_exist(cls, regions: Regions, info: ValidationInfo) -> Regions:
        cloud, tier = info.data.get("cloud"), info.data.get("tier")
        problems: list[tuple[Loc, str]] = []
        for role in ("primary", "secondary"):
            region = getattr(regions, role)
            if cloud and region is not None and region not in REGIONS[cloud]:
                problems.append(
                    (
                        ("regions", role),
                        f"{region!r} is not a region of {cloud.upper()}"
                        f"{suggest(region, REGIONS[cloud])}",
                    )
                )
        if regions.secondary is not None and regions.secondary == regions.primary:
            problems.append(
                (
                    ("regions", "secondary"),
                    "must differ from primary: recovery needs another region",
                )
            )
        if regions.secondary is None and tier is not None and tier <= 2:
            problems.append(
                (("regions", "secondary"), f"required for tier {tier}: name a recovery region")
            )
        _report(info, problems)
        return regions

    @field_validator("tags")
    @classmethod
    def _tags_fit_cloud(cls, tags: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        cloud = info.data.get("cloud")
        if cloud:
            problems: list[tuple[Loc, str]] = [
                (("tags", key), text)
                for key, value in tags.items()
                for text in tag_problems(cloud, key, value)
            ]
            limit = TAG_LIMITS[cloud]
            if len(tags) > limit.for_the_workload:
                kind = "tags" if cloud == "aws" else "labels"
                problems.append(
                    (
                        ("tags",),
                        f"{len(tags)} {kind}, the limit is {limit.for_the_workload}:"
                        f" {cloud.upper()} allows {limit.per_resource} per resource and drgen adds"
                        f" {limit.added_by_drgen}; remove {len(tags) - limit.for_the_workload}",
                    )
                )
            _report(info, problems)
        return tags

    @field_validator("naming")
    @classmethod
    def _names_fit(cls, naming: Naming, info: ValidationInfo) -> Naming:
        name, regions, cloud = (
            info.data.get("name"),
            info.data.get("regions"),
            info.data.get("cloud"),
        )
        problems: list[tuple[Loc, str]] = []
        if naming.project is not None and cloud == "aws":
            problems.append(
                (
                    ("naming", "project"),
                    "names a GCP project; an AWS workload has none: use naming.suffix",
                )
            )
        elif name and regions:
            suffix = bucket_suffix(naming.suffix, naming.project)
            longest = longest_bucket_name(name, regions.in_order(), suffix)
            if len(longest) > BUCKET_NAME_MAX:
                problems.append(
                    (
                        ("name",),
                        f"too long for bucket names: {longest!r} has {len(longest)} characters,"
                        f" the limit is {BUCKET_NAME_MAX}; shorten the name or the suffix",
                    )
                )
        _report(info, problems)
        return naming

    @field_validator("components")
    @classmethod
    def _engines_fit_cloud(cls, components: Components, info: ValidationInfo) -> Components:
        cloud: Cloud | None = info.data.get("cloud")
        problems: list[tuple[Loc, str]] = []
        vectors, features = components.vector_store, components.feature_store
        if cloud and vectors and vectors.engine not in VECTOR_ENGINES[cloud]:
            problems.append(
                (
                    ("components", "vector_store", "engine"),
                    f"{vectors.engine} is not offered on {cloud}; choose one of"
                    f" {', '.join(VECTOR_ENGINES[cloud])}",
                )
            )
        if cloud and features and features.engine not in FEATURE_ENGINES[cloud]:
            problems.append(
                (
                    ("components", "feature_store", "engine"),
                    f"{features.engine} is not offered on {cloud}; choose one of"
                    f" {', '.join(FEATURE_ENGINES[cloud])}",
                )
            )
        if components.prompts is not None:
            problems.extend(_prompts_path_problems(components.prompts.path))
        if vectors is not None and vectors.eval is not None:
            problems.extend(
                _prompts_path_problems(vectors.eval, ("components", "vector_store", "eval"), "file")
            )
        _report(info, problems)
        return components

    @field_validator("vendors")
    @classmethod
    def _vendors_route(cls, vendors: list[Vendor], info: ValidationInfo) -> list[Vendor]:
        cloud: Cloud | None = info.data.get("cloud")
        problems: list[tuple[Loc, str]] = []
        for index, vendor in enumerate(vendors):
            problems += vendor_problems(cloud, index, vendor)
        primaries = [i for i, v in enumerate(vendors) if v.role == "primary"]
        if vendors and len(primaries) != 1:
            where: Loc = ("vendors", primaries[1]) if primaries else ("vendors",)
            problems.append(
                (
                    where,
                    f"{len(primaries)} vendors with role primary; the gateway needs exactly one",
                )
            )
        degraded = [i for i, v in enumerate(vendors) if v.role == "degraded"]
        if len(degraded) > 1:
            problems.append(
                (("vendors", degraded[1], "role"), "only one vendor can have role degraded")
            )
        _report(info, problems)
        return vendors

    @field_validator("degraded_mode")
    @classmethod
    def _degraded_model_declared(cls, mode: str | None, info: ValidationInfo) -> str | None:
        vendors: list[Vendor] = info.data.get("vendors") or []
        degraded = [i for i, v in enumerate(vendors) if v.role == "degraded"]
        if degraded and mode != "smaller-model":
            message = (
                "a vendor with role degraded is the smaller model of degraded_mode:"
                f" smaller-model, but degraded_mode is {mode or 'not set'}"
            )
            _report(info, [(("vendors", degraded[0], "role"), message)])
        return mode

    @field_validator("vendor_eval")
    @classmethod
    def _vendor_eval_inside(cls, path: str | None, info: ValidationInfo) -> str | None:
        if path is not None:
            _report(info, _prompts_path_problems(path, ("vendor_eval",), "file"))
        return path

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_pattern(
        cls, endpoint: Endpoint | None, info: ValidationInfo
    ) -> Endpoint | None:
        tier, regions = info.data.get("tier"), info.data.get("regions")
        pattern = info.data.get("pattern") or (DEFAULT_PATTERN[tier] if tier is not None else None)
        problems: list[tuple[Loc, str]] = []
        if endpoint is None:
            if pattern in LIVE_PATTERNS and "pattern" in info.data:
                problems.append(
                    (
                        ("endpoint",),
                        f"required for {pattern}: add endpoint with domain, zone and"
                        f" targets (per region: {_TARGET_HINT[info.data.get('cloud') or 'aws']})",
                    )
                )
            _report(info, problems)
            return endpoint
        if not DNS_NAME.fullmatch(endpoint.domain):
            problems.append((("endpoint", "domain"), f"{endpoint.domain!r} is not a DNS name"))
        if not DNS_NAME.fullmatch(endpoint.zone):
            problems.append((("endpoint", "zone"), f"{endpoint.zone!r} is not a DNS zone name"))
        elif not endpoint.domain.endswith("." + endpoint.zone):
            problems.append(
                (
                    ("endpoint", "domain"),
                    f"{endpoint.domain!r} is not inside zone {endpoint.zone!r}",
                )
            )
        if not URL_PATH.fullmatch(endpoint.health_path):
            problems.append(
                (
                    ("endpoint", "health_path"),
                    f"{endpoint.health_path!r} is not a URL path like /healthz",
                )
            )
        for region, target in endpoint.targets.items():
            problems += _target_problems(info.data.get("cloud"), region, target)
        if regions is not None:
            wanted = regions.in_order()
            cloud = info.data.get("cloud")
            known = [r for r in wanted if cloud and r in REGIONS[cloud]]
            for region in known:
                if region not in endpoint.targets:
                    problems.append(
                        (
                            ("endpoint", "targets"),
                            f"no target for region {region}; add `{region}:"
                            f" <{_TARGET_HINT[cloud or 'aws']}>`",
                        )
                    )
            for region in endpoint.targets:
                if region not in wanted:
                    problems.append(
                        (
                            ("endpoint", "targets", region),
                            f"{region} is not one of the workload's"
                            f" regions ({', '.join(wanted)}){suggest(region, wanted)}",
                        )
                    )
        _report(info, problems)
        return endpoint

    @field_validator("endpoint")
    @classmethod
    def _gcp_regions_pair_up(
        cls, endpoint: Endpoint | None, info: ValidationInfo
    ) -> Endpoint | None:
        # Runs on the last field (validate_default), so every other field is in info.data.
        cloud, tier, regions = (
            info.data.get("cloud"),
            info.data.get("tier"),
            info.data.get("regions"),
        )
        if cloud != "gcp" or tier is None or regions is None or regions.secondary is None:
            return endpoint
        pattern = info.data.get("pattern") or DEFAULT_PATTERN[tier]
        known = regions.primary in GCP_REGIONS and regions.secondary in GCP_REGIONS
        if pattern not in LIVE_PATTERNS or not known:
            return endpoint
        continent = gcp_dual_region(*regions.in_order())
        components = info.data.get("components")
        features = components.feature_store if components else None
        if continent is None:
            message = (
                f"{pattern} on GCP keeps data in dual-region buckets, which need both regions in"
                " one of the US (incl. northamerica-northeast), EU or ASIA; pick a secondary on"
                " the primary's continent, or pattern: cold-restore"
            )
            _report(info, [(("regions", "secondary"), message)])
        elif continent == "ASIA" and features is not None and features.engine == "firestore":
            message = (
                f"{pattern} needs a Firestore multi-region (nam5 or eur3), and Asia has none;"
                " use bigtable, or regions in the US or EU"
            )
            _report(info, [(("components", "feature_store", "engine"), message)])
        return endpoint


_TARGET_HINT = {"aws": "load balancer host name", "gcp": "load balancer IPv4 address"}


def _target_problems(cloud: Cloud | None, region: str, target: str) -> list[tuple[Loc, str]]:
    where = ("endpoint", "targets", region)
    if cloud == "gcp":
        try:
            ipaddress.IPv4Address(target)
        except ValueError:
            return [
                (
                    where,
                    f"{target!r} is not an IPv4 address: Cloud DNS health-checked routing"
                    " needs the external IP of the region's load balancer",
                )
            ]
        return []
    if not DNS_NAME.fullmatch(target):
        return [(where, f"{target!r} is not a host name")]
    return []


def _prompts_path_problems(
    path: str, loc: Loc = ("components", "prompts", "path"), kind: str = "folder"
) -> list[tuple[Loc, str]]:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        return [
            (
                loc,
                f"{path!r} must be a {kind} inside the workload's folder (relative, no ..)",
            )
        ]
    return []
