// Set-up: before initialize nothing is traced and nothing breaks; settings come
// from the options, then the environment, then defaults, and a setting the SDK
// cannot use fails at initialize with a message saying how to fix it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";

import { LaminaConfigError, Laminar, SPAN_TYPES, VERSION, observe } from "lamina-js";

import { laminaServer, newId, session, trace } from "./support/server.mjs";

const ENV = ["LAMINA_PROJECT_API_KEY", "LAMINA_BASE_URL", "LAMINA_MAX_PAYLOAD_CHARS"];
const saved = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));

function restoreEnv() {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

after(async () => {
  restoreEnv();
  await Laminar.shutdown();
});

test("before initialize: observe runs the function untraced, flush and shutdown resolve", async () => {
  assert.equal(Laminar.isInitialized(), false);
  assert.equal(observe({ name: "early" }, (x) => x * 2, 21), 42);
  assert.equal(await observe({ name: "early" }, async () => "async"), "async");
  assert.equal(Laminar.withSession({ sessionId: "s" }, () => "in session"), "in session");
  assert.equal(Laminar.getTraceId(), undefined);
  assert.equal(await Laminar.flush(), true);
  await Laminar.shutdown();
});

test("a setting the SDK cannot use is a LaminaConfigError saying how to fix it", () => {
  delete process.env.LAMINA_PROJECT_API_KEY;
  delete process.env.LAMINA_BASE_URL;
  const fails = (options, pattern) =>
    assert.throws(
      () => Laminar.initialize(options),
      (error) => error instanceof LaminaConfigError && pattern.test(error.message),
    );
  fails({}, /no project API key: pass projectApiKey .* or set LAMINA_PROJECT_API_KEY/);
  fails({ projectApiKey: "  " }, /no project API key/);
  fails({ projectApiKey: "k", baseUrl: "localhost:5667" }, /did you mean 'http:\/\/localhost:5667'/);
  fails({ projectApiKey: "k", baseUrl: "ftp://host" }, /not an http:\/\/ or https:\/\/ URL/);
  fails({ projectApiKey: "k", baseUrl: "http://host/?x=1" }, /must not have a query/);
  fails({ projectApiKey: "k", maxPayloadChars: 0 }, /maxPayloadChars must be a positive number/);
  process.env.LAMINA_MAX_PAYLOAD_CHARS = "lots";
  fails({ projectApiKey: "k" }, /LAMINA_MAX_PAYLOAD_CHARS="lots" is not a number/);
  delete process.env.LAMINA_MAX_PAYLOAD_CHARS;
  assert.equal(Laminar.isInitialized(), false);
  restoreEnv();
});

test("the key and URL from the environment; a URL copied with /v1/traces works too", async () => {
  const { url, apiKey } = await laminaServer();
  process.env.LAMINA_PROJECT_API_KEY = apiKey;
  process.env.LAMINA_BASE_URL = `${url}/v1/traces/`;
  Laminar.initialize();
  const sessionId = newId("env");
  observe({ name: "fromEnv", sessionId }, () => 1);
  assert.equal((await session(sessionId)).traces[0].name, "fromEnv");
  await Laminar.shutdown();
  restoreEnv();
});

test("inputs and outputs longer than maxPayloadChars are cut, and say how long they were", async () => {
  const { url, apiKey } = await laminaServer();
  Laminar.initialize({ projectApiKey: apiKey, baseUrl: url, maxPayloadChars: 50 });
  const long = "x".repeat(500);
  let id;
  observe({ name: "big" }, (text) => {
    id = Laminar.getTraceId();
    Laminar.setSpanOutput({ text }); // the function returns nothing, so this is the output
  }, long);
  const [span] = (await trace(id)).spans;
  assert.equal(span.input, JSON.stringify(`${"x".repeat(50)}... [truncated by lamina: 500 characters in all, limit 50]`));
  assert.match(JSON.parse(span.output), /^\{"text":"x{41}\.\.\. \[truncated by lamina: 511 characters in all, limit 50\]$/);
  await Laminar.shutdown();
});

test("the package's version and span types", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.equal(VERSION, pkg.version);
  assert.deepEqual([...SPAN_TYPES].sort(), ["DEFAULT", "EVALUATION", "EVALUATOR", "EXECUTOR", "LLM", "PIPELINE", "TOOL"]);
});
