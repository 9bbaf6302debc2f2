// The CommonJS build: require("lamina-js") gives the same SDK, sharing its
// state with the ES module build loaded in the same process.

const assert = require("node:assert/strict");
const { randomBytes } = require("node:crypto");
const { after, before, test } = require("node:test");

const { Laminar, observe, LaminaConfigError, VERSION } = require("lamina-js");

let server;

before(async () => {
  server = await (await import("./support/server.mjs")).laminaServer();
  Laminar.initialize({ projectApiKey: server.apiKey, baseUrl: server.url });
});
after(() => Laminar.shutdown());

test("require() loads the CommonJS build, which traces into a session", async () => {
  assert.equal(typeof VERSION, "string");
  assert.equal(typeof LaminaConfigError, "function");
  const sessionId = `cjs-${randomBytes(5).toString("hex")}`;
  const value = await Laminar.withSession({ sessionId }, () =>
    observe({ name: "fromCommonJS" }, async (x) => x + 1, 41),
  );
  assert.equal(value, 42);
  assert.equal(await Laminar.flush(), true);
  const response = await fetch(`${server.url}/api/v1/sessions/${sessionId}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  const result = await response.json();
  assert.equal(result.trace_count, 1);
  assert.equal(result.traces[0].name, "fromCommonJS");
  assert.equal(result.traces[0].output_preview, "42");
});

test("the ES module build in the same process sees the same set-up and context", async () => {
  const esm = await import("lamina-js");
  assert.notEqual(esm.Laminar, Laminar); // two builds, two classes...
  assert.equal(esm.Laminar.isInitialized(), true); // ...one state
  const sessionId = `cjs-esm-${randomBytes(5).toString("hex")}`;
  Laminar.withSession({ sessionId }, () => esm.observe({ name: "esmInsideCjsSession" }, () => 1));
  assert.equal(await esm.Laminar.flush(), true);
  const response = await fetch(`${server.url}/api/v1/sessions/${sessionId}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  assert.equal((await response.json()).traces[0].name, "esmInsideCjsSession");
});
