"""The LiteLLM gateway settings of one stack, derived from the plan's vendors and the tier's RTO.

Pure: the render path reads these models; it never imports LiteLLM.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from drgen.plan import DrPlan, StackPlan, VendorPlan
from drgen.vendors.known import CLOUD_OF, REGION_PARAMETER

FAST_RTO = 4 * 3600
"""Up to this RTO (tiers 0-1 by default) the gateway also probes every model in the background:
the probes are real, billed calls, worth it only where minutes of blind routing matter."""


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deployment(Frozen):
    """One `model_list` entry: a model group the application or a fallback names."""

    group: str
    vendor: VendorPlan
    model: str
    """`provider/model`, as LiteLLM routes it."""
    params: dict[str, str]
    """Further `litellm_params`: api_key (an `os.environ/` reference), api_base, region."""


class Gateway(Frozen):
    """Everything the stack's LiteLLM proxy config says."""

    stack: str
    deployments: tuple[Deployment, ...]
    fallbacks: tuple[str, ...]
    """Model groups tried, in order, when the primary group fails."""
    num_retries: int
    allowed_fails: int
    cooldown_time: int
    health_check_interval: int | None
    """None: no background health checks."""
    degraded_mode: str | None
    degraded_in_gateway: bool
    """True when degraded mode is a model the gateway falls back to last."""
    secrets: tuple[tuple[str, str], ...]
    """(variable, secret name) pairs the gateway's runtime injects."""

    @property
    def primary_group(self) -> str:
        return self.deployments[0].group


def gateway(plan: DrPlan, stack: StackPlan) -> Gateway | None:
    """The gateway of `stack`, or None when the workload calls no vendor."""
    primary = [v for v in plan.vendors if v.role == "primary"]
    if not primary:
        return None
    alternates = [v for v in plan.vendors if v.role == "alternate"]
    degraded = [v for v in plan.vendors if v.role == "degraded"]
    deployments = [_deployment(plan.workload, primary[0], plan, stack)]
    deployments += [
        _deployment(f"{plan.workload}-alternate-{n}", v, plan, stack)
        for n, v in enumerate(alternates, start=1)
    ]
    deployments += [_deployment(f"{plan.workload}-degraded", v, plan, stack) for v in degraded]
    rto = plan.objectives.rto_seconds
    return Gateway(
        stack=stack.name,
        deployments=tuple(deployments),
        fallbacks=tuple(d.group for d in deployments[1:]),
        num_retries=num_retries(rto),
        allowed_fails=allowed_fails(rto),
        cooldown_time=cooldown_time(rto),
        health_check_interval=health_check_interval(rto),
        degraded_mode=plan.degraded_mode,
        degraded_in_gateway=bool(degraded),
        secrets=_secrets(plan.vendors),
    )


def _secrets(vendors: tuple[VendorPlan, ...]) -> tuple[tuple[str, str], ...]:
    pairs = set()
    for vendor in vendors:
        if vendor.credential_env is not None and vendor.credential_secret is not None:
            pairs.add((vendor.credential_env, vendor.credential_secret))
    return tuple(sorted(pairs))


def num_retries(rto: int | None) -> int:
    """Retries of a failing group before its fallback: each one spends the caller's time, so a
    short RTO fails over after one retry."""
    return 1 if rto is not None and rto <= FAST_RTO else 2


def allowed_fails(rto: int | None) -> int:
    """Failures a deployment may have in a minute before it cools down."""
    if rto is not None and rto <= 3600:
        return 1
    return 2 if rto is not None and rto <= FAST_RTO else 3


def cooldown_time(rto: int | None) -> int:
    """Seconds a failed deployment is skipped before traffic probes it again: 1/60 of the RTO,
    30 s to 5 min, so the primary gets dozens of chances to return within the RTO."""
    if rto is None:
        return 300
    return max(30, min(300, rto // 60))


def health_check_interval(rto: int | None) -> int | None:
    """Seconds between background probes of every model (1/12 of the RTO, 1-15 min), or None
    where the tier does not warrant billed probes."""
    if rto is None or rto > FAST_RTO:
        return None
    return max(60, min(900, rto // 12))


def _deployment(group: str, vendor: VendorPlan, plan: DrPlan, stack: StackPlan) -> Deployment:
    params: dict[str, str] = {}
    if vendor.credential_env is not None:
        params["api_key"] = f"os.environ/{vendor.credential_env}"
    if vendor.endpoint is not None:
        params["api_base"] = vendor.endpoint
    region_parameter = REGION_PARAMETER.get(vendor.provider)
    if region_parameter is not None:
        # Validation guarantees a declared region when the provider runs on another cloud.
        same_cloud = CLOUD_OF.get(vendor.provider) == plan.cloud
        region = vendor.region or (stack.region if same_cloud else None)
        if region is not None:
            params[region_parameter] = region
    return Deployment(
        group=group, vendor=vendor, model=f"{vendor.provider}/{vendor.model}", params=params
    )
