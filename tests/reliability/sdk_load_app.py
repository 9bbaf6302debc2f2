"""An application traced with the Lamina SDK that makes spans as fast as it can, for the
overload test. ``python sdk_load_app.py URL KEY SESSION SECONDS`` prints one JSON line:
the spans it made, what the SDK says it exported and dropped, and the HTTP answers its
exporter got (counted by wrapping requests, the exporter's HTTP library; nothing else
is changed)."""

from __future__ import annotations

import collections
import json
import sys
import time
from typing import Any

import requests

answers: collections.Counter[int] = collections.Counter()
_send = requests.Session.send


def _counting_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
    response = _send(self, request, **kwargs)
    answers[response.status_code] += 1
    return response


requests.Session.send = _counting_send  # type: ignore[method-assign]


def main(url: str, key: str, session: str, seconds: float) -> None:
    from lamina import Laminar, observe
    from lamina.sdk.runtime import STATE

    # no LLM library instrumentations: this app uses none (they take seconds to load)
    Laminar.initialize(
        project_api_key=key, base_url=url, service_name=session, instrument_modules=[]
    )
    runtime = STATE.runtime
    assert runtime is not None

    @observe(name="step")
    def step(n: int) -> int:
        return n * 2

    made = 0
    deadline = time.monotonic() + seconds
    with Laminar.with_session(session_id=session):
        while time.monotonic() < deadline:
            step(made)
            made += 1
            time.sleep(0.004)  # a busy application (~200 spans/s), not a loop of spans
    Laminar.shutdown(60)
    export = runtime.export
    print(
        json.dumps(
            {
                "made": made,
                "exported": export.exported,
                "dropped_queue_full": export.dropped_queue_full,
                "dropped_export_failed": export.dropped_export_failed,
                "answers": {str(k): v for k, v in answers.items()},
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
