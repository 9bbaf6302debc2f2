"""The ``openai`` clients of the judges' calls, kept from one call to the next.

Making a client cost 67 ms of CPU (its TLS context reads the CA bundle, twice with the
pinned transport), more than the rest of a judge call: a judge run 10 times a second
spent two thirds of a core making them (session 17). A client is kept for each
endpoint, key, timeout and checked addresses (a name that resolves elsewhere later
gets a new one), MOST at most: making one past that closes the one used longest ago.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from lamina.judging import LlmConfig
from lamina.judging.client import new_client

if TYPE_CHECKING:
    import openai

MOST = 32

_Key = tuple[str, str | None, float, tuple[str, ...]]


class Clients:
    """Judge clients by endpoint, key, timeout and addresses, the last MOST used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[_Key, openai.OpenAI] = OrderedDict()

    def client(
        self, llm: LlmConfig, addresses: tuple[str, ...]
    ) -> contextlib.AbstractContextManager[openai.OpenAI]:
        """The client of a call to ``llm`` connecting to ``addresses``, kept after it."""
        key = (llm.base_url, llm.api_key, llm.timeout_s, addresses)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return contextlib.nullcontext(kept)
        made = pinned_client(llm, addresses)  # outside the lock: it takes tens of milliseconds
        with self._lock:
            kept = self._kept.setdefault(key, made)
            self._kept.move_to_end(key)
            dropped = self._kept.popitem(last=False)[1] if len(self._kept) > MOST else None
        if kept is not made:  # another thread made one meanwhile
            made.close()
        if dropped is not None:
            dropped.close()
        return contextlib.nullcontext(kept)

    def close(self) -> None:
        with self._lock:
            kept, self._kept = list(self._kept.values()), OrderedDict()
        for client in kept:
            client.close()


def pinned_client(llm: LlmConfig, addresses: tuple[str, ...]) -> openai.OpenAI:
    """lamina.judging's client, its redirects not followed (a public host could redirect
    to a private one) and its connections made to ``addresses``, those checked (none:
    resolved by the client)."""
    import openai

    from lamina.evaluation.pinned import PinnedTransport  # httpx2: imported with openai

    transport = PinnedTransport(addresses) if addresses else None
    http = openai.DefaultHttpxClient(
        follow_redirects=False, timeout=llm.timeout_s, transport=transport
    )
    return new_client(llm, http)
