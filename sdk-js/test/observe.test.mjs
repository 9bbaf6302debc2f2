// observe(): the span it makes for one call, against a real `lamina serve`:
// input, output, nesting, errors, span types, metadata and tags.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Laminar, observe } from "lamina-js";

import { initialize, newId, session, spansByName, trace } from "./support/server.mjs";

before(() => initialize());
after(() => Laminar.shutdown());

/** Run `fn` as the body of a top-level observe in a new session; the session and its only trace. */
async function traced(fn) {
  const sessionId = newId("observe");
  await observe({ name: "root", sessionId }, fn);
  const result = await session(sessionId);
  assert.equal(result.trace_count, 1);
  return trace(result.traces[0].trace_id);
}

test("the input is the argument, the arguments, or options.input; the output what it returns", async () => {
  const detail = await traced(async () => {
    observe({ name: "none" }, () => undefined);
    observe({ name: "one" }, (x) => x * 2, 21);
    observe({ name: "many" }, (a, b, c) => [a, b, c].join("-"), "a", 2, { c: true });
    observe({ name: "explicit", input: { prompt: "hi" } }, (secret) => secret.length, "password");
    observe({ name: "ignored", ignoreInput: true, ignoreOutput: true }, (s) => s, "secret");
    observe({ name: "generator" }, function* numbers() { yield 1; });
    await observe({ name: "async" }, async (question) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return { answer: `re: ${question}` };
    }, "why?");
  });
  const spans = spansByName(detail);
  const io = (name) => [spans[name].input, spans[name].output];
  assert.deepEqual(io("none"), [null, null]);
  assert.deepEqual(io("one"), ["21", "42"]);
  assert.deepEqual(io("many"), ['["a",2,{"c":true}]', '"a-2-[object Object]"']);
  assert.deepEqual(io("explicit"), ['{"prompt":"hi"}', "8"]);
  assert.deepEqual(io("ignored"), [null, null]);
  assert.deepEqual(io("generator"), [null, null]);
  assert.deepEqual(io("async"), ['"why?"', '{"answer":"re: why?"}']);
});

test("values JSON cannot write are recorded safely", async () => {
  const cycle = { name: "loop" };
  cycle.self = cycle;
  const detail = await traced(() => {
    observe({ name: "odd" }, () => "ok", {
      big: 12345678901234567890n,
      map: new Map([["k", 1]]),
      set: new Set([1, 2]),
      when: new Date("2025-01-02T03:04:05Z"),
      fn: function helper() {},
      error: new TypeError("bad"),
      cycle,
    });
  });
  assert.deepEqual(JSON.parse(spansByName(detail).odd.input), {
    big: "12345678901234567890",
    map: { k: 1 },
    set: [1, 2],
    when: "2025-01-02T03:04:05.000Z",
    fn: "<function helper>",
    error: { name: "TypeError", message: "bad" },
    cycle: { name: "loop", self: "<lamina: reference cycle>" },
  });
});

test("spans started inside are children, through await and in parallel", async () => {
  const detail = await traced(async () => {
    await observe({ name: "step" }, async () => {
      await Promise.all(
        ["a", "b", "c"].map((label) =>
          observe({ name: `leaf-${label}` }, async () => {
            await new Promise((resolve) => setTimeout(resolve, 3));
            return label;
          }),
        ),
      );
    });
  });
  const spans = spansByName(detail);
  assert.equal(detail.span_count, 5);
  assert.equal(spans.step.parent_span_id, spans.root.span_id);
  for (const label of ["a", "b", "c"]) assert.equal(spans[`leaf-${label}`].parent_span_id, spans.step.span_id);
});

test("an error is recorded on the span and re-thrown unchanged, sync and async", async () => {
  const sessionId = newId("errors");
  const syncError = new RangeError("out of range");
  const asyncError = new Error("rejected");
  assert.throws(
    () => observe({ name: "throws", sessionId }, () => { throw syncError; }),
    (error) => error === syncError,
  );
  await assert.rejects(
    observe({ name: "rejects", sessionId }, async () => { throw asyncError; }),
    (error) => error === asyncError,
  );
  const result = await session(sessionId);
  assert.equal(result.error_count, 2);
  assert.deepEqual(result.traces.map((t) => [t.name, t.status]), [["throws", "error"], ["rejects", "error"]]);
  const span = (await trace(result.traces[0].trace_id)).spans[0];
  assert.equal(span.status_message, "RangeError: out of range");
  const exception = span.events.find((e) => e.name === "exception");
  assert.equal(exception.attributes["exception.type"], "RangeError");
  assert.equal(exception.attributes["exception.message"], "out of range");
});

test("span types; an unknown one is a TypeError before the function runs", async () => {
  const detail = await traced(() => {
    observe({ name: "tool", spanType: "TOOL" }, () => 1);
    observe({ name: "llm", spanType: "llm" }, () => 1);
    observe({ name: "default" }, () => 1);
  });
  const spans = spansByName(detail);
  assert.deepEqual(
    ["root", "tool", "llm", "default"].map((name) => spans[name].span_type),
    ["DEFAULT", "TOOL", "LLM", "DEFAULT"],
  );
  let ran = false;
  assert.throws(() => observe({ spanType: "CHAIN" }, () => { ran = true; }), TypeError);
  assert.equal(ran, false);
});

test("userId, metadata and tags apply to the trace; the span is named after the function by default", async () => {
  const sessionId = newId("meta");
  async function checkout(cart) {
    return observe({ name: "charge", tags: ["payments"] }, () => cart.total);
  }
  await observe(
    { sessionId, userId: "user-7", metadata: { plan: "pro", seats: 3 }, tags: ["checkout"] },
    checkout,
    { total: 42 },
  );
  const result = await session(sessionId);
  assert.deepEqual(result.user_ids, ["user-7"]);
  const [t] = result.traces;
  assert.equal(t.name, "checkout");
  assert.deepEqual(t.metadata, { plan: "pro", seats: "3" });
  assert.deepEqual([...t.tags].sort(), ["checkout", "payments"]);
  const spans = spansByName(await trace(t.trace_id));
  assert.deepEqual(spans.charge.tags, ["checkout", "payments"]);
  assert.equal(spans.charge.user_id, "user-7");
});

test("a sync function stays sync: observe returns its value, not a promise", () => {
  const value = observe({ name: "sync" }, (a, b) => a + b, 2, 3);
  assert.equal(value, 5);
});
