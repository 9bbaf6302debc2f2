"""An application instrumented with the official Laminar Python SDK (``lmnr``),
pointed at a Lamina server. Run by tests/compat/test_lmnr.py in the compat
virtualenv (see tests/compat/requirements-compat.txt), never imported.

Settings come from the environment (the test passes them):

- ``LAMINA_URL``: the server's HTTP address, ``LAMINA_GRPC_PORT``, ``LAMINA_KEY``;
- ``TRANSPORT``: ``grpc`` (lmnr's default) or ``http`` (``force_http=True``);
- ``OPENAI_BASE_URL``: the fake OpenAI endpoint;
- ``RUN``: a unique suffix for the session and user ids.

Prints one JSON object: the trace ids of what it did, for the test to read back.
"""

from __future__ import annotations

import json
import logging
import os
from urllib.parse import urlsplit

from lmnr import Laminar, observe
from openai import OpenAI

url = urlsplit(os.environ["LAMINA_URL"])
run = os.environ["RUN"]
force_http = os.environ["TRANSPORT"] == "http"

Laminar.initialize(
    project_api_key=os.environ["LAMINA_KEY"],
    base_url=f"{url.scheme}://{url.hostname}",
    http_port=url.port,
    grpc_port=int(os.environ["LAMINA_GRPC_PORT"]),
    force_http=force_http,
)

client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-fake")
out: dict[str, str] = {}


def trace_id() -> str:
    value = Laminar.get_trace_id()
    assert value is not None
    return value.hex


@observe(span_type="TOOL")
def lookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped"}


@observe(
    name="handle_turn",
    session_id=f"lmnr-session-{run}",
    user_id=f"lmnr-user-{run}",
    metadata={"plan": "pro", "region": "eu"},
    tags=["support", "lmnr"],
)
def handle_turn(message: str) -> str:
    out["observe"] = trace_id()
    order = lookup_order("o-42")
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": message},
        ],
    )
    return f"{completion.choices[0].message.content} ({order['status']})"


@observe(name="second_turn")
def second_turn(message: str) -> str:
    # Set from inside the trace, after it started.
    Laminar.set_trace_session_id(f"lmnr-session-{run}")
    Laminar.set_trace_user_id(f"lmnr-user-{run}")
    out["set_trace_session_id"] = trace_id()
    return message.upper()


handle_turn("Where is my order?")
second_turn("thanks")

# A span around a block, with an explicit input and output, in its own session.
with Laminar.start_as_current_span(
    "manual_llm_call",
    input={"prompt": "Summarise the conversation"},
    span_type="LLM",
    session_id=f"lmnr-manual-{run}",
):
    out["start_as_current_span"] = trace_id()
    Laminar.set_span_output("A customer asked where their order was.")

# The SDK's log export: a log record through the logger provider lmnr set up.
from opentelemetry.sdk._logs import LoggingHandler  # noqa: E402

app_log = logging.getLogger("lmnr-compat-app")
app_log.addHandler(LoggingHandler(level=logging.INFO))
app_log.setLevel(logging.INFO)
app_log.info("a log record for the OTLP log exporter (%s)", run)

flushed = Laminar.flush()
Laminar.shutdown()
out["flushed"] = str(flushed)
print(json.dumps(out))
