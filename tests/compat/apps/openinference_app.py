"""An application instrumented with OpenInference (Arize Phoenix's conventions):
``openinference-instrumentation-openai`` on the real ``openai`` client, with
``using_session``/``using_user``/``using_metadata``/``using_tags``, exporting
through OpenTelemetry's OTLP/HTTP exporter to a Lamina server. Run by
tests/compat/test_openinference.py in a subprocess (it instruments ``openai``
globally), never imported.

Environment: ``LAMINA_URL``, ``LAMINA_KEY``, ``OPENAI_BASE_URL``, ``RUN``.
Prints one JSON object with the trace ids, for the test to read back.
"""

from __future__ import annotations

import json
import os

from openai import OpenAI
from openinference.instrumentation import (
    get_attributes_from_context,
    using_metadata,
    using_session,
    using_tags,
    using_user,
)
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

run = os.environ["RUN"]
provider = TracerProvider(resource=Resource.create({"service.name": "openinference-app"}))
provider.add_span_processor(
    BatchSpanProcessor(
        OTLPSpanExporter(
            endpoint=f"{os.environ['LAMINA_URL']}/v1/traces",
            headers={"Authorization": f"Bearer {os.environ['LAMINA_KEY']}"},
        )
    )
)
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)

tracer = trace.get_tracer("openinference-app")
client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-fake")
out: dict[str, str] = {}

with (
    using_session(f"oi-session-{run}"),
    using_user(f"oi-user-{run}"),
    using_metadata({"plan": "pro", "turn": 1}),
    using_tags(["support", "openinference"]),
):
    # An agent step around the LLM call: a CHAIN span, with the session, user,
    # metadata and tags from the context, as OpenInference documents manual spans.
    with tracer.start_as_current_span(
        "answer",
        attributes={
            **dict(get_attributes_from_context()),
            "openinference.span.kind": "CHAIN",
            "input.value": "Where is my order?",
            "input.mime_type": "text/plain",
        },
    ) as span:
        out["chain"] = format(span.get_span_context().trace_id, "032x")
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Where is my order?"}],
        )
        span.set_attribute("output.value", completion.choices[0].message.content or "")

    # A streamed call, its own trace, in the same session.
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream it please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    out["stream_text"] = text

out["flushed"] = str(provider.force_flush(10_000))
provider.shutdown()
print(json.dumps(out))
