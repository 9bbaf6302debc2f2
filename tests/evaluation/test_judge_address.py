"""An LLM judge's host is resolved once: the call connects to the addresses the guard
checked, so a name that answers a public address to the check and a loopback one to
the client's own lookup (DNS rebinding) cannot carry the call to this machine.

A resolver (``socket.getaddrinfo``) and a network (``socket.create_connection``)
stand in for the third parties here: the resolver answers the test's names as the
test says, the network connects to loopback addresses only and refuses, recording it,
any other. The judge is the real ``openai`` client against a fake OpenAI-compatible
server on a loopback port."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lamina.evaluation import definition, llm
from lamina.evaluation.clients import Clients
from lamina.judging import JudgeError
from lamina.store.duckdb.store import DuckDBStore
from lamina.store.evaluators import Evaluator
from tests.fakes.llm import FakeLLM, judgement
from tests.judge.conftest import Target, session_target, turn
from tests.store.writing import write

PUBLIC = "93.184.215.14"  # a global address: the check passes it, nothing connects to it


class Network:
    """The resolver's answers for the test's names (one list a lookup, the last one
    again after) and the connections refused (anything not on loopback)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: dict[str, list[str]] = {}
        self.lookups: dict[str, int] = {}
        self.refused: list[tuple[str, int]] = []
        real_lookup, real_connect = socket.getaddrinfo, socket.create_connection

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, bytes):
                host = host.decode()
            answers = self.answers.get(str(host).lower())
            if answers is None:
                return real_lookup(host, port, *args, **kwargs)
            seen = self.lookups.get(host, 0)
            self.lookups[host] = seen + 1
            address = answers[min(seen, len(answers) - 1)]
            return real_lookup(address, port, *args, **kwargs)

        def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
            host, port = address[0], address[1]
            for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                ip = str(info[4][0])
                if ipaddress.ip_address(ip).is_loopback:
                    return real_connect((ip, port), *args, **kwargs)
                self.refused.append((ip, port))
            raise ConnectionRefusedError(f"the test's network reaches loopback only, not {host}")

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    store = DuckDBStore(tmp_path_factory.mktemp("rebind") / "data")
    try:
        write(store, turn("s-rebind", 1, "question", "answer"))
        return session_target(store, "s-rebind")
    finally:
        store.close()


def _judge(base_url: str) -> tuple[Evaluator, dict[str, Any]]:
    given = {
        "name": "helpful",
        "kind": "llm_judge",
        "llm": {
            "base_url": base_url,
            "model": "gpt-4o-mini",
            "prompt": "Was the assistant helpful? {{transcript}}",
            "score": {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
        },
    }
    made, _ = definition.parse(given)
    evaluator = Evaluator(
        "ev_rebind", made.name, made.target, True, definition.dumps(made.spec), None, 0, 0
    )
    return evaluator, made.spec


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_called(
    monkeypatch: pytest.MonkeyPatch, fake: FakeLLM, target: Target
) -> None:
    network = Network(monkeypatch)
    name = f"judge-{uuid.uuid4().hex[:8]}.rebind.example"
    network.answers[name] = [PUBLIC, "127.0.0.1"]  # public when checked, then loopback
    port = int(fake.base_url.rsplit(":", 1)[1])
    evaluator, spec = _judge(f"http://{name}:{port}/v1")
    fake.script(judgement(score=1.0, reasoning="Reached.", turn=1))

    with pytest.raises(JudgeError) as failed:
        llm.verdict(evaluator, spec, target, None, frozenset())

    assert fake.requests == []  # the loopback server was never reached
    assert network.lookups[name] == 1  # resolved once, by the check
    assert network.refused and set(network.refused) == {(PUBLIC, port)}
    assert "Could not reach the judge's endpoint" in failed.value.message


def test_a_pinned_call_keeps_the_host_name_in_its_request(
    monkeypatch: pytest.MonkeyPatch, fake: FakeLLM, target: Target
) -> None:
    """An allowed host is resolved once too and connected at that address; the request
    still names the host (the Host header), as a server behind a name expects."""
    network = Network(monkeypatch)
    name = f"judge-{uuid.uuid4().hex[:8]}.local.example"
    network.answers[name] = ["127.0.0.1", "10.0.0.1"]
    port = int(fake.base_url.rsplit(":", 1)[1])
    evaluator, spec = _judge(f"http://{name}:{port}/v1")
    fake.script(judgement(score=0.5, reasoning="Pinned.", turn=1))

    found = llm.verdict(evaluator, spec, target, None, frozenset({name}))

    assert (found.score, found.reasoning) == (0.5, "Pinned.")
    assert network.lookups[name] == 1 and network.refused == []
    (request,) = fake.requests
    assert request.headers["host"] == f"{name}:{port}"


def test_the_runners_judge_calls_keep_their_client_and_its_connection(
    fake: FakeLLM, target: Target
) -> None:
    """The runner's calls to one endpoint with one key reuse the client they made (and
    its open connection: making a client cost 67 ms of CPU); another key gets its own."""
    evaluator, spec = _judge(fake.openai_base_url)
    fake.always = judgement(score=1.0, reasoning="Kept.", turn=1)
    clients = Clients()
    allowed = frozenset({"127.0.0.1"})
    try:
        for _ in range(3):
            assert llm.verdict(evaluator, spec, target, None, allowed, clients).score == 1.0
        assert len({request.client for request in fake.requests}) == 1  # one connection
        keyed = dataclasses.replace(evaluator, secret=None)
        other = {**spec, "llm": {**spec["llm"], "api_key_env": "LAMINA_TEST_JUDGE_KEY"}}
        with pytest.MonkeyPatch.context() as env:
            env.setenv("LAMINA_TEST_JUDGE_KEY", "sk-another")
            llm.verdict(keyed, other, target, None, allowed, clients)
        assert len({request.client for request in fake.requests}) == 2
        assert fake.requests[-1].headers["authorization"] == "Bearer sk-another"
    finally:
        clients.close()
    # without kept clients, each call makes its own (and closes it)
    llm.verdict(evaluator, spec, target, None, allowed)
    llm.verdict(evaluator, spec, target, None, allowed)
    assert len({request.client for request in fake.requests}) == 4
