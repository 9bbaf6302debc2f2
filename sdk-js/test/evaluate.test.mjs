// evaluate (#22), run by an application in a process of its own as a CI script
// would: over a dataset made on the server with a sync executor, and over an
// inline list with an async one, with two evaluators (a sync boolean, an async
// object of two scores). The experiment's items carry exactly the outputs and
// scores the process computed, each linked to its trace in the experiment's
// session (the executor's span, the evaluators' spans, the scores on the trace);
// an executor that throws, or an average under failUnder, exits with status 1.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { ExperimentError, Laminar, evaluate } from "lamina-js";

import { api, initialize, laminaServer, newId } from "./support/server.mjs";

const APP = fileURLToPath(new URL("./support/evaluation-app.mjs", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "lamina-js-evaluate-"));
after(() => rmSync(folder, { recursive: true, force: true }));

async function post(path, body, status = 201) {
  const { url, apiKey } = await laminaServer();
  const response = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  assert.equal(response.status, status, `${path}: ${JSON.stringify(answer)}`);
  return answer;
}

/** The application run with `env`: its exit status, output, and the result it wrote. */
async function runApp(env) {
  const { url, apiKey } = await laminaServer();
  const out = join(folder, `${newId("result")}.json`);
  const child = spawn(process.execPath, [APP], {
    env: { ...process.env, LAMINA_BASE_URL: url, LAMINA_PROJECT_API_KEY: apiKey, EVAL_OUT: out, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (text) => (stdout += text));
  child.stderr.on("data", (text) => (stderr += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const status = await new Promise((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  let result;
  try {
    result = JSON.parse(readFileSync(out, "utf8"));
  } catch {
    result = undefined;
  }
  return { status, stdout, stderr, result };
}

const EXPECTED_SCORES = [
  { exact: 1, length: 8, short: 1 },
  { exact: 1, length: 8, short: 1 },
  { exact: 0, length: 9, short: 0 },
];

// The three runs start together (most of a run is Node starting up), each test awaits its own.
let dataset;
const group = newId("js-inline");
const runs = {};
before(async () => {
  dataset = newId("js-cases");
  await post("/api/v1/datasets", { name: dataset });
  await post(`/api/v1/datasets/${dataset}/items`, {
    items: [
      { input: "question 1", expected_output: "answer 1" },
      { input: { text: "question 2" }, expected_output: "answer 2" },
      { input: "question 10", expected_output: "answer ten" },
    ],
  });
  runs.sync = runApp({ EVAL_DATA: dataset, EVAL_RUN: "sync" });
  runs.async = runApp({ EVAL_RUN: "async", EVAL_GROUP: group });
  runs.raises = runApp({ EVAL_RUN: "raises", EVAL_FAIL_UNDER: JSON.stringify({ exact: 0.9, length: 1 }) });
});

/** The experiment as the API shows it equals what the run computed; its traces hold its spans and scores. */
async function checkStored(result, executorName) {
  const shown = (await api(`/api/v1/experiments/${result.experimentId}`)).experiment;
  const { url } = await laminaServer();
  assert.equal(result.url, url + shown.url);
  assert.equal(shown.item_count, 3);
  assert.equal(shown.errors, 0);
  assert.deepEqual(shown.averages, result.averages);
  assert.deepEqual(
    shown.items.map((item) => [item.index, item.output, item.scores, item.trace_id, item.error]),
    result.items.map((item) => [item.index, item.output, item.scores, item.traceId, item.error]),
  );
  assert.deepEqual(
    shown.items.map((item) => item.expected_output),
    ["answer 1", "answer 2", "answer ten"],
  );
  assert.deepEqual(shown.items[1].input, { text: "question 2" });
  assert.ok(shown.items.every((item) => item.duration_ms > 0));
  assert.equal(new Set(shown.items.map((item) => item.trace_id)).size, 3);

  const sessionId = `experiment-${result.experimentId}`;
  assert.equal(shown.session_id, sessionId);
  for (const item of shown.items) {
    const detail = await api(`/api/v1/traces/${item.trace_id}`);
    const spans = Object.fromEntries(detail.spans.map((span) => [span.name, span]));
    const root = spans[executorName];
    assert.equal(root.span_type, "EXECUTOR");
    assert.equal(root.parent_span_id, null);
    assert.equal(root.session_id, sessionId);
    assert.deepEqual(JSON.parse(root.output), item.output);
    assert.equal(spans.lookup.parent_span_id, root.span_id);
    for (const evaluator of ["exact", "style"]) {
      assert.equal(spans[evaluator].span_type, "EVALUATOR");
      assert.equal(spans[evaluator].parent_span_id, root.span_id);
    }
    const scores = (await api("/api/v1/scores", { trace_id: item.trace_id })).items;
    assert.deepEqual(
      Object.fromEntries(scores.map((score) => [score.name, score.value])),
      item.scores,
    );
    assert.ok(scores.every((score) => score.source === "experiment" && score.session_id === sessionId));
  }
  return shown;
}

test("a sync executor over a dataset made on the server: the experiment holds exactly what was computed", async () => {
  const run = await runs.sync;
  assert.equal(run.status, 0, run.stderr);
  const { result } = run;
  assert.deepEqual(
    result.items.map((item) => [item.index, item.output, item.scores, item.error]),
    [
      [0, "answer 1", EXPECTED_SCORES[0], null],
      [1, "answer 2", EXPECTED_SCORES[1], null],
      [2, "answer 10", EXPECTED_SCORES[2], null],
    ],
  );
  assert.deepEqual(result.averages, { exact: 2 / 3, length: 25 / 3, short: 2 / 3 });
  assert.equal(result.failed, false);
  assert.match(run.stdout, new RegExp(`See it at ${result.url.replace(/[.?*+^$()[\]{}|\\]/g, "\\$&")}`));
  assert.match(run.stdout, /^exact +0\.667$/m);
  assert.match(run.stderr, /^3\/3 items done$/m);

  const shown = await checkStored(result, "answerSync");
  assert.equal(shown.dataset, dataset);
  assert.equal(shown.group, dataset);
  assert.equal(shown.name, "sync run");
  const items = (await api(`/api/v1/datasets/${dataset}/items`)).items;
  assert.deepEqual(
    shown.items.map((item) => item.item_id),
    items.map((item) => item.item_id),
  );
});

test("an async executor over an inline list: the same, in a group of its own", async () => {
  const run = await runs.async;
  assert.equal(run.status, 0, run.stderr);
  const { result } = run;
  assert.deepEqual(
    result.items.map((item) => [item.output, item.scores]),
    [
      ["answer 1", EXPECTED_SCORES[0]],
      ["answer 2", EXPECTED_SCORES[1]],
      ["answer 10", EXPECTED_SCORES[2]],
    ],
  );
  const shown = await checkStored(result, "answerAsync");
  assert.equal(shown.dataset, null);
  assert.equal(shown.group, group);
  assert.ok(shown.items.every((item) => item.item_id === null));
  const listed = (await api("/api/v1/experiments", { group })).items;
  assert.deepEqual(listed.map((run) => run.experiment_id), [result.experimentId]);
});

test("an executor that throws, or an average under failUnder, exits with status 1 saying why", async () => {
  const run = await runs.raises;
  assert.equal(run.status, 1, run.stderr);
  const { result } = run;
  assert.equal(result.failed, true);
  assert.deepEqual(
    result.items.map((item) => [item.output ?? null, item.error]),
    [
      ["answer 1", null],
      [null, "the executor threw Error: no answer for question 2"],
      ["answer 10", null],
    ],
  );
  assert.deepEqual(result.items[1].scores, {});
  assert.match(run.stderr, /lamina-js: experiment "raises run": 1 of 3 items failed; item 1: the executor threw Error: no answer/);
  assert.match(run.stderr, /lamina-js: experiment "raises run": the average of "exact" is 0\.5, under the 0\.9 that failUnder asks/);
  assert.doesNotMatch(run.stderr, /"length"/);

  const shown = (await api(`/api/v1/experiments/${result.experimentId}`)).experiment;
  assert.equal(shown.errors, 1);
  assert.equal(shown.items[1].error, "the executor threw Error: no answer for question 2");
  assert.equal(shown.items[1].output, null);
  const detail = await api(`/api/v1/traces/${shown.items[1].trace_id}`);
  const root = detail.spans.find((span) => span.name === "answerOrThrow");
  assert.equal(root.status_message, "Error: no answer for question 2");
  assert.equal(root.events.find((event) => event.name === "exception").attributes["exception.message"], "no answer for question 2");
});

test("in this process: an output over the server's limit is kept cut short; a dataset that is not there rejects", async () => {
  await initialize();
  const result = await evaluate({
    data: [{ input: "long" }],
    executor: () => "\u20ac".repeat(400_000), // 1.2 MB of JSON; the server takes 1 MiB a value
    evaluators: { chars: (output) => output.length },
  });
  assert.equal(result.failed, false);
  const [item] = (await api(`/api/v1/experiments/${result.experimentId}`)).experiment.items;
  assert.ok(item.output.startsWith("\u20ac".repeat(200_000)) && item.output.includes("truncated by lamina"));
  assert.deepEqual(item.scores, { chars: 400_000 });

  const missing = newId("js-no-such-dataset");
  await assert.rejects(
    evaluate({ data: missing, executor: (x) => x, evaluators: {} }),
    (error) => error instanceof ExperimentError && error.message.includes("HTTP 404") && error.message.includes(missing),
  );
  await Laminar.shutdown();
});
