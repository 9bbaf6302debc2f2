"""An application using Laminar's own API through the official Laminar Python SDK
(``lmnr``), unchanged, pointed at a Lamina server: datasets pushed and pulled,
``evaluate`` over an inline list (a sync executor) and over a dataset pulled from
Lamina (an async executor), each with two evaluators (one sync, one async), and a run
the test deletes, a datapoint
made and updated by its id (``create_datapoint``, ``update_datapoint``), ``lmnr
eval`` on a file, ``sql.query``, ``tags.tag``, ``traces.push_metadata`` and a call of a
feature Lamina does not have. Run by tests/compat/test_laminar_api.py in the compat
virtualenv, never imported.

Settings come from the environment: ``LAMINA_URL``, ``LAMINA_GRPC_PORT``,
``LAMINA_KEY``, ``OTHER_KEY`` (another project's), ``RUN`` (a unique suffix).

Prints one JSON object: what it computed and what the SDK answered, for the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from lmnr import Instruments, Laminar, LaminarClient, LaminarDataset, evaluate, observe
from openai import OpenAI

url = urlsplit(os.environ["LAMINA_URL"])
run = os.environ["RUN"]
key = os.environ["LAMINA_KEY"]
base_url = f"{url.scheme}://{url.hostname}"
settings: dict[str, Any] = {
    "project_api_key": key,
    "base_url": base_url,
    "http_port": url.port,
    "grpc_port": int(os.environ["LAMINA_GRPC_PORT"]),
    "frontend_port": url.port,
    # only what the app calls: initialising with every instrumentation takes 10 s
    "instruments": {Instruments.OPENAI},
}
out: dict[str, Any] = {}


llm = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="sk-fake")


def answer(question: str) -> str:
    """Asks the (fake) model, so the run's traces have a cost; answers in capitals."""
    llm.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    return question.upper()


async def answer_later(question: str) -> str:
    await asyncio.sleep(0)
    return question[::-1]


def exact(output: str, target: dict[str, Any]) -> int:
    return int(output == target["answer"])


async def length(output: str, target: dict[str, Any]) -> dict[str, float]:
    return {"length": float(len(output)), "half": len(output) / 2}


client = LaminarClient(base_url=base_url, port=url.port, project_api_key=key)

# datasets: pushed (making the dataset), listed, found by name, pulled back
dataset = f"lmnr-ds-{run}"
cases = [
    {"data": f"case {n}", "target": {"answer": "1 esac" if n == 1 else "?"}, "metadata": {"n": n}}
    for n in range(3)
]
pushed = client.datasets.push(cases, name=dataset, create_dataset=True)
out["pushed_dataset_id"] = str(pushed["dataset_id"]) if pushed else None
out["listed"] = [d["name"] for d in client.datasets.list_datasets()]
found = client.datasets.get_dataset_by_name(dataset)
out["found_id"] = str(found[0]["id"]) if found else None
pulled = client.datasets.pull(name=dataset, limit=2, offset=1)
out["pulled"] = {
    "total": pulled["total_count"],
    "items": [
        {"data": p.data, "target": p.target, "metadata": p.metadata} for p in pulled["items"]
    ],
}

# evaluate over an inline list, a sync executor
inline = [{"data": "one", "target": {"answer": "ONE"}}, {"data": "two", "target": {"answer": "2"}}]
first = evaluate(
    data=inline,
    executor=answer,
    evaluators={"exact": exact, "length": length},
    name=f"inline-{run}",
    group_name=f"lmnr-group-{run}",
    **settings,
)
assert first is not None and not asyncio.iscoroutine(first)
out["inline"] = {
    "id": str(first["evaluation_id"]),
    "url": first["url"],
    "averages": first["average_scores"],
    "expected": [
        {"index": n, "output": c["data"].upper(), "exact": exact(c["data"].upper(), c["target"])}
        for n, c in enumerate(inline)
    ],
}

# evaluate over the dataset pulled from Lamina, an async executor
second = evaluate(
    data=LaminarDataset(dataset),
    executor=answer_later,
    evaluators={"exact": exact, "length": length},
    name=f"dataset-{run}",
    group_name=f"lmnr-group-{run}",
    **settings,
)
assert second is not None and not asyncio.iscoroutine(second)
out["from_dataset"] = {
    "id": str(second["evaluation_id"]),
    "averages": second["average_scores"],
    "expected": [
        {
            "index": n,
            "output": c["data"][::-1],
            "exact": int(c["data"][::-1] == c["target"]["answer"]),
        }
        for n, c in enumerate(cases)
    ],
}

# a run the test deletes, traces and all
doomed = evaluate(
    data=[{"data": "gone", "target": {"answer": "GONE"}}],
    executor=lambda data: data.upper(),
    evaluators={"exact": exact},
    name=f"doomed-{run}",
    group_name=f"lmnr-doomed-{run}",
    **settings,
)
assert doomed is not None and not asyncio.iscoroutine(doomed)
out["doomed"] = {"id": str(doomed["evaluation_id"])}

# the manual evaluation API: a datapoint made, then given its results by its id
try:
    manual_id = client.evals.create_evaluation(
        name=f"manual-{run}", group_name=f"lmnr-manual-{run}", metadata={"by": "hand"}
    )
    point_id = client.evals.create_datapoint(manual_id, {"q": "two plus two"}, "4", index=0)
    moved_to = uuid.uuid4()  # update_datapoint may move the datapoint to another trace
    client.evals.update_datapoint(
        manual_id, point_id, {"right": 1, "unsure": None}, {"answer": "4"}, moved_to
    )
    out["manual"] = {"id": str(manual_id), "datapoint": str(point_id), "trace": moved_to.hex}
except ValueError as error:  # what the SDK raises on an error answer
    out["manual"] = {"error": str(error)}

# lmnr eval on a file
eval_file = Path(os.environ["EVAL_DIR"]) / "smoke_eval.py"
eval_file.write_text(
    "import os\n"
    "from lmnr import evaluate\n"
    "evaluate(\n"
    "    data=[{'data': 'x', 'target': 'X'}],\n"
    "    executor=lambda data: data.upper(),\n"
    "    evaluators={'same': lambda output, target: output == target},\n"
    f"    name='file-{run}', group_name='lmnr-file-{run}',\n"
    f"    base_url={base_url!r}, http_port={url.port}, grpc_port={settings['grpc_port']},\n"
    f"    project_api_key={key!r}, instruments=set(),\n"
    ")\n"
)
results = eval_file.with_suffix(".json")
lmnr = Path(sys.executable).parent / "lmnr"
done = subprocess.run(
    [
        str(lmnr),
        "eval",
        str(eval_file),
        "--output-file",
        str(results),
        "--frontend-port",
        str(url.port),
    ],
    capture_output=True,
    text=True,
    timeout=60,
)
out["cli"] = {
    "code": done.returncode,
    "stderr": done.stderr[-2000:],
    "results": json.loads(results.read_text()) if results.exists() else None,
}

# a traced call, tagged and given metadata after it ended
Laminar.initialize(**{k: v for k, v in settings.items() if k != "frontend_port"})


trace_id = None


@observe(name=f"tagged2-{run}")
def tagged_with_id() -> str:
    global trace_id
    trace_id = str(Laminar.get_trace_id())
    return "done"


tagged_with_id()
Laminar.flush()
out["trace_id"] = trace_id
for _attempt in range(100):  # the trace is stored a moment after the flush
    response = httpx.post(
        f"{os.environ['LAMINA_URL']}/v1/tag",
        json={"traceId": trace_id, "names": ["probe"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    if response.status_code != 404:
        break
    time.sleep(0.1)
out["tag"] = client.tags.tag(trace_id, ["reviewed", "lmnr-tag"])
client.traces.push_metadata(trace_id, {"reviewer": "alice", "score": 0.85})

# sql
out["sql"] = client.sql.query(
    "SELECT id, top_span_name, total_tokens FROM traces WHERE id = {trace_id:UUID}",
    {"trace_id": trace_id},
)
other = LaminarClient(base_url=base_url, port=url.port, project_api_key=os.environ["OTHER_KEY"])
out["sql_other"] = other.sql.query(
    "SELECT id FROM traces WHERE id = {trace_id:UUID}", {"trace_id": trace_id}
)

# a feature Lamina does not have: a clear error, the program goes on
try:
    client.rollout_sessions.register(f"rollout-{run}")
    out["rollout"] = "accepted"
except httpx.HTTPStatusError as error:
    out["rollout"] = {"status": error.response.status_code, "body": error.response.json()}

Laminar.shutdown()
print(json.dumps(out))
