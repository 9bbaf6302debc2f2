// Laminar's TypeScript SDK (@lmnr-ai/lmnr), unchanged, against Lamina: what a Laminar
// user's evaluation script does, pointed at Lamina by the settings they would change
// (baseUrl, httpPort, grpcPort, projectApiKey; frontendPort for the results link). Run by tests/compat/test_laminar_js.py,
// which reads back through Lamina's JSON API what this prints as its last line (JSON):
// the ids, outputs and scores computed here.
//
// Environment: LAMINA_URL (http://127.0.0.1:PORT), LAMINA_GRPC_PORT, LAMINA_KEY, RUN.

import { evaluate, Laminar, LaminarClient, LaminarDataset, observe } from "@lmnr-ai/lmnr";

const lamina = new URL(process.env.LAMINA_URL);
const run = process.env.RUN;
const settings = {
  baseUrl: `${lamina.protocol}//${lamina.hostname}`,
  httpPort: Number(lamina.port),
  grpcPort: Number(process.env.LAMINA_GRPC_PORT),
  projectApiKey: process.env.LAMINA_KEY,
};
const evaluateSettings = { ...settings, frontendPort: settings.httpPort };
const client = new LaminarClient({
  baseUrl: settings.baseUrl,
  port: settings.httpPort,
  projectApiKey: settings.projectApiKey,
});

const evaluators = {
  exact: (output, target) => (output === target.answer ? 1 : 0),
  length: (output) => output.length,
};
// What each item's output and scores must be: the executors' and evaluators' own work.
const expected = (cases, executor) =>
  cases.map((c, index) => {
    const output = executor(c.data);
    return { index, output, exact: output === c.target.answer ? 1 : 0, length: output.length };
  });

const shout = (text) => text.toUpperCase();
const reverse = (text) => [...text].reverse().join("");

// An inline list, a sync executor.
const inlineCases = [
  { data: "one", target: { answer: "ONE" } },
  { data: "two", target: { answer: "2" } },
];
const inline = await evaluate({
  data: inlineCases,
  executor: shout,
  evaluators,
  name: `js-inline-${run}`,
  groupName: `lmnr-js-${run}`,
  config: evaluateSettings,
});

// A dataset pushed (made by the push), pulled back, then evaluated by an async executor.
const dataset = `lmnr-js-ds-${run}`;
const datasetCases = [
  { data: "abc", target: { answer: "cba" }, metadata: { n: 0 } },
  { data: "level", target: { answer: "?" }, metadata: { n: 1 } },
  { data: "xy", target: { answer: "yx" }, metadata: { n: 2 } },
];
const pushed = await client.datasets.push({ points: datasetCases, name: dataset, createDataset: true });
const found = await client.datasets.getDatasetByName(dataset);
const listed = (await client.datasets.listDatasets()).map((d) => d.name);
const pulled = await client.datasets.pull({ name: dataset, offset: 1, limit: 2 });
// An empty dataset made, read by its id, refused a new name, deleted.
const made = await client.datasets.create(`lmnr-js-empty-${run}`);
const byId = await client.datasets.getById(made.id);
const renamed = await client.datasets.update(made.id, "new name").then(
  () => "renamed",
  (error) => error.message,
);
const deleted = await client.datasets.delete(made.id);
const afterDelete = await client.datasets.getDatasetByName(`lmnr-js-empty-${run}`);
const fromDataset = await evaluate({
  data: new LaminarDataset(dataset),
  executor: async (text) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return reverse(text);
  },
  evaluators,
  name: `js-dataset-${run}`,
  groupName: `lmnr-js-${run}`,
  config: evaluateSettings,
});

// The manual evaluation API: a datapoint made, then given its results by its id.
let manual;
try {
  const manualId = await client.evals.create({ name: `js-manual-${run}`, groupName: `lmnr-js-${run}-manual` });
  const datapointId = await client.evals.createDatapoint({
    evalId: manualId,
    data: { q: "two plus two" },
    target: "4",
    index: 0,
  });
  await client.evals.updateDatapoint({
    evalId: manualId,
    datapointId,
    scores: { right: 1 },
    executorOutput: { answer: "4" },
  });
  manual = { id: manualId, datapointId };
} catch (error) {
  manual = { error: error.message };
}

// evaluators.score on a traced call: by its trace id, and by its span id alone (a span
// is found once it is stored: a 404 until then, retried a bounded number of times).
Laminar.initialize(settings);
const scored = await observe({ name: `scored-${run}` }, async () => {
  const context = Laminar.getCurrentSpan().spanContext();
  return { traceId: context.traceId, spanId: context.spanId };
});
await Laminar.flush();
await client.evaluators.score({ name: "quality", traceId: scored.traceId, score: 0.9, metadata: { by: "js" } });
for (let attempt = 1; ; attempt++) {
  try {
    await client.evaluators.score({ name: "relevance", spanId: scored.spanId, score: 0.4 });
    break;
  } catch (error) {
    if (attempt >= 100 || !String(error.message).startsWith("404")) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
// The same call tagged, given metadata and queried by SQL (Laminar's names).
const tagged = await client.tags.tag(scored.traceId, ["js-tag", "reviewed"]);
await client.traces.pushMetadata(scored.traceId, { reviewer: "bob" }, { failOnNotFound: true });
const sql = await client.sql.query(
  "SELECT id, top_span_name FROM traces WHERE id = {id:UUID}",
  { id: scored.traceId },
);
await Laminar.shutdown();

console.log(
  JSON.stringify({
    scored,
    manual,
    tagged,
    sql,
    emptyDataset: { made, byId, renamed, deleted, afterDelete },
    inline: { ...inline, expected: expected(inlineCases, shout) },
    fromDataset: { ...fromDataset, expected: expected(datasetCases, reverse) },
    pushedDatasetId: pushed.datasetId,
    foundId: found[0]?.id,
    listed,
    pulled: {
      total: pulled.totalCount,
      items: pulled.items.map(({ data, target, metadata }) => ({ data, target, metadata })),
    },
  }),
);
