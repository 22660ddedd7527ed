"""What drgen knows about well-known vendors, so that a short vendor entry still routes."""

from __future__ import annotations

from typing import Literal

Provider = Literal[
    "openai",
    "anthropic",
    "azure",
    "bedrock",
    "vertex_ai",
    "gemini",
    "mistral",
    "cohere",
    "groq",
    "deepseek",
    "xai",
    "together_ai",
    "fireworks_ai",
]
"""Providers as LiteLLM prefixes their models (`openai/gpt-4o`, `vertex_ai/gemini-2.5-pro`)."""

PROVIDER_BY_NAME: dict[str, Provider] = {
    "openai": "openai",
    "anthropic": "anthropic",
    # Google's models reached with an API key (AI Studio); Vertex AI is `provider: vertex_ai`.
    "google": "gemini",
    "gemini": "gemini",
    "mistral": "mistral",
    "cohere": "cohere",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "xai",
}
"""Vendor name -> provider, when the entry names none."""

KEY_VARIABLE: dict[Provider, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "azure": "AZURE_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "cohere": "COHERE_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "xai": "XAI_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
}
"""The environment variable LiteLLM's documentation uses for each provider's API key.

Bedrock and Vertex AI have none: the gateway calls them with its cloud identity (IAM role,
service account), so no key exists to leak."""

CLOUD_OF: dict[Provider, Literal["aws", "gcp"]] = {"bedrock": "aws", "vertex_ai": "gcp"}
"""Providers served by a cloud region; in a stack of that cloud they default to its region."""

REGION_PARAMETER: dict[Provider, str] = {
    "bedrock": "aws_region_name",
    "vertex_ai": "vertex_location",
}
"""The LiteLLM parameter that names the region a cloud-served model is called in."""

STATUS_PAGE: dict[str, str] = {
    # Atlassian Statuspage.
    "anthropic": "https://status.anthropic.com",
    # incident.io, with a Statuspage-compatible /api/v2/summary.json.
    "openai": "https://status.openai.com",
}
"""Vendor name -> status page with a Statuspage-compatible API, when the entry names none.

Google, Azure and AWS publish cloud-wide status feeds in other formats; drgen does not guess
those, so such vendors are watched only when the entry names a compatible page."""
