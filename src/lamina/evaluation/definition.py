"""An evaluator's definition: the JSON the API takes, checked, and how it is shown.

::

    {"name": "helpfulness", "target": "session" | "trace", "enabled": true,
     "filter": {"name": "handle_turn", "tag": "support", "metadata": {"channel": "web"}},
     "sample_rate": 1.0, "quiet_seconds": 600,
     "kind": "llm_judge" | "check",
     "llm": {"base_url": ..., "model": ..., "api_key": ..., "api_key_env": ...,
             "prompt": ..., "score": {"name": ..., "type": "numeric", "min": 0, "max": 1}},
     "check": {"type": "error_in_last_turn", "params": {}},
     "budget": {"calls_per_day": 1000, "tokens_per_day": 5000000}}  # an LLM judge's

A change (``PUT``) gives only the fields it changes; the rest are kept. The API key is
write-only: it is taken out before the definition is stored (the caller encrypts it,
lamina.evaluation.secrets) and shown only as ``api_key_set``. Every mistake is a 400
that says which field and what it may be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from lamina.errors import BadRequest
from lamina.evaluation import checks
from lamina.evaluation.budget import DEFAULT_CALLS_PER_DAY, DEFAULT_TOKENS_PER_DAY
from lamina.judging import validate_prompt
from lamina.query.present import moment
from lamina.store.evaluators import Evaluator

TARGETS = ("session", "trace")
KINDS = ("llm_judge", "check")
SCORE_TYPES = ("numeric", "boolean", "categorical")
MAX_QUIET_SECONDS = 7 * 86_400
DEFAULT_QUIET_SECONDS = 600
MAX_DESCRIPTION = 1000  # a note for the people who read the Evaluators page
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_FIELDS = (
    "name",
    "target",
    "enabled",
    "filter",
    "sample_rate",
    "quiet_seconds",
    "kind",
    "llm",
    "check",
    "budget",
    "description",
)
_LLM_FIELDS = ("base_url", "model", "api_key", "api_key_env", "prompt", "score")
UNSET = object()


@dataclass(frozen=True, slots=True)
class Definition:
    """A checked definition, as stored (``spec`` is the JSON text, without the key)."""

    name: str
    target: str
    enabled: bool
    spec: dict[str, Any]


def parse(given: Any, stored: Evaluator | None = None) -> tuple[Definition, Any]:
    """The definition ``given`` makes (over ``stored``'s, for a change), and the API key
    it gives: a string, None (remove it), or UNSET (keep the stored one)."""
    if not isinstance(given, dict):
        raise BadRequest("The body must be a JSON object: an evaluator's definition.")
    unknown = sorted(given.keys() - set(_FIELDS))
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0][:80]!r}: an evaluator has {', '.join(_FIELDS)}."
        )
    spec: dict[str, Any] = orjson.loads(stored.definition) if stored is not None else {}
    spec.update({name: value for name, value in given.items() if name != "llm"})
    api_key: Any = UNSET
    if "llm" in given:
        llm = given["llm"]
        if llm is not None and not isinstance(llm, dict):
            raise BadRequest("llm must be an object: base_url, model, prompt, score, api_key.")
        if isinstance(llm, dict):
            api_key = llm.get("api_key", UNSET)
            kept = {k: v for k, v in (spec.get("llm") or {}).items()}
            kept.update({k: v for k, v in llm.items() if k != "api_key"})
            spec["llm"] = kept
        else:
            spec["llm"] = None
            api_key = None
    checked = _checked(spec)
    if (
        api_key is not UNSET
        and api_key is not None
        and (not isinstance(api_key, str) or not 0 < len(api_key) <= 1000)
    ):
        raise BadRequest("llm.api_key must be text of 1 to 1000 characters (or null: none).")
    return Definition(checked["name"], checked["target"], checked["enabled"], checked), api_key


def _checked(spec: dict[str, Any]) -> dict[str, Any]:
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            "name is required: 1 to 100 letters, digits, '_', '.', ':' or '-', starting "
            "with a letter or digit (its scores' source is evaluator:<name>)."
        )
    target = spec.setdefault("target", "session")
    if target not in TARGETS:
        raise BadRequest('target must be "session" or "trace".')
    note = spec.setdefault("description", None)
    if note is not None and (not isinstance(note, str) or len(note) > MAX_DESCRIPTION):
        raise BadRequest(
            f"description must be text of at most {MAX_DESCRIPTION} characters (or null)."
        )
    enabled = spec.setdefault("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false.")
    spec["filter"] = _filter(spec.get("filter"))
    rate = spec.setdefault("sample_rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise BadRequest("sample_rate must be a number from 0 to 1 (1: every target).")
    quiet = spec.setdefault("quiet_seconds", DEFAULT_QUIET_SECONDS)
    if isinstance(quiet, bool) or not isinstance(quiet, int) or not 0 <= quiet <= MAX_QUIET_SECONDS:
        raise BadRequest(
            f"quiet_seconds must be a whole number of seconds from 0 to {MAX_QUIET_SECONDS}: "
            "how long no span arrives before a target is judged."
        )
    kind = spec.get("kind")
    if kind not in KINDS:
        raise BadRequest('kind is required: "llm_judge" or "check".')
    if kind == "check":
        spec["check"] = checks.parse(spec.get("check"))
        spec["llm"] = None
    else:
        spec["llm"] = _llm(spec.get("llm"))
        spec["check"] = None
    spec["budget"] = _budget(spec.get("budget")) if kind == "llm_judge" else None
    return spec


def _budget(given: Any) -> dict[str, int]:
    """An LLM judge's daily budget (lamina.evaluation.budget), its defaults filled."""
    if given is None:
        given = {}
    if not isinstance(given, dict) or given.keys() - {"calls_per_day", "tokens_per_day"}:
        raise BadRequest("budget is an object with calls_per_day and tokens_per_day.")
    out = {"calls_per_day": DEFAULT_CALLS_PER_DAY, "tokens_per_day": DEFAULT_TOKENS_PER_DAY}
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(
                f"budget.{name} must be a whole number, 0 or more: the most a UTC day "
                "(0 stops the judge's calls)."
            )
        out[name] = value
    return out


def _filter(given: Any) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, dict) or given.keys() - {"name", "tag", "metadata"}:
        raise BadRequest("filter is an object with name, tag and metadata (each optional).")
    for field in ("name", "tag"):
        if field in given and not (isinstance(given[field], str) and given[field]):
            raise BadRequest(f"filter.{field} must be text.")
    metadata = given.get("metadata", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(v, str | int | float | bool) for v in metadata.values()
    ):
        raise BadRequest('filter.metadata is an object of keys and values: {"channel": "web"}.')
    return dict(given)


def _llm(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise BadRequest("An llm_judge evaluator needs llm: base_url, model, prompt and score.")
    unknown = sorted(given.keys() - set(_LLM_FIELDS))
    if unknown:
        raise BadRequest(f"Unknown field llm.{unknown[0][:80]}: llm has {', '.join(_LLM_FIELDS)}.")
    url = given.get("base_url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("llm.base_url must be an http(s) URL: https://api.openai.com/v1.")
    if not isinstance(given.get("model"), str) or not given["model"]:
        raise BadRequest("llm.model must name the model: gpt-4o-mini.")
    env = given.get("api_key_env")
    if env is not None and (not isinstance(env, str) or not _ENV.fullmatch(env)):
        raise BadRequest("llm.api_key_env must name an environment variable: OPENAI_API_KEY.")
    try:
        validate_prompt(given.get("prompt"))
    except BadRequest as exc:
        raise BadRequest(f"llm.prompt: {exc.message}") from None
    given["score"] = _score(given.get("score"))
    return given


def _score(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict) or not isinstance(given.get("name"), str) or not given["name"]:
        raise BadRequest('llm.score must name the score: {"name": "helpfulness", "type": ...}.')
    kind = given.setdefault("type", "numeric")
    if kind not in SCORE_TYPES:
        raise BadRequest('llm.score.type must be "numeric", "boolean" or "categorical".')
    for bound in ("min", "max"):
        value = given.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise BadRequest(f"llm.score.{bound} must be a number.")
    if kind == "categorical":
        categories = given.get("categories")
        if (
            not isinstance(categories, list)
            or not categories
            or not all(isinstance(c, str) and c for c in categories)
        ):
            raise BadRequest("A categorical llm.score needs categories: a list of labels.")
    return given


def present(evaluator: Evaluator) -> dict[str, Any]:
    """The evaluator as the API shows it: never its key, only whether it has one."""
    spec = orjson.loads(evaluator.definition)
    out: dict[str, Any] = {"id": evaluator.evaluator_id, **spec}
    if out.get("llm") is not None:
        out["llm"] = {**out["llm"], "api_key_set": evaluator.secret is not None}
    out["created_at"] = moment(evaluator.created_ns)
    out["updated_at"] = moment(evaluator.updated_ns)
    return out


def spec_of(evaluator: Evaluator) -> dict[str, Any]:
    spec: dict[str, Any] = orjson.loads(evaluator.definition)
    return spec


def dumps(spec: dict[str, Any]) -> str:
    return orjson.dumps(spec).decode()
