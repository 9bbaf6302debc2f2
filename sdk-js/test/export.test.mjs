// Export: OTLP/HTTP protobuf with gzip and the Bearer key; flush and shutdown;
// and the application never suffers when the server is down, hangs or refuses.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

import { Laminar, observe } from "lamina-js";

import { laminaServer, newId, session, trace } from "./support/server.mjs";

const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));
after(async () => {
  await Laminar.shutdown(1000);
  assert.deepEqual(unhandled, []);
});

/** A local HTTP server answering every request with `handler`; `{ url, requests, close }`. */
async function listen(handler) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      handler(req, res);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

async function timed(fn) {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** An address where nothing listens. */
async function closedPort() {
  const probe = await listen(() => {});
  await probe.close();
  return probe.url;
}

test("spans go out as gzipped OTLP/HTTP protobuf to /v1/traces with the Bearer key", async () => {
  const capture = await listen((req, res) => {
    res.writeHead(200, { "content-type": "application/x-protobuf" });
    res.end();
  });
  Laminar.initialize({ projectApiKey: "lmn_wire_check", baseUrl: `${capture.url}/` });
  observe({ name: "wire-check-span", sessionId: "wire-check-session" }, () => 1);
  assert.equal(await Laminar.flush(), true);
  await Laminar.shutdown();
  await capture.close();

  assert.equal(capture.requests.length, 1);
  const [request] = capture.requests;
  assert.equal(request.method, "POST");
  assert.equal(request.url, "/v1/traces");
  assert.equal(request.headers["content-type"], "application/x-protobuf");
  assert.equal(request.headers["content-encoding"], "gzip");
  assert.equal(request.headers.authorization, "Bearer lmn_wire_check");
  const body = gunzipSync(request.body).toString("latin1"); // protobuf strings are raw bytes
  assert.ok(body.includes("wire-check-span") && body.includes("wire-check-session"));
});

test("server down: the application runs on, flush says false, one warning, shutdown ends", async (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  Laminar.initialize({ projectApiKey: "lmn_x", baseUrl: await closedPort() });
  const results = [];
  for (let i = 0; i < 20; i += 1) results.push(await observe({ name: "work" }, async (n) => n * n, i));
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i * i));

  const flushTime = await timed(async () => assert.equal(await Laminar.flush(1000), false));
  observe({ name: "more work" }, () => 1);
  assert.equal(await Laminar.flush(300), false);
  const shutdownTime = await timed(() => Laminar.shutdown(500));
  assert.ok(flushTime > 900 && flushTime < 3000, `flush(1000) took ${flushTime} ms`);
  assert.ok(shutdownTime < 2500, `shutdown(500) took ${shutdownTime} ms`);

  const messages = warn.mock.calls.map((call) => String(call.arguments[0]));
  assert.ok(messages.filter((m) => m.includes("could not export")).length <= 1, messages.join("\n"));
  const summaries = messages.filter((m) => m.includes("were not delivered"));
  assert.equal(summaries.length, 1, messages.join("\n"));
  assert.match(summaries[0], /^Lamina: 21 spans were not delivered to http:\/\/127\.0\.0\.1:\d+\/v1\/traces/);
});

test("a server that never answers: flush and shutdown return in their time", async (t) => {
  t.mock.method(console, "warn", () => {});
  const silent = await listen(() => {}); // reads the request, never answers
  Laminar.initialize({ projectApiKey: "lmn_x", baseUrl: silent.url, exportTimeoutMillis: 1500 });
  assert.equal(observe({ name: "work" }, () => "done"), "done");
  let started = performance.now();
  assert.equal(await Laminar.flush(300), false);
  assert.ok(performance.now() - started < 1000, "flush(300) overran");
  started = performance.now();
  await Laminar.shutdown(300);
  assert.ok(performance.now() - started < 2000, "shutdown(300) overran");
  await silent.close();
});

test("a wrong key: the server's refusal is reported once, the application is unaffected", async (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  const { url } = await laminaServer();
  Laminar.initialize({ projectApiKey: "lmn_not_a_key", baseUrl: url });
  assert.equal(observe({ name: "work" }, () => 3), 3);
  assert.equal(await Laminar.flush(), false);
  await Laminar.shutdown();
  const failures = warn.mock.calls.map((c) => String(c.arguments[0])).filter((m) => m.includes("could not export"));
  assert.equal(failures.length, 1);
  assert.match(failures[0], /401|Unauthorized/i);
});

test("flush waits for a batch already on its way, and reports it delivered", async () => {
  const { url, apiKey } = await laminaServer();
  Laminar.initialize({ projectApiKey: apiKey, baseUrl: url });
  const sessionId = newId("inflight");
  // 600 spans: more than a batch (512), so one export starts before flush is called.
  Laminar.withSession({ sessionId }, () => {
    for (let i = 0; i < 600; i += 1) observe({ name: "many" }, () => i);
  });
  assert.equal(await Laminar.flush(), true);
  const result = await session(sessionId);
  assert.equal(result.trace_count, 600);
  await Laminar.shutdown();
});

function runExitingApp(env) {
  const script = fileURLToPath(new URL("./support/exiting-app.mjs", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout: stdout.trim(), stderr }));
  });
}

test("a script that ends without shutdown() still delivers its spans", async () => {
  const { url, apiKey } = await laminaServer();
  const sessionId = newId("exit");
  const run = await runExitingApp({ LAMINA_BASE_URL: url, LAMINA_PROJECT_API_KEY: apiKey, SESSION_ID: sessionId });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^exit-wait-ms: \d+\n$/); // and nothing else
  const detail = await trace(run.stdout);
  assert.equal(detail.session_id, sessionId);
  assert.equal(detail.name, "lastWords");
});

test("a script whose server is down exits promptly, with exit code 0", async () => {
  const run = await runExitingApp({
    LAMINA_BASE_URL: await closedPort(),
    LAMINA_PROJECT_API_KEY: "lmn_x",
    SESSION_ID: "nowhere",
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^[0-9a-f]{32}$/);
  assert.match(run.stderr, /1 spans were not delivered|could not export 1 spans/);
  // It waited about 0.5 s for the unreachable server, not the 5 s it gives a live one.
  const waited = Number(/exit-wait-ms: (\d+)/.exec(run.stderr)[1]);
  assert.ok(waited < 2000, `the exit hook waited ${waited} ms`);
});
