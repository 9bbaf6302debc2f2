"""A local HTTP endpoint that answers like the OpenAI and Anthropic APIs.

It speaks their real wire formats, plain JSON and server-sent events, so the
real ``openai`` and ``anthropic`` clients (and whatever instruments them) run
unchanged against it:

- ``POST /v1/chat/completions``: an OpenAI chat completion, or a stream of
  ``chat.completion.chunk`` events ending in ``data: [DONE]`` when ``stream``
  is true (with a usage chunk when ``stream_options.include_usage`` is set).
- ``POST /v1/messages``: an Anthropic message, or the ``message_start`` ...
  ``message_stop`` event stream when ``stream`` is true.

Answers are deterministic: the reply is ``"You said: <last user text>"`` and the
token counts are word counts (:func:`count_tokens`), so tests can predict them.
Every request is kept in :attr:`FakeLLM.requests`.

A test can script the chat completions' answers instead (:meth:`FakeLLM.script`, one
:class:`Reply` per request, then the echo again; :attr:`FakeLLM.always` for every
request): a text (a judge's JSON, or a malformed one), an HTTP error with headers
(429 with ``Retry-After``, 500), a delay. :attr:`FakeLLM.reject_response_format` makes
it refuse ``response_format`` with a 400, as servers without structured output do.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1_700_000_000


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    client: tuple[str, int]  # the address and port it came from: its connection


@dataclass(frozen=True)
class Reply:
    """One scripted answer to a chat completion: ``content`` as the assistant's text
    (status 200), or an error ``status`` with ``error`` as its message; ``headers``
    added to the answer; ``delay_s`` waited before answering."""

    content: str | None = None
    status: int = 200
    error: str = "The fake was told to fail."
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def judgement(
    score: float | bool | None = None,
    label: str | None = None,
    reasoning: str = "Because.",
    turn: int | None = None,
) -> Reply:
    """A judge's answer in the JSON schema Lamina's judges ask for."""
    body = {"reasoning": reasoning, "score": score, "label": label, "turn": turn}
    return Reply(content=json.dumps(body))


REJECT_RESPONSE_FORMAT = "response_format is not supported by this server (model fake)."


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


def count_tokens(text: str) -> int:
    """The fake's tokenizer: one token per whitespace-separated word, at least 1."""
    return max(1, len(text.split()))


def reply_to(messages: list[dict[str, Any]]) -> str:
    last_user = next(
        (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    return f"You said: {last_user}"


def prompt_tokens(body: dict[str, Any]) -> int:
    texts = [_text_of(m.get("content")) for m in body.get("messages", [])]
    system = body.get("system")
    if system is not None:
        texts.append(_text_of(system))
    return count_tokens(" ".join(texts))


def _words(text: str) -> list[str]:
    """The reply cut into stream deltas: each word with its following space."""
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.fake.requests.append(Request(path, headers, body, self.client_address[:2]))
        if path.endswith("/chat/completions"):
            reply = self.server.fake.next_reply(body)
            if reply is not None:
                self._reply(reply, body)
            elif body.get("stream"):
                self._stream(self._openai_events(body))
            else:
                self._json(self._openai_completion(body))
        elif path.endswith("/messages"):
            if body.get("stream"):
                self._stream(self._anthropic_events(body))
            else:
                self._json(self._anthropic_message(body))
        else:
            self._json({"error": {"message": f"no route {path}"}}, status=404)

    # -- OpenAI -----------------------------------------------------------------

    def _reply(self, reply: Reply, body: dict[str, Any]) -> None:
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            error = {"message": reply.error, "type": "fake_error", "param": None, "code": None}
            self._json({"error": error}, status=reply.status, headers=reply.headers)
        else:
            self._json(self._openai_completion(body, reply.content), headers=reply.headers)

    def _openai_completion(self, body: dict[str, Any], text: str | None = None) -> dict[str, Any]:
        text = reply_to(body.get("messages", [])) if text is None else text
        inp, out = prompt_tokens(body), count_tokens(text)
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": CREATED,
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
        }

    def _openai_events(self, body: dict[str, Any]) -> Iterator[str]:
        text = reply_to(body.get("messages", []))
        model = body.get("model", "gpt-4o-mini")

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
            data = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(data)}\n\n"

        yield chunk(
            [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
        )
        for word in _words(text):
            yield chunk([{"index": 0, "delta": {"content": word}, "finish_reason": None}])
        yield chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if (body.get("stream_options") or {}).get("include_usage"):
            inp, out = prompt_tokens(body), count_tokens(text)
            usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
            yield chunk([], usage=usage)
        yield "data: [DONE]\n\n"

    # -- Anthropic --------------------------------------------------------------

    def _anthropic_message(self, body: dict[str, Any]) -> dict[str, Any]:
        text = reply_to(body.get("messages", []))
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-3-5-haiku-20241022"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens(body), "output_tokens": count_tokens(text)},
        }

    def _anthropic_events(self, body: dict[str, Any]) -> Iterator[str]:
        text = reply_to(body.get("messages", []))

        def event(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-3-5-haiku-20241022"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens(body), "output_tokens": 0},
        }
        yield event("message_start", {"message": message})
        yield event(
            "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
        )
        yield event("ping", {})
        for word in _words(text):
            delta = {"type": "text_delta", "text": word}
            yield event("content_block_delta", {"index": 0, "delta": delta})
        yield event("content_block_stop", {"index": 0})
        yield event(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": count_tokens(text)},
            },
        )
        yield event("message_stop", {})

    # -- transport --------------------------------------------------------------

    def _json(
        self, data: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_fake")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, events: Iterator[str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for text in events:
            data = text.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a server stopped while its kept connection was
        open) is not an error of the fake's; any other is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeLLM:
    """The fake endpoint, served from a thread on an ephemeral local port.

    Use as a context manager; point clients at :attr:`openai_base_url` or
    :attr:`anthropic_base_url`.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: deque[Reply] = deque()
        self.always: Reply | None = None
        self.reject_response_format = False
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-llm", daemon=True
        )

    def script(self, *replies: Reply) -> FakeLLM:
        """Answer the next chat completions with ``replies``, in order."""
        self.replies.extend(replies)
        return self

    def next_reply(self, body: dict[str, Any]) -> Reply | None:
        """The scripted answer to a chat completion request, or None for the echo."""
        if self.reject_response_format and "response_format" in body:
            return Reply(status=400, error=REJECT_RESPONSE_FORMAT)
        try:
            return self.replies.popleft()
        except IndexError:  # none left (or another request took the last)
            return self.always

    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of the chat completion requests received, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
