"""Coverage-guided fuzzing (atheris, libFuzzer) of the OTLP decoders.

Every input is given to both parsers, protobuf and JSON (``lamina.otlp.decode``), and
whatever parses is decoded all the way, as the server does: into span records, Arrow
columns and per-trace summaries. The only exception allowed is the decoder's own
``BadRequest`` (a 400); any other exception is a crash that libFuzzer reports and
saves. Lamina's modules are instrumented, so inputs that reach new code in them are
kept and mutated further. The run starts from a seed corpus of real requests (chat
turns, every attribute value type, errors, events and links) in both encodings.

    .venv/bin/python -m tests.reliability.fuzz_atheris -runs=100000

takes libFuzzer's flags (``-runs``, ``-max_total_time``, ``-max_len``, ``-timeout``,
``-artifact_prefix``, ``-seed``); a corpus directory may follow them (an empty one is
filled with the seeds), otherwise one is made in the temporary directory and named.
``test_fuzz_atheris.py`` runs a short one in the test suite; docs/reliability.md
records the long run.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris
import orjson

with atheris.instrument_imports(include=["lamina"]):
    from lamina.errors import BadRequest
    from lamina.otlp.decode import decode_request, parse_json, parse_protobuf
    from lamina.otlp.wire import decode_wire
    from lamina.pricing import PriceTable

PRICES = PriceTable.load(None)


def decode(body: bytes) -> None:
    for parse in (parse_protobuf, parse_json):
        try:
            request = parse(body)
        except BadRequest:
            if parse is parse_protobuf and decode_wire(body, "prj_fuzz", PRICES.cost) is not None:
                raise AssertionError("the wire decoder accepted a body upb refuses") from None
            continue
        batch = decode_request(request, "prj_fuzz", PRICES.cost)  # trace deltas included
        spans = sum(len(s.spans) for rs in request.resource_spans for s in rs.scope_spans)
        if batch.rejected + batch.count != spans:
            raise AssertionError(f"{spans} spans in, {batch.count} + {batch.rejected} out")
        wire = decode_wire(request.SerializeToString(), "prj_fuzz", PRICES.cost)
        if wire is not None and (
            wire.rejection != batch.rejection
            or repr(wire.spans.to_pylist()) != repr(batch.spans.to_pylist())
            or not wire.traces.equals(batch.traces)
        ):
            raise AssertionError("the wire decoder and decode.py disagree")


def seeds() -> list[bytes]:
    """Real requests, in both encodings."""
    from tests.support import otlp

    turns = [
        otlp.conversation_turn("conv-1", 0, start_ns=1_700_000_000_000_000_000),
        otlp.conversation_turn(
            "conv-2",
            1,
            start_ns=1,
            error="boom",
            extra_root={
                "lamina.metadata": {"k": "v"},
                "tag.tags": ["a", "b"],
                "numbers": [1, 2.5, True],
                "raw": b"\x00\xff",
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "hi",
                "gen_ai.completion.0.content": "hello",
            },
        ),
    ]
    with_events = otlp.span(
        otlp.new_trace_id(),
        "tool",
        start_ns=5,
        attributes={"lamina.span.type": "TOOL", "input.value": '{"q": 1}'},
        events=[("exception", 6, {"exception.type": "ValueError", "exception.message": "x"})],
    )
    turns.append([with_events])
    requests = [otlp.export(spans) for spans in turns]
    requests.append(otlp.export([span for spans in turns for span in spans], resource={}))
    bodies = [request.SerializeToString() for request in requests]
    bodies += [orjson.dumps(otlp.to_otlp_json(request)) for request in requests]
    bodies += [b"{}", b'{"resourceSpans": []}', b""]
    return bodies


def main(argv: list[str]) -> None:
    flags = [arg for arg in argv[1:] if arg.startswith("-")]
    corpus = [arg for arg in argv[1:] if not arg.startswith("-")]
    if not corpus:  # libFuzzer keeps what it finds here; pass it again to go on from it
        corpus = [tempfile.mkdtemp(prefix="lamina-atheris-")]
        print(f"corpus: {corpus[0]}", file=sys.stderr)
    folder = Path(corpus[0])
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        for number, body in enumerate(seeds()):
            (folder / f"seed-{number}").write_bytes(body)
    atheris.Setup([argv[0], *flags, *corpus], decode)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
