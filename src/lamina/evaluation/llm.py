"""An LLM judge evaluator's run: its key resolved, its endpoint checked, the judge
called (:func:`lamina.judging.judge`) and its verdict made a score.

Any project key can set a judge's ``base_url``, and the server calls it: a judge's
host must be public (every address it resolves to is a global one) unless the server's
``evaluator_allowed_hosts`` names it (a local Ollama, the tests' fake), and redirects
are not followed, so a public host cannot send the call on to a private one. The name
is resolved once, by the check, and the call connects to the addresses checked
(:mod:`lamina.evaluation.pinned`), so a name whose answer changes in between (DNS
rebinding) cannot reach a private address either. ``*`` in the setting turns the
guard off: the client then resolves the name itself (and uses the environment's
proxy, if any).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from lamina.evaluation.clients import Clients, pinned_client
from lamina.evaluation.secrets import KeyBox, Unreadable
from lamina.judging import JudgeError, Verdict, judge, llm_config
from lamina.judging.transcript import Target
from lamina.store.base import Store
from lamina.store.evaluators import Evaluator
from lamina.store.scores import BUILT_IN_CONFIGS, Score

MAX_COMMENT = 10_000  # a score's comment, as the scores API takes it


def allowed_hosts(setting: str) -> frozenset[str]:
    """The ``evaluator_allowed_hosts`` setting as a set of lower-cased hosts."""
    return frozenset(
        host.strip().lower().strip("[]") for host in setting.split(",") if host.strip()
    )


def check_endpoint(base_url: str, allowed: frozenset[str]) -> tuple[str, ...]:
    """The addresses a judge may call ``base_url`` at, the only ones its call connects
    to (empty: any, the guard is off); else a JudgeError saying why (not retryable,
    except a name that did not resolve now). A host the setting names is resolved but
    not checked."""
    host = (urlsplit(base_url).hostname or "").lower()
    if "*" in allowed:
        return ()
    try:
        found = tuple(
            dict.fromkeys(
                str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            )
        )
    except (OSError, UnicodeError) as exc:
        raise JudgeError(
            f"Could not find the judge's host {host!r}: {exc}.", retryable=True
        ) from None
    if host in allowed:
        return found
    for address in sorted(found):
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise JudgeError(
                f"The judge's host {host!r} is at {address}, an address on this machine or "
                "a private network, which judges may not call unless the server allows it "
                f"(an administrator can add {host} to --evaluator-allowed-hosts).",
                retryable=False,
            )
    return found


def api_key(evaluator: Evaluator, spec: dict[str, Any], keys: KeyBox | None) -> str | None:
    """The judge's key: the stored one opened, else the named environment variable's
    value, else None (an endpoint that needs none)."""
    if evaluator.secret is not None and keys is not None:
        try:
            return keys.open(evaluator.secret)
        except Unreadable as exc:
            raise JudgeError(str(exc), retryable=False) from None
    name = spec["llm"].get("api_key_env")
    if name:
        value = os.environ.get(name)
        if not value:
            raise JudgeError(
                f"The evaluator reads its API key from the environment variable {name}, "
                "which is not set where this server runs.",
                retryable=False,
            )
        return value
    return None


def verdict(
    evaluator: Evaluator,
    spec: dict[str, Any],
    target: Target,
    keys: KeyBox | None,
    allowed: frozenset[str],
    clients: Clients | None = None,
) -> Verdict:
    """The judge's verdict on ``target``, or JudgeError; its client one of ``clients``
    (None: a new one, closed after the call)."""
    llm = spec["llm"]
    addresses = check_endpoint(llm["base_url"], allowed)
    config = llm_config(llm, api_key(evaluator, spec, keys))
    made = clients.client if clients is not None else pinned_client
    return judge(config, target, client_factory=functools.partial(made, addresses=addresses))


def score_of(
    store: Store,
    project_id: str,
    evaluator: Evaluator,
    spec: dict[str, Any],
    found: Verdict,
    target_kind: str,
    target_id: str,
    score_id: str,
) -> Score:
    """The score a verdict writes: named as the evaluator's ``llm.score``, on the turn it
    cites (a session's score keeps the session too), the reasoning its comment; a
    label's value from the project's config of that name, when it has one."""
    name = spec["llm"]["score"]["name"]
    value = found.score
    if found.label is not None and value is None:
        value = _label_value(store, project_id, name, found.label)
    return Score(
        score_id=score_id,
        name=name,
        value=value,
        label=found.label,
        source=f"evaluator:{evaluator.name}",
        author=None,
        session_id=target_id if target_kind == "session" else None,
        trace_id=found.trace_id if target_kind == "session" else target_id,
        span_id=None,
        comment=found.reasoning[:MAX_COMMENT] or None,
        created_ns=time.time_ns(),
    )


def _label_value(store: Store, project_id: str, name: str, label: str) -> float | None:
    configs = {config.name: config for config in store.list_score_configs(project_id)}
    config = configs.get(name) or BUILT_IN_CONFIGS.get(name)
    if config is None:
        return None
    for category in config.categories:
        if category.label.lower() == label.lower():
            return category.value
    return None


def run_fields(found: Verdict | JudgeError) -> dict[str, Any]:
    """The tokens, cost and latency a run records of a verdict or a failed call."""
    if isinstance(found, JudgeError):
        if not found.calls:  # the judge was not reached: nothing spent
            return {}
        return {"input_tokens": found.input_tokens, "output_tokens": found.output_tokens}
    return {
        "input_tokens": found.input_tokens,
        "output_tokens": found.output_tokens,
        "cost": found.cost,
        "latency_ms": found.latency_ms,
    }


__all__ = ["allowed_hosts", "api_key", "check_endpoint", "run_fields", "score_of", "verdict"]
