// Scores and session ends (issue #19): given inside an observed function or by
// id from another process, before the session's spans arrive and after; each
// arrives exactly once even when the server's answer is lost and the request is
// retried; the application is never blocked or thrown into.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, request as httpRequest } from "node:http";
import { after, test } from "node:test";

import { Laminar, observe } from "lamina-js";

import { api, flushed, initialize, laminaServer, newId } from "./support/server.mjs";

const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));
after(async () => {
  await Laminar.shutdown(1000);
  assert.deepEqual(unhandled, []);
});

async function scores(filters) {
  return (await api("/api/v1/scores", { limit: 500, ...filters })).items;
}

const given = (items) =>
  items.map((s) => [s.name, s.value, s.label, s.trace_id, s.source]).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

/** `code` in a fresh Node process with the SDK set up from the environment; it ends without shutdown. */
async function runElsewhere(code) {
  const { url, apiKey } = await laminaServer();
  const script = `import { Laminar } from "lamina-js";\nLaminar.initialize();\n${code}`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, LAMINA_BASE_URL: url, LAMINA_PROJECT_API_KEY: apiKey },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return run;
}

/** Capture console.warn while `fn` runs. */
async function warnings(fn) {
  const seen = [];
  const original = console.warn;
  console.warn = (message) => seen.push(String(message));
  try {
    await fn();
  } finally {
    console.warn = original;
  }
  return seen;
}

test("a chatbot session scored from other processes before its spans, after them and per turn", async () => {
  await initialize();
  const sessionId = newId("js-scored-chat");
  // Feedback before the export does; the process exits without shutdown (the exit hook sends it).
  await runElsewhere(`Laminar.score({ name: "csat", value: 4, sessionId: ${JSON.stringify(sessionId)} });`);

  const turn = (message) => observe({ name: "turn", sessionId }, () => Laminar.getTraceId(), message);
  const traceIds = ["hi", "book a table", "thanks"].map(turn);
  await flushed();

  await runElsewhere(`
    const ids = ${JSON.stringify(traceIds)};
    Laminar.score({ name: "helpful", value: true, traceId: ids[0] });
    Laminar.score({ name: "helpful", value: false, traceId: ids[1], comment: "wrong time" });
    Laminar.score({ name: "helpful", value: 1, traceId: ids[2] });
    Laminar.endSession(${JSON.stringify(sessionId)}, "success");
    if (!(await Laminar.flush(10_000))) process.exit(3);
  `);

  const found = await scores({ session_id: sessionId });
  assert.deepEqual(
    given(found),
    given([
      { name: "csat", value: 4, label: null, trace_id: null, source: "sdk" },
      { name: "helpful", value: 1, label: null, trace_id: traceIds[0], source: "sdk" },
      { name: "helpful", value: 0, label: null, trace_id: traceIds[1], source: "sdk" },
      { name: "helpful", value: 1, label: null, trace_id: traceIds[2], source: "sdk" },
      { name: "outcome", value: 1, label: "success", trace_id: null, source: "sdk" },
    ]),
  );
  assert.equal(new Set(found.map((s) => s.score_id)).size, 5);
  const detail = await api(`/api/v1/sessions/${sessionId}`);
  assert.equal(detail.status, "ended");
});

test("score() inside an observed function scores its trace", async () => {
  await initialize();
  const [traceId, scoreId] = await observe({ name: "answer" }, async () => [
    Laminar.getTraceId(),
    Laminar.score({ name: "confidence", value: 0.8 }),
  ]);
  await flushed();
  const found = await scores({ trace_id: traceId });
  assert.deepEqual(
    found.map((s) => [s.score_id, s.name, s.value, s.session_id]),
    [[scoreId, "confidence", 0.8, null]],
  );
});

test("a score whose answer is lost is retried and stored once; one the server refuses is dropped with a warning", async () => {
  const { url, apiKey } = await laminaServer();
  // Between the SDK and the server: the first request reaches the server, but its answer
  // is cut off (as when a connection drops); the second is answered 503; the rest pass.
  let seen = 0;
  const target = new URL(url);
  const proxy = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      seen += 1;
      if (seen === 2) {
        res.writeHead(503).end();
        return;
      }
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const body = [];
          answer.on("data", (c) => body.push(c));
          answer.on("end", () => {
            if (seen === 1) req.socket.destroy();
            else res.writeHead(answer.statusCode, answer.headers).end(Buffer.concat(body));
          });
        },
      );
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  try {
    Laminar.initialize({ projectApiKey: apiKey, baseUrl: `http://127.0.0.1:${proxy.address().port}` });
    const sessionId = newId("js-retried");
    const logged = await warnings(async () => {
      for (let n = 0; n < 5; n++) Laminar.score({ name: "rating", value: n, sessionId });
      assert.equal(await Laminar.flush(10_000), true);
      assert.equal(seen, 3, "stored but unanswered, 503, then answered");
      for (let n = 5; n < 10; n++) Laminar.score({ name: "rating", value: n, sessionId });
      Laminar.score({ name: "outcome", label: "splendid", sessionId }); // not one of its categories
      for (let n = 10; n < 15; n++) Laminar.score({ name: "rating", value: n, sessionId });
      assert.equal(await Laminar.flush(10_000), false); // one was refused
    });
    const found = await scores({ session_id: sessionId });
    assert.deepEqual(found.map((s) => s.value).sort((a, b) => a - b), [...Array(15).keys()]);
    const refused = logged.filter((m) => m.includes("refused"));
    assert.equal(refused.length, 1, logged.join("\n"));
    assert.match(refused[0], /HTTP 400.*splendid/);
    assert.equal(await Laminar.flush(1000), true); // nothing left to spoil later flushes
  } finally {
    await Laminar.shutdown(500);
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
});

test("scoring never waits or throws when the server is unreachable", async () => {
  const closed = createServer();
  await new Promise((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  Laminar.initialize({ projectApiKey: "key", baseUrl: `http://127.0.0.1:${port}` });
  const logged = await warnings(async () => {
    let started = performance.now();
    for (let n = 0; n < 1000; n++) Laminar.score({ name: "rating", value: n, sessionId: "s", comment: "x".repeat(100) });
    Laminar.endSession("s", "failure");
    assert.ok(performance.now() - started < 1000);
    started = performance.now();
    assert.equal(await Laminar.flush(300), false);
    await Laminar.shutdown(300);
    assert.ok(performance.now() - started < 1500);
  });
  assert.equal(logged.filter((m) => m.includes("scores or session ends were not delivered")).length, 1);
});

test("a mistaken call is logged and dropped, never thrown", async () => {
  await initialize();
  const logged = await warnings(() => {
    assert.equal(Laminar.score({ name: "rating", value: 1 }), undefined); // no target outside a span
    assert.equal(Laminar.score({ name: "rating", value: "good", sessionId: "s" }), undefined);
    assert.equal(Laminar.score({ name: "rating", value: Number.NaN, sessionId: "s" }), undefined);
    assert.equal(Laminar.score({ name: "", value: 1, sessionId: "s" }), undefined);
    assert.equal(Laminar.score({ name: "rating", sessionId: "s" }), undefined);
    assert.equal(Laminar.score({ name: "rating", value: 1, traceId: "not-hex" }), undefined);
    assert.equal(Laminar.score(undefined), undefined);
    Laminar.endSession("");
  });
  const ignored = logged.filter((m) => m.includes("ignored"));
  assert.equal(ignored.length, 8, logged.join("\n"));
  assert.match(ignored[0], /no target.*sessionId/);
  assert.match(ignored[1], /label/);
});
