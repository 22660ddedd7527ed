"""The `vendors` entries of `workload.yaml`: how each external AI service is reached and watched."""

from __future__ import annotations

import datetime
import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from drgen.clouds import REGIONS, Cloud
from drgen.strict import Loc, Strict, suggest
from drgen.vendors.known import CLOUD_OF, KEY_VARIABLE, PROVIDER_BY_NAME, Provider

ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
SECRET_NAME = r"^[A-Za-z0-9/_+=.@-]{1,255}$"


class Credential(Strict):
    env: str = Field(
        json_schema_extra={"pattern": ENV_NAME},
        description="Environment variable the gateway reads the API key from, e.g."
        " OPENAI_API_KEY (the name, never the key).",
    )
    secret: str | None = Field(
        default=None,
        json_schema_extra={"pattern": SECRET_NAME},
        description="Name of the secret in the stack's cloud (Secrets Manager / Secret Manager)"
        " that the gateway's runtime injects into `env`.",
    )

    # Checked here rather than by `pattern`, whose message would repeat the value: a pasted
    # key must not end up in terminal output or CI logs.
    @field_validator("env", "secret")
    @classmethod
    def _a_name_not_a_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if value.lower().startswith(KEY_PREFIXES):
            raise ValueError(
                "this looks like an API key; name where the key lives instead"
                " (an environment variable or a secret), never the key itself"
            )
        env = info.field_name == "env"
        if not re.fullmatch(ENV_NAME if env else SECRET_NAME, value):
            raise ValueError(
                "expected an environment variable name (A-Z, 0-9, _), e.g. OPENAI_API_KEY"
                if env
                else "expected a secret name (letters, digits and /_+=.@-, at most 255)"
            )
        return value


KEY_PREFIXES = ("sk-", "sk_", "aiza", "xai-", "gsk_", "pk-")
"""How the API keys of common vendors begin; such a value in `credential` is a leaked key."""

STATUS_URL = (
    r"^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?|http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?)"
    r"(/[A-Za-z0-9._~/-]*)?$"
)
"""A status page or API base: HTTPS, or plain HTTP on the loopback interface, which never leaves
the host (a model served beside the gateway, recorded pages and stand-in servers in tests)."""


class Vendor(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Vendor, e.g. openai.")
    model: str = Field(
        min_length=1,
        max_length=200,
        description="Model the workload calls, as the provider names it, e.g. gpt-4o.",
    )
    role: Literal["primary", "alternate", "degraded"] = Field(
        description="primary: in use; alternate: the tested fallback (tried in the order"
        " listed); degraded: the smaller model of `degraded_mode: smaller-model`, tried last."
    )
    deprecation: datetime.date | None = Field(
        default=None, description="Announced retirement date of the model (YYYY-MM-DD)."
    )
    provider: Provider | None = Field(
        default=None,
        description="How LiteLLM reaches the model (openai, anthropic, azure, bedrock,"
        " vertex_ai, gemini, ...); default from the name for openai, anthropic, google (gemini),"
        " mistral, cohere, groq, deepseek and xai.",
    )
    credential: Credential | None = Field(
        default=None,
        description="Where the API key lives; default: the provider's usual variable (e.g."
        " OPENAI_API_KEY). bedrock and vertex_ai use the gateway's cloud identity instead.",
    )
    region: str | None = Field(
        default=None,
        description="bedrock / vertex_ai: region the model is called in; default: the stack's"
        " own region when the provider runs on the workload's cloud.",
    )
    endpoint: str | None = Field(
        default=None,
        pattern=STATUS_URL,
        description="API base URL: HTTPS, or plain HTTP on the loopback interface (a model"
        " served beside the gateway); required for azure (the resource's endpoint).",
    )
    status_page: str | None = Field(
        default=None,
        pattern=STATUS_URL,
        description="Statuspage-compatible status page (serves /api/v2/summary.json); default"
        " for openai and anthropic.",
    )
    status_components: list[str] = Field(
        default_factory=list,
        description="Status-page components the model depends on, by name (any case); none: the"
        " page's overall indicator (also used while the page lists no components).",
    )


def vendor_problems(cloud: Cloud | None, index: int, vendor: Vendor) -> list[tuple[Loc, str]]:
    """What a vendor entry needs on `cloud` that its fields alone cannot say."""
    where: Loc = ("vendors", index)
    provider = vendor.provider or PROVIDER_BY_NAME.get(vendor.name)
    if provider is None:
        return [
            (
                (*where, "name"),
                f"drgen cannot tell how to reach {vendor.name!r}: add `provider:` (openai,"
                " anthropic, azure, bedrock, vertex_ai, gemini, ...)",
            )
        ]
    problems: list[tuple[Loc, str]] = []
    if provider == "azure" and vendor.endpoint is None:
        problems.append(
            (
                (*where, "endpoint"),
                "azure needs the resource's endpoint, e.g. https://NAME.openai.azure.com",
            )
        )
    home = CLOUD_OF.get(provider)
    if vendor.region is not None:
        if home is None:
            problems.append(
                (
                    (*where, "region"),
                    f"{provider} is not served from a cloud region drgen can name; use endpoint"
                    " for a regional API base",
                )
            )
        elif vendor.region not in REGIONS[home]:
            problems.append(
                (
                    (*where, "region"),
                    f"{vendor.region!r} is not a region of {home.upper()}"
                    f"{suggest(vendor.region, REGIONS[home])}",
                )
            )
    elif home is not None and cloud is not None and home != cloud:
        problems.append(
            (
                (*where, "region"),
                f"{provider} runs on {home.upper()}, not this workload's cloud: name the region"
                " to call it in",
            )
        )
    if home is not None and vendor.credential is not None:
        problems.append(
            (
                (*where, "credential"),
                f"{provider} is called with the gateway's cloud identity, not an API key;"
                " remove credential",
            )
        )
    if home is None and vendor.credential is None and provider not in KEY_VARIABLE:
        problems.append(((*where, "credential"), "name the variable that holds the API key"))
    secret = vendor.credential.secret if vendor.credential else None
    if secret is not None and cloud == "gcp" and not _GCP_SECRET_ID.fullmatch(secret):
        problems.append(
            (
                (*where, "credential", "secret"),
                "a Secret Manager secret id has only letters, digits, - and _",
            )
        )
    return problems


_GCP_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
"""https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create"""
