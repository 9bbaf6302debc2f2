// The Lamina server the tests send to, and reading back what arrived through
// its JSON API.
//
// Under `make test` the pytest test tests/compat/test_sdk_js.py passes a
// running `lamina serve` in LAMINA_TEST_BASE_URL and LAMINA_TEST_API_KEY.
// Without them (`npm test` in sdk-js/), each test file starts its own
// `lamina serve` on ephemeral ports and a fresh data directory, from
// LAMINA_BIN or the repository's .venv, and stops it when the file's process
// exits.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Laminar } from "lamina-js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

let started;

function spawnServer() {
  const bin = process.env.LAMINA_BIN ?? join(REPO, ".venv", "bin", "lamina");
  const dataDir = mkdtempSync(join(tmpdir(), "lamina-js-test-"));
  const child = spawn(bin, ["serve", "--data-dir", dataDir, "--port", "0", "--grpc-port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stop = () => {
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  // The server must not keep this process alive: it is stopped when the process exits.
  child.unref();
  child.stdout.unref();
  child.stderr.unref();
  return new Promise((resolve, reject) => {
    let url = "";
    let apiKey = "";
    let output = "";
    const timer = setTimeout(() => reject(new Error(`lamina serve did not start:\n${output}`)), 30_000);
    child.on("error", (error) => reject(new Error(`could not run ${bin}: ${error.message}`)));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => {
      output += text;
      url ||= /Lamina is running: (\S+)/.exec(output)?.[1] ?? "";
      apiKey ||= /API key: (lmn_\S+)/.exec(output)?.[1] ?? "";
      if (url && apiKey && output.includes("Data directory:")) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve({ url, apiKey });
      }
    });
    child.stderr.on("data", (text) => (output += text));
  });
}

/** `{ url, apiKey }` of the Lamina server to test against. */
export function laminaServer() {
  const { LAMINA_TEST_BASE_URL: url, LAMINA_TEST_API_KEY: apiKey } = process.env;
  if (url && apiKey) return Promise.resolve({ url, apiKey });
  started ??= spawnServer();
  return started;
}

/** Unique ids, so tests sharing a server never see each other's data. */
export function newId(prefix) {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** GET a JSON API route; asserts the status (200 by default) and returns the parsed body. */
export async function api(path, params = {}, status = 200) {
  const { url, apiKey } = await laminaServer();
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined));
  const response = await fetch(`${url}${path}${query.size ? `?${query}` : ""}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  const body = await response.json();
  assert.equal(response.status, status, `${path}: ${JSON.stringify(body)}`);
  return body;
}

/** Every span ended so far is stored (the server acknowledges after commit). */
export async function flushed() {
  assert.equal(await Laminar.flush(10_000), true, "Laminar.flush() did not deliver everything");
}

export async function session(sessionId) {
  await flushed();
  return api(`/api/v1/sessions/${encodeURIComponent(sessionId)}`);
}

export async function trace(traceId) {
  await flushed();
  return api(`/api/v1/traces/${traceId}`);
}

export async function traces(filters) {
  await flushed();
  return (await api("/api/v1/traces", { limit: 500, ...filters })).items;
}

export function spansByName(detail) {
  return Object.fromEntries(detail.spans.map((span) => [span.name, span]));
}

/** Laminar initialised against the test server (extra options merged in). */
export async function initialize(options = {}) {
  const { url, apiKey } = await laminaServer();
  Laminar.initialize({ projectApiKey: apiKey, baseUrl: url, ...options });
}
