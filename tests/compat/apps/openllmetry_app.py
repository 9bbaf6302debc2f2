"""An application instrumented with OpenLLMetry: the Traceloop SDK
(``traceloop-sdk``), whose ``opentelemetry-instrumentation-openai`` traces the
real ``openai`` client, with Traceloop association properties, its
``@workflow``/``@task`` decorators, exporting to a Lamina server through
``Traceloop.init(api_endpoint=..., headers=...)``. Run by
tests/compat/test_openllmetry.py in the compat virtualenv (the Traceloop SDK,
like lmnr, pins OpenTelemetry packages older than Lamina's), never imported.

Environment: ``LAMINA_URL``, ``LAMINA_KEY``, ``OPENAI_BASE_URL``, ``RUN``.
Prints one JSON object with the trace ids, for the test to read back.
"""

from __future__ import annotations

import json
import os

from openai import OpenAI
from opentelemetry import trace
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import task, workflow

run = os.environ["RUN"]
Traceloop.init(
    app_name="openllmetry-app",
    api_endpoint=os.environ["LAMINA_URL"],
    headers={"Authorization": f"Bearer {os.environ['LAMINA_KEY']}"},
    disable_batch=True,
    telemetry_enabled=False,
)

client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-fake")
out: dict[str, str] = {}


@task(name="lookup_order")
def lookup_order(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "status": "shipped"}


@workflow(name="support_turn")
def support_turn(message: str) -> str:
    Traceloop.set_association_properties(
        {"session_id": f"ollm-session-{run}", "user_id": f"ollm-user-{run}", "plan": "pro"}
    )
    out["workflow"] = format(trace.get_current_span().get_span_context().trace_id, "032x")
    order = lookup_order("o-42")
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": message}],
    )
    return f"{completion.choices[0].message.content} ({order['status']})"


out["reply"] = support_turn("Where is my order?")
print(json.dumps(out))
