"""How real clients spell model and provider names, and the canonical forms the price
table is keyed by (lamina.pricing): provider prefixes and aliases, Bedrock's ids, dated
snapshots."""

from __future__ import annotations

import re

# Telemetry spellings of a provider (OpenTelemetry ``gen_ai.system`` values,
# LiteLLM/OpenRouter prefixes) mapped to the names the price table uses.
_PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure_openai": "azure",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "gemini": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "vertex": "google",
    "google_genai": "google",
    "mistral": "mistral",
    "mistralai": "mistral",
    "mistral_ai": "mistral",
    "together": "together",
    "together_ai": "together",
    "togetherai": "together",
    "groq": "groq",
    "fireworks": "fireworks",
    "fireworks_ai": "fireworks",
    "bedrock": "bedrock",
    "aws.bedrock": "bedrock",
    "aws_bedrock": "bedrock",
    "amazon_bedrock": "bedrock",
    "bedrock_converse": "bedrock",
    "deepseek": "deepseek",
    "xai": "xai",
    "x_ai": "xai",
    "x-ai": "xai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
}

# Bedrock model ids: optional cross-region prefix, vendor, model, e.g.
# "us.anthropic.claude-3-5-sonnet-20241022-v2:0" or "meta.llama3-1-8b-instruct-v1:0".
_BEDROCK_ID = re.compile(
    r"^(?:(?:us|eu|apac|ap|us-gov|ca|jp|au|global)\.)?"
    r"(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|writer|openai|qwen)\.(.+)$"
)
_BEDROCK_VERSION = re.compile(r"-v\d+:\d+$")
_CLAUDE_DOTTED_VERSION = re.compile(r"(?<=\d)\.(?=\d)")

# Snapshot suffixes that name a dated or rolling release of a base model.
_SNAPSHOT_SUFFIXES: tuple[re.Pattern[str], ...] = (
    re.compile(r"@.*$"),  # Vertex AI: claude-3-5-sonnet-v2@20241022
    re.compile(r"-latest$"),  # claude-3-5-sonnet-latest, mistral-large-latest
    re.compile(r"-\d{4}-\d{2}-\d{2}$"),  # OpenAI: gpt-4o-2024-08-06
    re.compile(r"-\d{8}$"),  # Anthropic: claude-3-5-sonnet-20241022
    re.compile(r"-\d{2}-\d{4}$"),  # Cohere: command-r-plus-08-2024
    re.compile(r"-\d{4}$"),  # OpenAI gpt-4-0613, Mistral mistral-large-2411
    re.compile(r"-\d{3}$"),  # Google: gemini-1.5-pro-002
)


def normalise_provider(provider: str) -> str:
    p = provider.strip().lower()
    return _PROVIDER_ALIASES.get(p, p)


def canonical_name(raw: str) -> tuple[str, str | None]:
    """Lower-case ``raw`` and strip provider prefixes and Bedrock decoration.

    Returns the bare model name and the provider the prefix named, if any.
    Dates are left alone: an exact snapshot can have its own price.
    """
    name = raw.strip().lower()
    hint: str | None = None
    if "/" in name:
        *prefixes, name = name.split("/")
        for segment in prefixes:
            if segment in _PROVIDER_ALIASES:
                hint = _PROVIDER_ALIASES[segment]
                break
    bedrock = _BEDROCK_ID.match(name)
    if bedrock is not None:
        name = bedrock.group(1)
        hint = hint or "bedrock"
    name = _BEDROCK_VERSION.sub("", name)
    if name.startswith("claude"):
        # OpenRouter and others write "claude-3.5-sonnet"; Anthropic writes "claude-3-5-sonnet".
        name = _CLAUDE_DOTTED_VERSION.sub("-", name)
    return name, hint


def without_snapshots(name: str) -> list[str]:
    """``name`` with snapshot suffixes removed one at a time, shortest last."""
    forms: list[str] = []
    changed = True
    while changed:
        changed = False
        for pattern in _SNAPSHOT_SUFFIXES:
            shorter = pattern.sub("", name)
            if shorter != name and shorter:
                name = shorter
                forms.append(name)
                changed = True
                break
    return forms
